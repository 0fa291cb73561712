"""Checkpoint choice on validation users: carved from the training users, never trained on,
never the test users; the chosen step is readable and has the best validation MRR."""
import json

import pytest

from bluekit.config import load_config
from bluekit.data import train_test_users, validation_users


def test_validation_users_leave_training_and_never_touch_the_test_users(ws):
    cfg = load_config("smoke", {"train.validation_users": 6, "train.train_users": None})
    plain = load_config("smoke", {"train.train_users": None})
    held = validation_users(ws.prepared, cfg)
    train, test = train_test_users(ws.prepared, cfg)
    train_before, test_before = train_test_users(ws.prepared, plain)
    assert len(held) == 6 and set(held) <= set(train_before)
    assert not set(held) & set(train) and not set(held) & set(test)
    assert sorted(train + held) == sorted(train_before) and test == test_before
    assert validation_users(ws.prepared, plain) == []


def test_select_step_scores_every_saved_step_and_writes_its_choice(ws, tmp_path):
    from bluekit.selection import SELECTION_FILE, select_step
    from bluekit.train import train_profiler

    cfg = load_config("smoke", {"train.validation_users": 8, "train.output_dir": str(tmp_path / "run"),
                                "train.save_adapter_at": [2], "train.grpo.max_steps": 4})
    train_profiler(cfg, prepared=ws.prepared, embedder=ws.embedder, item_vecs=ws.item_vecs,
                   progress=False)
    selection = select_step(tmp_path / "run", ws=ws)
    steps = [row["step"] for row in selection["table"]]
    assert steps == [0, 2, 4] and all(row["n"] == 8 for row in selection["table"])
    chosen = next(r for r in selection["table"] if r["step"] == selection["step"])
    assert chosen["eligible"]
    assert chosen["mrr"] == max(r["mrr"] for r in selection["table"] if r["eligible"])
    assert json.loads((tmp_path / "run" / SELECTION_FILE).read_text())["step"] == selection["step"]


def test_a_run_without_validation_users_is_refused_with_the_fix(ws, tmp_path):
    from bluekit.selection import validation_examples
    with pytest.raises(ValueError, match="train.validation_users"):
        validation_examples(ws, load_config("smoke"))


def _fake_run(folder, steps=(10, 20), final=30):
    """A run folder as train writes it: step-N/ adapters, and the final one in the run itself."""
    for sub in [folder / f"step-{s}" for s in steps] + [folder]:
        (sub / "final").mkdir(parents=True, exist_ok=True)
        (sub / "final" / "adapter_model.safetensors").write_text(sub.name)
    (folder / "run.json").write_text(json.dumps({"global_step": final, "seed": 0}))
    return folder


def test_a_step_is_found_by_number_or_by_select_s_choice_and_a_missing_one_is_named(tmp_path):
    from bluekit.errors import KitError
    from bluekit.selection import SELECTION_FILE, chosen_folder, resolve_step

    run = _fake_run(tmp_path / "run")
    assert resolve_step(run, None) == (None, run) and resolve_step(run, "30") == (30, run)
    assert resolve_step(run, "20") == (20, run / "step-20")
    with pytest.raises(KitError, match=r"no adapter saved at step 15 \(saved: \[10, 20, 30\]\)"):
        resolve_step(run, "15")
    with pytest.raises(KitError, match="'last'"):
        resolve_step(run, "last")
    with pytest.raises(KitError, match="python -m bluekit select"):
        resolve_step(run, "chosen")
    (run / SELECTION_FILE).write_text(json.dumps({"step": 10, "rule": "r", "table": []}))
    assert chosen_folder(run) == (10, run / "step-10")
    (run / SELECTION_FILE).write_text(json.dumps({"step": 0, "rule": "r", "table": []}))
    with pytest.raises(KitError, match="select chose step 0"):
        resolve_step(run, "chosen")
