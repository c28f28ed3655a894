"""What the notebooks show: the model card summary, paths made relative, tables in full, MathJax offline."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from ganon import book
from ganon.book.build import bundled_mathjax
from ganon.visualize import model_card
from ganon.weights import shipped_weights

REPO = Path(__file__).resolve().parents[1]
ABSOLUTE = re.compile(r"(?<![\w.:/~-])/(?:[\w.+@-]+/)+")


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


def _html(shell: InteractiveShell, show, *args, **kwargs) -> str:
    with capture_output() as captured:
        show(*args, **kwargs)
    return "\n".join(o.data.get("text/html", o.data.get("text/markdown", "")) for o in captured.outputs)


def test_model_card_summary_shows_about_ten_key_rows_of_the_shipped_card() -> None:
    weights = shipped_weights()["ganon-synth-128"]
    card = model_card(weights)
    assert len(card) > 20  # the full card is long
    summary = book.model_card_summary(card, source=weights.with_suffix(".json").resolve())
    assert list(summary.columns) == ["field", "value"] and 8 <= len(summary) <= 14
    values = summary.set_index("field")["value"]
    assert values["name"] == "ganon-synth-128" and values["parameters"] == f"{card['parameters']:,}"
    assert values["identity changed"].startswith("95.5 % of 88 faces")
    assert "L1 weight 30" in values["training"]
    assert values["full card"] == "ganon/weights_data/ganon-synth-128.json"  # relative to the book root
    assert not any(ABSOLUTE.search(v) for v in summary["value"])  # the card's data.dir is not shown
    assert card["data"]["dir"] == "runs/pairs128"  # committed cards name the run folder, not this machine's
    bare = book.model_card_summary({"name": "x", "trained": False})
    assert bare.to_dict("list") == {"field": ["name", "trained"], "value": ["x", "no: random weights"]}


def test_shown_text_makes_absolute_paths_relative_and_leaves_the_rest() -> None:
    inside = str(Path.cwd() / "runs" / "book" / "t.csv")
    assert book.shown_text(f"wrote {inside}.") == "wrote runs/book/t.csv."
    assert book.shown_text("read /srv/build-host/data/pairs128 at 84/88") == "read …/pairs128 at 84/88"
    kept = "https://github.com/a/b, ratio a/b, ~/x, (ours / paper)"
    assert book.shown_text(kept) == kept
    assert book.shown_text(3.5) == 3.5


def test_show_table_and_comparisons_show_no_machine_path(shell: InteractiveShell, tmp_path: Path) -> None:
    frame = pd.DataFrame({"file": [str(tmp_path / "a" / "b.csv"), None], "v": [1.23456, 2.0]})
    html = _html(shell, book.show_table, frame)
    assert "…/b.csv" in html and str(tmp_path) not in html and "1.235" in html and "None" not in html
    book.record_absent(tmp_path, "table4", f"no labels under {tmp_path / 'data' / 'affectnet'}")
    html = _html(shell, book.show_comparison, book.compare_table("table4", results_dir=tmp_path))
    assert "Paper Table 4" in html and "…/affectnet" in html and str(tmp_path) not in html


def test_profiles_name_registered_backends(tmp_path: Path) -> None:
    good = yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text())
    (tmp_path / "profiles").mkdir()
    bad = {**good, "name": "bad", "models": {**good["models"], "identity": "facenet"}}
    (tmp_path / "profiles" / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(book.ProfileError, match=r"(?s)bad\.yaml.*unknown identity backend 'facenet'.*dlib"):
        book.load_profile("bad", root=tmp_path)
    style = {**good, "name": "style", "models": {**good["models"], "landmark_style": "author"}}
    (tmp_path / "profiles" / "style.yaml").write_text(yaml.safe_dump(style))
    with pytest.raises(book.ProfileError, match=r"unknown landmark_style 'author'; available: authors, paper"):
        book.load_profile("style", root=tmp_path)


def test_the_book_loads_the_bundled_mathjax_not_a_cdn(tmp_path: Path) -> None:
    sphinx = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"]
    assert not re.match(r"^(https?:)?//", sphinx["mathjax_path"]), "MathJax must not come from a CDN"
    # a book whose bundled MathJax is missing refuses to build, naming the file and the fix
    config = {"title": "t", "sphinx": {"config": {"html_static_path": ["book/_static"],
                                                  "mathjax_path": "mathjax/tex-chtml.js"}}}
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro"}))
    with pytest.raises(book.BookBuildError, match=r"book/_static/mathjax/tex-chtml\.js.*fetch_mathjax\.sh"):
        book.build_book(root=tmp_path, echo=lambda line: None)
    if not (REPO / "book" / "_static" / sphinx["mathjax_path"]).is_file():
        pytest.skip("MathJax is not bundled in this checkout; run scripts/fetch_mathjax.sh")
    script = bundled_mathjax(REPO)
    assert script == REPO / "book" / "_static" / "mathjax" / "tex-chtml.js"
    assert (script.parent / "output" / "chtml" / "fonts" / "woff-v2").is_dir()  # its fonts load offline too
    page = REPO / "_build" / "html" / "book" / "generated" / "3_4_resynthesis.html"
    if page.is_file():  # a built book: the chapter with equations loads the bundled script, nothing else
        scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', page.read_text(encoding="utf-8"))
        assert scripts and all(s.startswith("../../_static/mathjax/tex-chtml.js") for s in scripts), scripts


def test_pairing_writes_the_configured_repository_into_the_colab_notebooks(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config["repository"] = {"url": "https://github.com/a-fork/ganon", "branch": "dev"}
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "_toc.yml").write_text((REPO / "_toc.yml").read_text())
    (tmp_path / "notebooks").mkdir()
    source = REPO / "notebooks" / "4_1_anonymization.py"
    (tmp_path / "notebooks" / source.name).write_text(source.read_text())
    (paired,) = book.pair_notebooks(tmp_path)
    text = paired.read_text()
    assert 'repository_url = \\"https://github.com/a-fork/ganon\\"' in text
    assert "ganon-project" not in text
