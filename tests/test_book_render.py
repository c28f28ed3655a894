"""The REAL rendered book in headless Chromium: every toc chapter shows its title, images load,
and a screenshot of the reproduction report is kept under ``_build/screenshots/``.

Needs a built book (``ganon book all --profile smoke``) and Chromium
(``apt-get install -y chromium``, executable ``/usr/bin/chromium``); skips otherwise.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from ganon.book import toc_entries

pytestmark = [pytest.mark.browser, pytest.mark.book]

REPO = Path(__file__).resolve().parents[1]
HTML = REPO / "_build" / "html"
SCREENSHOTS = REPO / "_build" / "screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if not (HTML / "index.html").is_file():
        pytest.skip(f"{HTML} has no built book; run `ganon book all --profile smoke` first")
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium not found; install it with `apt-get install -y chromium`")
    profile_dir = tmp_path_factory.mktemp("chromium-profile")

    def run(url: str, *extra: str) -> str:
        proc = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *extra, url],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"chromium failed on {url}: {proc.stderr[-2000:]}"
        return proc.stdout

    return run


class _Headings(HTMLParser):
    """Collects the <title> and the text of every <h1>, without the '#' permalink."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.h1: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self._in: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self.title:  # the page's; inline SVG icons have their own <title>
            self._in = tag
        elif tag == "h1":
            self._in = tag
            if tag == "h1":
                self.h1.append("")
        elif tag == "a" and self._in == "h1" and ("class", "headerlink") in attrs:
            self._skip += 1
        elif tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.images.append(src)
        if tag == "a" and dict(attrs).get("href"):
            self.links.append(str(dict(attrs)["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None
        elif tag == "a" and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "h1" and not self._skip:
            self.h1[-1] += data


def _plain(text: str) -> str:
    """Undo Sphinx's smart quotes and dashes so titles compare as written in the source."""
    table = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "--", "\u2014": "---"}
    return "".join(table.get(ch, ch) for ch in html.unescape(text)).strip()


def _expected_title(entry: str) -> str:
    source = REPO / entry
    if source.with_suffix(".md").is_file():
        lines = source.with_suffix(".md").read_text(encoding="utf-8").splitlines()
    else:
        nb = nbformat.read(str(source.with_suffix(".ipynb")), as_version=4)
        lines = [ln for c in nb.cells if c.cell_type == "markdown" for ln in c.source.splitlines()]
    return next(ln[2:].strip() for ln in lines if ln.startswith("# "))


def _toc_entries() -> list[str]:
    return [e.removesuffix(".md").removesuffix(".ipynb") for e in toc_entries(REPO)]


@pytest.fixture(scope="module")
def pages(browser) -> dict[str, _Headings]:
    parsed = {}
    for entry in _toc_entries():
        page = HTML / f"{entry}.html"
        assert page.is_file(), f"{entry} is listed in _toc.yml but {page} was not rendered"
        dom = _Headings()
        dom.feed(browser(page.as_uri(), "--dump-dom"))
        parsed[entry] = dom
    return parsed


def test_every_toc_chapter_renders_with_its_title(pages: dict[str, _Headings]) -> None:
    assert len(pages) == len(_toc_entries()) >= 13
    for entry, dom in pages.items():
        title = _expected_title(entry)
        assert _plain(dom.title).startswith(title), (entry, dom.title)
        assert any(_plain(h) == title for h in dom.h1), (entry, dom.h1)


def test_chapters_link_to_their_paired_notebook_in_colab(pages: dict[str, _Headings]) -> None:
    from ganon.book import colab_url

    linked = 0
    for entry, dom in pages.items():
        stem = Path(entry).name
        source = REPO / "notebooks" / f"{stem}.py"
        if not entry.startswith("book/generated/") or "google.colab" not in source.read_text():
            continue
        url = colab_url(REPO, stem)
        assert url in dom.links, (entry, [link for link in dom.links if "colab" in link])
        # the link's target is the committed notebook beside the source
        assert url.endswith(f"/notebooks/{stem}.ipynb") and (REPO / "notebooks" / f"{stem}.ipynb").is_file()
        linked += 1
    assert linked >= 7  # every section chapter; the report does not install itself


def test_images_exist_and_load_in_the_browser(pages: dict[str, _Headings], browser, tmp_path: Path) -> None:
    report = "book/generated/5_reproduction_report"
    assert len(pages[report].images) >= 2, "the report draws Figures 7 and 9 from the paper's tables"
    files = []
    for entry, dom in pages.items():
        for src in dom.images:
            if src.startswith(("http:", "https:", "data:")):
                continue
            path = ((HTML / entry).parent / src.split("#")[0].split("?")[0]).resolve()
            assert path.is_file() and path.stat().st_size > 0, f"{entry}: image {src} is missing"
            with Image.open(path) as image:
                assert min(image.size) > 0
            files.append(path)
    # the browser itself must decode them: a page of the same images reports each natural size
    probe = tmp_path / "probe.html"
    tags = "".join(f'<img src="{p.as_uri()}">' for p in files)
    probe.write_text(
        f"<html><body>{tags}<script>window.addEventListener('load', () => document.body.setAttribute("
        "'data-sizes', JSON.stringify([...document.images].map(i => i.naturalWidth * i.naturalHeight))));"
        "</script></body></html>")
    dom = browser(probe.as_uri(), "--allow-file-access-from-files", "--virtual-time-budget=10000",
                  "--dump-dom")
    start = dom.index("data-sizes=") + len("data-sizes=") + 1
    sizes = json.loads(html.unescape(dom[start:dom.index('"', start)]))
    assert len(sizes) == len(files) and all(s > 0 for s in sizes), sizes


def test_screenshot_of_the_reproduction_report(browser) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / "5_reproduction_report.png"
    target.unlink(missing_ok=True)
    page = HTML / "book" / "generated" / "5_reproduction_report.html"
    browser(page.as_uri(), f"--screenshot={target}", "--window-size=1280,3000", "--hide-scrollbars",
            "--virtual-time-budget=5000")
    with Image.open(target) as image:
        assert image.size == (1280, 3000)
        low, high = image.convert("L").getextrema()
        assert high - low > 100, "the screenshot is blank"
