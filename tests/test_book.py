"""The book driver: profiles, the toc, input keys, the report helpers, and run/build on a tiny real book."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from ganon import book

REPO = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------------------------
# Fast tests on the real files


def test_real_profiles_validate_with_the_briefed_models() -> None:
    smoke = book.load_profile("smoke", root=REPO)
    paper = book.load_profile("paper", root=REPO)
    assert (smoke.device, smoke.dataset) == ("cpu", "samples")
    assert smoke.models.model_dump() | {} == {
        "detector": "retinaface-mobilenet", "segmenter": "mediapipe-head", "landmark_style": "authors",
        "generator": "ganon-synth-128", "identity": "dlib", "emotion": "fer", "attributes": "age-gender",
        "classifier": "paper", "classifier_backbone": None, "identity_models": ["dlib", "sface"],
    }
    assert (paper.device, paper.dataset) == ("cuda", "paper")
    assert (paper.models.detector, paper.models.segmenter, paper.models.identity, paper.models.emotion,
            paper.models.attributes) == ("retinaface-resnet50", "head-unet", "facenet512", "convnext",
                                         "celeba-convnext")
    assert paper.models.classifier_backbone == "timm-convnext-base-in1k"  # a weights manifest
    assert paper.sizes.max_images is None and paper.sizes.gan_epochs == 25 and paper.sizes.batch_size == 32
    assert set(paper.datasets) == {"celeba", "wider", "affectnet", "ckplus", "faces"}
    # every notebook of the toc has a GPU-hour estimate in the paper profile
    assert set(book.toc_notebooks(REPO)) <= set(paper.expected_gpu_hours)


def test_profile_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    good = yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text())
    (tmp_path / "profiles" / "typo.yaml").write_text(yaml.safe_dump({**good, "name": "typo", "devcie": "cpu"}))
    with pytest.raises(book.ProfileError, match=r"(?s)typo\.yaml.*devcie"):
        book.load_profile("typo", root=tmp_path)
    (tmp_path / "profiles" / "other.yaml").write_text(yaml.safe_dump(good))
    with pytest.raises(book.ProfileError, match="differs from the file name"):
        book.load_profile("other", root=tmp_path)
    with pytest.raises(book.ProfileError, match="available: other, typo"):
        book.load_profile("absent", root=tmp_path)
    with pytest.raises(book.ProfileError, match="needs a 'datasets' mapping"):
        (tmp_path / "profiles" / "p.yaml").write_text(yaml.safe_dump({**good, "name": "p", "dataset": "paper"}))
        book.load_profile("p", root=tmp_path)


def test_parameters_are_relative_and_merge_notebook_overrides(tmp_path: Path) -> None:
    paper = book.load_profile("paper", root=REPO)
    profile = paper.model_copy(update={"notebooks": {"4_1_anonymization": {"sizes": {"max_images": 5}}}})
    params = profile.parameters("4_1_anonymization", root=tmp_path, data_dir=tmp_path / "data",
                                results_dir=tmp_path / "runs" / "r", samples_dir=Path("/elsewhere/samples"),
                                run_record=tmp_path / "book" / "generated" / "run_record.json")
    assert params["profile"] == "paper" and params["device"] == "cuda"
    assert params["results_dir"] == "runs/r" and params["samples_dir"] == "/elsewhere/samples"
    assert params["datasets"]["wider"] == {"manifest": "wider-face", "data_dir": "data/wider-face"}
    assert params["sizes"]["max_images"] == 5 and params["sizes"]["batch_size"] == 32  # deep merge
    other = profile.parameters("4_2_expression", root=tmp_path, data_dir=tmp_path / "data",
                               results_dir=tmp_path / "r", samples_dir=tmp_path / "s", run_record=tmp_path / "x")
    assert other["sizes"]["max_images"] is None


def test_real_toc_lists_every_section_in_paper_order() -> None:
    assert book.toc_notebooks(REPO) == [
        "3_1_face_extraction", "3_2_segmentation", "3_3_landmarks", "3_4_resynthesis",
        "4_1_anonymization", "4_2_expression", "4_3_attributes", "5_reproduction_report",
        "6_1_attacks", "6_2_video",
    ]
    assert book.stem_title("3_1_face_extraction") == "3.1 Face extraction"
    assert book.stem_title("5_reproduction_report") == "5 Reproduction report"
    assert book.stem_title("6_1_attacks") == "6.1 Attacks"


def test_real_config_is_offline_and_names_the_repository_in_one_file() -> None:
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["repository"]["url"] == "https://github.com/ganon-project/ganon"
    # no launch buttons (they would open book/generated/*.ipynb, which git does not hold): chapters link
    # to their paired notebooks/<stem>.ipynb instead (test_notebooks_install_from_the_configured_repository)
    assert not config["launch_buttons"]["colab_url"]
    for pattern in (".*", "**/.*", "_build", "notebooks/**", "ganon/**", "tests/**", ".venv/**"):
        assert pattern in config["exclude_patterns"]
    assert not config["launch_buttons"].get("thebe") and not config["launch_buttons"].get("binderhub_url")
    text = "\n".join(p.read_text() for p in [REPO / "_config.yml", *sorted((REPO / "book").glob("*.md"))])
    assert text.count("github.com/ganon-project/ganon") == 1


def test_tree_digest_follows_content_not_timestamps(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    module = tmp_path / "pkg" / "m.py"
    module.write_text("x = 1\n")
    first = book.tree_digest(tmp_path, ["pkg"])
    os.utime(module, (1, 1))
    (tmp_path / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"cache")
    assert book.tree_digest(tmp_path, ["pkg"]) == first
    module.write_text("x = 2\n")
    assert book.tree_digest(tmp_path, ["pkg"]) != first


def test_compare_table_puts_ours_beside_the_paper(tmp_path: Path) -> None:
    paper = book.compare_table("table1", results_dir=tmp_path).paper
    ours = paper[["method", "kernel", "cosine_distance"]].copy()
    ours["cosine_distance"] = ours["cosine_distance"] + ([0.1, 0.00004] + [0.0] * (len(ours) - 2))
    ours["n"] = 10
    ours.iloc[:2].to_csv(tmp_path / "table1.csv", index=False)  # only two rows regenerated
    cmp = book.compare_table("table1", results_dir=tmp_path)
    assert cmp.regenerated
    both = cmp.beside[cmp.beside["ours"].notna()]
    assert both["method"].tolist() == ["Original", "GANonymization"]
    assert both["difference"].round(5).tolist() == [0.1, 0.00004]
    assert both["within_rounding"].tolist() == [False, True]
    overview = book.report_overview(tmp_path, {})
    row = overview[overview["result"] == "Table 1"].iloc[0]
    assert (row["status"], row["rows compared"]) == ("compared", 2)
    assert row["mean |ours - paper|"] == pytest.approx(0.05002, abs=1e-4)
    (tmp_path / "table2.csv").write_text("dataset,mean_probability_distance\nCK+,0.1\n")
    with pytest.raises(ValueError, match=r"table2\.csv.*lacks key columns"):
        book.compare_table("table2", results_dir=tmp_path)


def test_absent_results_say_why(tmp_path: Path) -> None:
    record = {"profile_name": "smoke", "notebooks": {
        "4_1_anonymization": {"status": "missing"},
        "4_2_expression": {"status": "failed", "error": "notebook 4_2_expression: cell [3] raised KeyError"},
        "4_3_attributes": {"status": "ran", "profile": "smoke"},
    }}
    assert "has not been written yet" in book.compare_table("table1", results_dir=tmp_path, record=record).absent_reason
    assert "raised KeyError" in book.compare_table("table2", results_dir=tmp_path, record=record).absent_reason
    assert "wrote no table5" in book.compare_table("table5", results_dir=tmp_path, record=record).absent_reason
    book.record_absent(tmp_path, "table6", "CelebA is not part of the smoke profile")
    assert book.compare_table("table6", results_dir=tmp_path, record=record).absent_reason == (
        "CelebA is not part of the smoke profile")
    overview = book.report_overview(tmp_path, record)
    assert len(overview) == 6 + 11
    assert (overview["status"] == "not regenerated").all()
    assert overview.loc[overview["result"] == "Figure 1", "note"].item().startswith("a diagram")


def test_run_record_tables_show_wall_time_and_expected_hours() -> None:
    paper = book.load_profile("paper", root=REPO)
    record = {"profile": paper.model_dump(), "hardware": {"cpu": "X", "gpus": [{"name": "H100", "memory": "80 GiB",
              "driver": "1"}]}, "versions": {"python": "3.11", "torch": None},
              "notebooks": {"3_4_resynthesis": {"status": "ran", "profile": "paper", "wall_s": 3600.0}}}
    frames = book.run_record_tables(record)
    row = frames["notebooks"].iloc[0]
    assert (row["wall time [s]"], row["expected GPU hours"]) == (3600.0, 40)
    assert frames["hardware"].loc["gpus", "value"] == "H100 (80 GiB)"
    assert frames["versions"].loc["torch", "version"] == "not installed"
    assert frames["profile"].loc["models.identity", "value"] == "facenet512"


# ----------------------------------------------------------------------------------------------
# A tiny real book, run with papermill and built with Jupyter Book

NOTEBOOK_HEADER = """\
# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
"""

FIRST = NOTEBOOK_HEADER + '''
# %% [markdown]
# # First chapter

# %% tags=["parameters", "remove-cell"]
profile = "default"
sizes = {"max_images": -1}
results_dir = "nowhere"

# %%
import sys
from pathlib import Path

Path(results_dir).mkdir(parents=True, exist_ok=True)
Path(results_dir, "first.txt").write_text(f"{profile} {sizes['max_images']}")
if "google.colab" in sys.modules:  # a notebook that sets itself up on Colab gets a Colab link in the book
    print("on Colab")
print(f"PROFILE={profile} MAX_IMAGES={sizes['max_images']} DEVICE={device}")
print("wrote", Path(results_dir, "first.txt").resolve(), "read /opt/build-host/data/faces.bin")
'''

SECOND = NOTEBOOK_HEADER + '''
# %% [markdown]
# # Second chapter

# %%
print("second", 6 * 7)
'''

FAILING = NOTEBOOK_HEADER + '''
# %% [markdown]
# # Failing chapter

# %%
print("before the failure")

# %%
raise ValueError("boom 42")

# %%
print("never reached")
'''


def _write_tiny_book(root: Path) -> None:
    config = {
        "title": "Tiny book", "author": "tests", "only_build_toc_files": True,
        "exclude_patterns": [".*", "**/.*", "_build", "notebooks/**", "ganon/**", "profiles/**", "runs/**"],
        "execute": {"execute_notebooks": "off", "stderr_output": "remove"},
        "repository": {"url": "https://github.com/example/tiny", "branch": "main"},
    }
    (root / "_config.yml").write_text(yaml.safe_dump(config))
    toc = {"format": "jb-book", "root": "book/intro", "chapters": [
        {"file": "book/generated/a_first"}, {"file": "book/generated/b_second"},
        {"file": "book/generated/z_unwritten"},
    ]}
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    (root / "book").mkdir()
    (root / "book" / "intro.md").write_text("# Tiny intro\n\nA book for the tests.\n")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "a_first.py").write_text(FIRST)
    (root / "notebooks" / "b_second.py").write_text(SECOND)
    (root / "ganon").mkdir()  # the fake package whose files feed the skip key
    (root / "ganon" / "fake.py").write_text("VALUE = 1\n")
    (root / "profiles").mkdir()
    profile = yaml.safe_load((REPO / "profiles" / "smoke.yaml").read_text())
    profile["name"] = "tiny"
    (root / "profiles" / "tiny.yaml").write_text(yaml.safe_dump(profile))


def _statuses(summary: book.RunSummary) -> dict[str, str]:
    return {r.stem: r.status for r in summary.results}


def _outputs(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def _set_max_images(root: Path, value: int) -> None:
    path = root / "profiles" / "tiny.yaml"
    data = yaml.safe_load(path.read_text())
    data["sizes"]["max_images"] = value
    path.write_text(yaml.safe_dump(data))


@pytest.fixture(scope="module")
def ran_book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, book.RunSummary]:
    root = tmp_path_factory.mktemp("tiny") / "book_root"
    root.mkdir()
    _write_tiny_book(root)
    summary = book.run_book(root=root, profile="tiny", progress=False)
    return root, summary


@pytest.fixture()
def tiny(ran_book: tuple[Path, book.RunSummary], tmp_path: Path) -> Path:
    """A private copy of the already-run tiny book, so a test may change it."""
    copy = tmp_path / "book_root"
    shutil.copytree(ran_book[0], copy)
    return copy


@pytest.mark.book
def test_run_executes_and_injects_the_profile(ran_book: tuple[Path, book.RunSummary]) -> None:
    root, summary = ran_book
    assert _statuses(summary) == {"a_first": "ran", "b_second": "ran", "z_unwritten": "missing"}
    generated = root / "book" / "generated"
    assert "PROFILE=tiny MAX_IMAGES=8 DEVICE=cpu" in _outputs(generated / "a_first.ipynb")
    assert "second 42" in _outputs(generated / "b_second.ipynb")
    # absolute paths in outputs are shown relative to the book root, or cut to their last part
    assert "wrote runs/book/tiny/results/first.txt read …/faces.bin" in _outputs(generated / "a_first.ipynb")
    # cwd is the book root and results_dir defaults to runs/book/<profile>/results
    assert (root / "runs" / "book" / "tiny" / "results" / "first.txt").read_text() == "tiny 8"
    nb = nbformat.read(str(generated / "a_first.ipynb"), as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    assert "repository_url = \"https://github.com/example/tiny\"" in injected[0].source
    colab = "https://colab.research.google.com/github/example/tiny/blob/main/notebooks/a_first.ipynb"
    assert nb.cells[0].source == "# First chapter" and colab in nb.cells[1].source  # right under the title
    assert "colab.research" not in json.dumps(nbformat.read(str(generated / "b_second.ipynb"), as_version=4))
    placeholder = nbformat.read(str(generated / "z_unwritten.ipynb"), as_version=4)
    assert placeholder.cells[0].source.startswith("# Z unwritten")
    record = json.loads((generated / "run_record.json").read_text())
    assert record["profile_name"] == "tiny" and record["profile"]["sizes"]["max_images"] == 8
    assert record["hardware"]["cpu"] and record["hardware"]["cpu_count"] >= 1
    assert {"python", "torch", "mediapipe", "ganon"} <= set(record["versions"])
    assert record["notebooks"]["a_first"]["status"] == "ran" and record["notebooks"]["a_first"]["wall_s"] > 0
    assert set(json.loads((generated / ".hashes.json").read_text())) == {"a_first", "b_second"}


@pytest.mark.book
def test_second_run_skips_and_changes_rerun(tiny: Path) -> None:
    output = tiny / "book" / "generated" / "a_first.ipynb"
    before = output.stat().st_mtime_ns
    again = book.run_book(root=tiny, profile="tiny", progress=False)
    assert _statuses(again) == {"a_first": "skipped", "b_second": "skipped", "z_unwritten": "missing"}
    assert output.stat().st_mtime_ns == before
    record = json.loads((tiny / "book" / "generated" / "run_record.json").read_text())
    assert record["notebooks"]["a_first"]["wall_s"] > 0  # the last real run's time is kept

    (tiny / "ganon" / "fake.py").write_text("VALUE = 2\n")  # a change in the package reruns everything
    assert _statuses(book.run_book(root=tiny, profile="tiny", progress=False))["b_second"] == "ran"

    _set_max_images(tiny, 3)  # a change in the profile reruns, with the new value injected
    summary = book.run_book(root=tiny, profile="tiny", progress=False)
    assert _statuses(summary)["a_first"] == "ran"
    assert "MAX_IMAGES=3" in _outputs(output)

    forced = book.run_book(root=tiny, profile="tiny", only=["b_"], force=True, progress=False)
    assert _statuses(forced) == {"b_second": "ran"}


@pytest.mark.book
def test_failing_cell_fails_the_run_and_names_the_notebook(tiny: Path) -> None:
    toc = yaml.safe_load((tiny / "_toc.yml").read_text())
    toc["chapters"].insert(0, {"file": "book/generated/c_fails"})
    (tiny / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    (tiny / "notebooks" / "c_fails.py").write_text(FAILING)
    cli = [sys.executable, "-c", "from ganon.cli import main; main()", "book", "run", "--profile", "tiny",
           "--root", str(tiny)]
    proc = subprocess.run(cli, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert "c_fails" in proc.stderr and "ValueError: boom 42" in proc.stderr
    generated = tiny / "book" / "generated"
    partial = _outputs(generated / "c_fails.ipynb")  # kept for inspection
    assert "before the failure" in partial and "never reached" not in partial
    assert "c_fails" not in json.loads((generated / ".hashes.json").read_text())
    assert json.loads((generated / "run_record.json").read_text())["notebooks"]["c_fails"]["status"] == "failed"
    with pytest.raises(book.BookBuildError, match="c_fails"):
        book.build_book(root=tiny)
    # the failure is not remembered as up to date: the next run tries again
    with pytest.raises(book.BookRunError, match="c_fails.*boom 42"):
        book.run_book(root=tiny, profile="tiny", only=["c_fails"], progress=False)


@pytest.mark.book
def test_build_renders_html_and_fails_on_a_warning(tiny: Path) -> None:
    lines: list[str] = []
    index = book.build_book(root=tiny, echo=lines.append)
    assert index == tiny / "_build" / "html" / "index.html" and index.is_file()
    page = (tiny / "_build" / "html" / "book" / "generated" / "a_first.html").read_text()
    assert "PROFILE=tiny MAX_IMAGES=8" in page
    assert (tiny / "_build" / "html" / "book" / "generated" / "z_unwritten.html").is_file()
    assert not any("WARNING" in line for line in lines)

    intro = tiny / "book" / "intro.md"
    intro.write_text(intro.read_text() + "\nSee {ref}`no-such-label`.\n")
    with pytest.raises(book.BookBuildError, match="no-such-label"):
        book.build_book(root=tiny, echo=lambda line: None)


def test_cli_reports_a_missing_profile(tmp_path: Path) -> None:
    _write_tiny_book(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", "from ganon.cli import main; main()", "book", "run", "--profile", "nope",
         "--root", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "nope.yaml" in proc.stderr and "available: tiny" in proc.stderr


def test_only_rejects_unknown_notebooks(tmp_path: Path) -> None:
    _write_tiny_book(tmp_path)
    with pytest.raises(book.BookRunError, match="not a notebook listed in _toc.yml"):
        book.run_book(root=tmp_path, profile="tiny", only=["nothing"], progress=False)


def test_paper_reference_tables_reach_the_report(tmp_path: Path) -> None:
    for name in ("table1", "table2", "table3", "table4", "table5", "table6"):
        cmp = book.compare_table(name, results_dir=tmp_path)
        assert isinstance(cmp.paper, pd.DataFrame) and len(cmp.paper) > 0 and not cmp.regenerated


def load_profile_weights(name: str) -> str:
    return book.load_profile(name, root=REPO).models.generator


def test_profiles_name_registered_models_and_existing_manifests() -> None:
    from ganon.backends.detectors import DETECTORS
    from ganon.backends.identity import IDENTITY_MODELS
    from ganon.data.manifests import load_dataset
    from ganon.data.manifests import load_weight
    from ganon.weights import shipped_weights
    from ganon.pipeline.landmarks import RENDER_STYLES
    from ganon.pipeline.segment import SEGMENTERS

    for name in ("smoke", "paper"):
        models = book.load_profile(name, root=REPO).models
        assert models.detector in DETECTORS and models.segmenter in SEGMENTERS
        assert models.identity in IDENTITY_MODELS
        assert models.landmark_style in RENDER_STYLES
    assert load_profile_weights("smoke") in shipped_weights()
    assert load_weight(load_profile_weights("paper")).name == "ganonymization-publication"
    for source in book.load_profile("paper", root=REPO).datasets.values():
        assert load_dataset(source.manifest).name == source.manifest


def test_prepare_results_makes_the_folder_and_only_the_samples_profile_builds_samples(
        tmp_path: Path, samples_dir: Path) -> None:
    results = book.prepare_results(tmp_path / "a" / "results", dataset="paper", samples_dir=tmp_path / "none")
    assert results.is_dir() and not (tmp_path / "none").exists()
    again = book.prepare_results(results, dataset="samples", samples_dir=samples_dir)
    assert again == results and (samples_dir / "manifest.csv").is_file()


# ----------------------------------------------------------------------------------------------
# Colab: paired notebooks and the links to them


def test_colab_url_follows_the_configured_repository(tmp_path: Path) -> None:
    def url(repository: dict) -> str | None:
        (tmp_path / "_config.yml").write_text(yaml.safe_dump({"repository": repository}))
        return book.colab_url(tmp_path, "4_1_anonymization")

    assert url({"url": "https://github.com/a/b", "branch": "dev"}) == (
        "https://colab.research.google.com/github/a/b/blob/dev/notebooks/4_1_anonymization.ipynb")
    assert url({"url": "https://github.com/a/b.git/"}).startswith("https://colab.research.google.com/github/a/b/blob/main/")
    assert url({"url": "https://gitlab.com/a/b"}) is None  # Colab opens GitHub notebooks only


def test_notebooks_install_from_the_configured_repository() -> None:
    configured = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    for stem in book.toc_notebooks(REPO):
        source = (REPO / "notebooks" / f"{stem}.py").read_text()
        if "google.colab" not in source:
            continue
        defaults = re.findall(r'^repository_url = "([^"]*)"', source, flags=re.MULTILINE)
        assert defaults == [configured], f"{stem}: repository_url default {defaults} != _config.yml {configured}"
        assert "ganon[train,eval,book] @ git+{repository_url}" in source, stem


def test_paired_notebooks_are_up_to_date(tmp_path: Path) -> None:
    assert book.pair_notebooks(REPO, check=True) == [], "run `ganon book pair` and commit notebooks/*.ipynb"
    # and pairing is reproducible: a copy paired from scratch gives the same bytes
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.ipynb"))
    written = book.pair_notebooks(tmp_path)
    assert [p.name for p in written] == [f"{stem}.ipynb" for stem in book.toc_notebooks(REPO)]
    for path in written:
        assert path.read_bytes() == (REPO / "notebooks" / path.name).read_bytes()
