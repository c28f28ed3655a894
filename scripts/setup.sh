#!/usr/bin/env bash
# Create .venv with the exact pins of requirements/main.lock and install ganon (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
STAMP=.venv/.lock-$(sha256sum requirements/main.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ]; then
  [ -d .venv ] || "$PY" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements/main.lock 2>&1 | grep -v "is ignored" || true
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import torch, mediapipe, cv2, sklearn, ganon" 
  rm -f .venv/.lock-*; touch "$STAMP"
fi
.venv/bin/python -c "from ganon.data.samples import ensure_samples; ensure_samples('samples')"
bash scripts/fetch_mathjax.sh
