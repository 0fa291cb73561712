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
            parameters = {"PRESET": "smoke", "RESUME": False}
            if name.startswith(("05", "06", "07")):  # they draw a run: the one notebook 04 trains under smoke
                run("04_train_profiler.ipynb")
                parameters["RUN"] = "runs/smoke/train"
            if name.startswith(("06", "07")):  # a dozen users; 06 transfers to two targets
                parameters.update({"N_USERS": 12, **({"TARGETS": "Sports local"} if name.startswith("06") else {})})
            cache[name] = read_record(execute_notebook(NOTEBOOKS / name, out / name,
                                                       parameters=parameters, timeout=900))
        return cache[name]
    run.out = out  # the executed copies, for the export check
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
        assert record["last_item_by_hand_matches"] is True  # target_ranks by hand = the baseline row
        assert record["map_points"] == record["items"] > 0
    if name.startswith("03"):
        assert record["empty_worst_format"] is True
        assert record["ceiling_win_rate"] > 0.5  # InfoNCE prefers true tastes to a generic profile
        assert record["order_changes_when_normalised"] is True  # weights matter once normalised
        assert record["rank_by_hand_matches"] is True  # 1/rank counted by hand = the rank_reward column
    if name.startswith("04"):
        # smoke: 4 GRPO steps of the tiny model (full fine-tune, lr 1e-3) on 32 users; 36 held out
        assert record["steps"] == 4 and record["logged_steps"] == 4 and record["n_test_users"] == 36
        assert record["snapshot_steps"] == [0, 2, 4]
        assert record["profiles_changed"] > 0.5  # training moved the weights: most profiles differ
        assert record["published_run_applies"] is False  # cpu-long was trained on another world
        assert 0 < record["untrained_mrr"] <= 1 and 0 < record["trained_mrr"] <= 1
        assert 0 <= record["trained_ndcg@10"] <= 1
        # one GRPO group worked by hand: 4 completions whose advantages sum to 0
        assert record["group_size"] == 4 and len(record["group_advantages"]) == 4
        assert abs(record["group_advantage_sum"]) < 1e-6
        # readability beside rank: every row carries every measure, shares in [0, 1], tests ran
        from bluekit.readability import READABILITY_METRICS
        assert record["readability_rows"][:3] == ["untrained profiler", "raw history text", "trained profiler (GRPO)"]
        assert record["readability_rows"][-1] == "no profile"
        for name, measures in record["readability"].items():
            assert set(measures) == set(READABILITY_METRICS), name
            assert all(0 <= measures[m] <= 1 for m in ("item_description", "repetitive", "history_coverage", "quiz_accuracy"))
        assert all(0 <= p <= 1 for p in record["readability_p_trained"].values())
        assert record["sample_profiles"] == {"untrained": 5, "this run": 5}
    if name.startswith("06"):
        # smoke: notebook 04's run (Clothing) on Sports and the demo city, 12 held-out users each
        assert record["filled_frozen"] is True and record["cells"] >= 2
        assert {"Sports_and_Outdoors", "Demo_City"} <= set(record["targets"])
        assert set(record["n_users"].values()) == {12} and set(record["dropped_source_users"].values()) == {0}
        assert all(0 < v <= 1 for v in record["untrained_mrr"].values())
        assert all(0 <= p <= 1 for p in record["p_mrr"].values())
        # one embedder round by hand: a LoRA adapter learns its training pairs; the smoke run has
        # no tuned embedder, so the frozen-vs-tuned table is skipped with a message
        assert record["lora_only"] is True and record["pair_mrr_after"] > record["pair_mrr_before"]
        assert record["tuned_compared"] is False
    if name.startswith("07"):
        # smoke: the tiny random reader on 12 held-out users; every context has a row, and the
        # likelihood form with no context picks option A, which the rotation makes exactly chance
        assert record["n_users"] == 12 and record["chance"] == 0.25
        assert record["rows"] == ["no context", "raw history (8 items)", "raw history (20 items)", "untrained profile",
                                  "trained profile", "ceiling (next item's title)", "global mean rating",
                                  "user's mean rating"]
        assert record["accuracy"]["likelihood"]["no context"] == 0.25
        assert all(0 <= v <= 1 for form in record["accuracy"].values() for v in form.values())
        assert all(0 <= v <= 4 for v in record["rating_mae"].values()) and len(record["rating_mae"]) == 7
        assert set(record["reader_check"]) == {"letter", "likelihood"}
        assert all(0 <= p <= 1 for p in record["p_trained_vs_untrained"].values())
    if name.startswith("05"):
        # smoke: the 4-step run of notebook 04, snapshots at steps 0, 2, 4 of a 4-user panel
        assert record["snapshot_steps"] == [0, 2, 4] and record["frames"] == 3 and record["panel_users"] == 4
        assert record["map_points"] == record["items"] > 0
        shares = record["item_description_by_step"]  # the collapse figure: one share per snapshot step
        assert list(shares) == ["0", "2", "4"] and all(0 <= v <= 1 for v in shares.values())
        assert record["written_rank"] <= 3  # a profile that names the next item finds it
        assert "empty" in record["empty_profile_message"]
        assert record["strongest_unit_names_positive"] is True and record["strongest_unit_delta_rank"] > 0


# nbconvert's own page template loads these from the web; with no network they fail, and that is
# not the notebook's doing (the figures themselves carry plotly.js inline).
EXPORT_TEMPLATE_ASSETS = ("/ajax/libs/require.js/", "/ajax/libs/mathjax/", "@jupyter-widgets/html-manager")


@pytest.mark.notebook
def test_notebook_02_item_map_renders_in_the_exported_html(executed, tmp_path):
    import nbformat
    from nbconvert import HTMLExporter

    from browser import console_errors, offline_chromium, wait_for

    record = executed("02_embed_and_baselines.ipynb")
    nb = nbformat.read(str(executed.out / "02_embed_and_baselines.ipynb"), as_version=4)
    page = tmp_path / "02_embed_and_baselines.html"
    page.write_text(HTMLExporter().from_notebook_node(nb)[0])
    with offline_chromium() as driver:
        driver.get(page.as_uri())
        drawn = wait_for(driver, "document.querySelectorAll('.plotly-graph-div .scatterlayer path.point').length")
        errors = [e for e in console_errors(driver) if not any(a in e for a in EXPORT_TEMPLATE_ASSETS)]
        driver.save_screenshot(str(tmp_path / "02_item_map.png"))
    assert drawn == record["map_points"]  # every item of the map is drawn, with no kernel and no network
    assert not errors, errors
