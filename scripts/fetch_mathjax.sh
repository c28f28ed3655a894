#!/usr/bin/env bash
# Bundle MathJax 3 into the book (book/_static/mathjax/), so equations render without a CDN.
# Taken from the npm registry by exact version and checked against its sha256; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.2.2
SHA256=1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
TARGET=book/_static/mathjax
[ -f "$TARGET/.version-$VERSION" ] && exit 0
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "mathjax@$VERSION" >/dev/null)
echo "$SHA256  $WORK/mathjax-$VERSION.tgz" | sha256sum -c --quiet
tar xzf "$WORK/mathjax-$VERSION.tgz" -C "$WORK"
rm -rf "$TARGET"
mkdir -p "$TARGET/output/chtml/fonts"
cp "$WORK/package/es5/tex-chtml.js" "$WORK/package/LICENSE" "$TARGET/"
cp -r "$WORK/package/es5/output/chtml/fonts/woff-v2" "$TARGET/output/chtml/fonts/"
touch "$TARGET/.version-$VERSION"
