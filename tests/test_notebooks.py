"""Every tutorial notebook runs headless with the smoke preset, and records sensible numbers."""
from pathlib import Path

import pytest

from bluekit.notebooks import execute_notebook, read_record

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ALL = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    out = tmp_path_factory.mktemp("executed")
    cache = {}

    def run(name):
        if name not in cache:
            cache[name] = read_record(execute_notebook(NOTEBOOKS / name, out / name,
                                                       parameters={"PRESET": "smoke", "RESUME": False},
                                                       timeout=900))
        return cache[name]
    return run


def test_notebooks_are_committed_clean():
    import nbformat
    assert ALL, "no notebooks found"
    for name in ALL:
        nb = nbformat.read(str(NOTEBOOKS / name), as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: needs exactly one cell tagged 'parameters'"
        for cell in nb.cells:
            assert cell.source.strip(), f"{name}: empty cell"
            assert not cell.get("outputs"), f"{name}: committed with outputs"


@pytest.mark.notebook
@pytest.mark.parametrize("name", ALL)
def test_notebook_runs_headless(executed, name):
    record = executed(name)
    assert record, f"{name} recorded nothing"
    if name.startswith("00"):
        assert record["specific_beats_generic"] is True
    if name.startswith("01"):
        assert record["test_examples"] > 0 and record["items"] > 0
    if name.startswith("02"):
        ceiling = record["ceiling (true tastes)"]["recall@10"]
        assert ceiling > record["random"]["recall@10"]
    if name.startswith("03"):
        assert record["empty_worst_format"] is True
        assert record["ceiling_win_rate"] > 0.5  # InfoNCE prefers true tastes to a generic profile
        assert record["winners_differ_when_normalised"] is True  # weights matter once normalised
    if name.startswith("04"):
        # smoke: 4 GRPO steps of the tiny model (full fine-tune, lr 1e-3) on 32 users; 36 held out
        assert record["steps"] == 4 and record["logged_steps"] == 4 and record["n_test_users"] == 36
        assert record["snapshot_steps"] == [0, 2, 4]
        assert record["profiles_changed"] > 0.5  # training moved the weights: most profiles differ
        assert record["published_run_applies"] is False  # cpu-long was trained on another world
        assert 0 < record["untrained_mrr"] <= 1 and 0 < record["trained_mrr"] <= 1
        assert 0 <= record["trained_ndcg@10"] <= 1
