"""Choose a run's checkpoint on validation users: the best rank among those still readable.

A rank reward can raise the rank by turning profiles into descriptions of the next item (the
published cpu-long did between steps 100 and 120). Stopping before that needs a choice made on
users that neither train nor test: ``train.validation_users: N`` carves N users out of the
training users (bluekit.data.validation_users; never trained on), and every saved step folder of
the run (``train.save_adapter_at``, compare's ``--eval-at``) is scored on them:

    python -m bluekit select runs/study/readable/seed-0      # writes selection.json there

Per step: MRR and NDCG@10 of the validation users' profiles (full ranking, their last item as the
target, as for the test users), and the share of profiles that describe an item or repeat words.
A step is eligible while its item-description share stays within ``max_item_rise`` (default 0.10)
of the untrained profiler's and its repetition share does not exceed the untrained profiler's by
more than the same margin; the eligible step with the best MRR is chosen (step 0, the untrained
profiler, when none is). The held-out test users are then evaluated at that step, untouched by
the choice.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from bluekit.atomic import read_json, write_json
from bluekit.errors import KitError

SELECTION_FILE = "selection.json"
VALIDATION_PROFILES = "validation_profiles.json"


def validation_examples(ws, cfg) -> pd.DataFrame:
    """The validation users' examples (their last item as the target, history before it)."""
    from bluekit.config import ConfigError
    from bluekit.data import validation_users

    users = set(validation_users(ws.prepared, cfg))
    if not users:
        raise ConfigError("train.validation_users is 0 in this run's config: no users to choose a "
                         "checkpoint on (set it, e.g. 40, and train again)")
    test = ws.prepared.splits.test
    return test[test.user_id.isin(users)].reset_index(drop=True)


def _profiles(ws, cfg, folder: Path | None, examples: pd.DataFrame) -> list[str]:
    """Greedy profiles of the validation users by the adapter in `folder` (None: untrained),
    cached in the folder (the untrained ones are made again: a few seconds)."""
    from bluekit.profiler import profiles_for_examples

    cache = folder / VALIDATION_PROFILES if folder is not None else None
    users = examples.user_id.astype(str).tolist()
    if cache is not None and cache.exists():
        saved = read_json(cache)
        if saved.get("users") == users:
            return saved["profiles"]
    if folder is None:
        from bluekit.llm import load_profiler
        model, tok = load_profiler(cfg.profiler)
    else:
        from bluekit.train import load_trained_profiler
        model, tok = load_trained_profiler(folder)
    texts = profiles_for_examples(model, tok, examples, ws.prepared.interactions, ws.prepared.items,
                                  cfg.profiler, show_progress=False)
    if cache is not None:
        write_json(cache, {"users": users, "profiles": texts})
    return texts


def _score(ws, name: str, texts: list[str], examples: pd.DataFrame) -> dict:
    from bluekit.evaluate import evaluate_texts
    from bluekit.readability import text_flags

    result = evaluate_texts(name, texts, examples, item_index=ws.prepared.item_index,
                            item_vecs=ws.item_vecs, embedder=ws.embedder)
    flags = text_flags(texts)
    return {"mrr": result.summary["mrr"], "ndcg@10": result.summary.get("ndcg@10"),
            "item_description": float(flags["item_description"].mean()),
            "repetitive": float(flags["repetitive"].mean()), "n": len(texts)}


def select_step(run_dir: str | Path, ws=None, max_item_rise: float = 0.10) -> dict:
    """Score every saved step of a run on its validation users and choose one (module doc).
    Returns {"step", "folder", "table": [...per step...], "rule"} and writes selection.json."""
    from bluekit import pipeline
    from bluekit.config import load_config
    from bluekit.study_table import evaluation_steps
    from bluekit.train.run import CONFIG_FILE

    run_dir = Path(run_dir)
    cfg = load_config(run_dir / CONFIG_FILE)
    ws = ws or pipeline.workspace(cfg)
    examples = validation_examples(ws, cfg)
    rows = [{"step": 0, "folder": None, **_score(ws, "untrained", _profiles(ws, cfg, None, examples),
                                                 examples)}]
    for step, folder in evaluation_steps(run_dir):
        rows.append({"step": step, "folder": str(folder),
                     **_score(ws, folder.name, _profiles(ws, cfg, folder, examples), examples)})
    base = rows[0]
    for row in rows:
        row["eligible"] = (row["item_description"] <= base["item_description"] + max_item_rise
                           and row["repetitive"] <= base["repetitive"] + max_item_rise)
    chosen = max((r for r in rows if r["eligible"]), key=lambda r: (r["mrr"], -r["step"]))
    rule = (f"best validation MRR among steps whose item-description and repetition shares stay "
            f"within {max_item_rise:.2f} of the untrained profiler's ({len(examples)} validation users)")
    selection = {"step": chosen["step"], "folder": chosen["folder"], "rule": rule, "table": rows}
    write_json(run_dir / SELECTION_FILE, selection)
    return selection


def step_folder(run_dir: str | Path, step: int) -> Path:
    """The folder holding a run's adapter at `step`: step-N/ (train.save_adapter_at), or the run
    itself at its final step."""
    from bluekit.study_table import evaluation_steps

    saved = dict(evaluation_steps(Path(run_dir)))
    if step not in saved:
        raise KitError(f"{run_dir}: no adapter saved at step {step} (saved: {sorted(saved) or 'none'})")
    return saved[step]


def chosen_folder(run_dir: str | Path) -> tuple[int, Path]:
    """(step, folder) of the step `select` chose for a run (its selection.json), for `evaluate
    --step chosen` and `publish --step chosen`."""
    path = Path(run_dir) / SELECTION_FILE
    if not path.exists():
        raise KitError(f"{path} is missing: choose the step first, python -m bluekit select {run_dir}")
    step = int(read_json(path)["step"])
    if step == 0:
        raise KitError(f"{path}: no trained step kept the validation users' profiles readable "
                       "(select chose step 0, the untrained profiler); its table says which rule each "
                       "step broke: nothing to evaluate or publish")
    return step, step_folder(run_dir, step)


def resolve_step(run_dir: str | Path, step: str | None) -> tuple[int | None, Path]:
    """A command line's --step for a run -> (step, the folder of its adapter): None (the run's
    final adapter: step None, the run folder), "chosen" (select's choice) or a saved step number."""
    if step is None:
        return None, Path(run_dir)
    if step == "chosen":
        return chosen_folder(run_dir)
    if not str(step).isdigit():
        raise KitError(f"--step {step!r}: give 'chosen' or a step number")
    return int(step), step_folder(run_dir, int(step))
