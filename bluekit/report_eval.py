"""Where the report's numbers come from, and the statistics it shows (bluekit.report arranges them).

evaluate_run(view, results=None) -> (results, source): a given results file; else the newest
saved evaluation of the run (find_results); else the report evaluates every held-out user itself
(held_out_results: the run's held-out profiles, cached or generated from final/, against the
untrained profiler's). A run that cannot be evaluated raises ReportError naming the file. The
baselines join when the results lack them (with_baselines). Then bootstrap CIs, the paired tests
of untrained vs trained, and whether the run barely moved.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bluekit.errors import KitError
from bluekit.evaluate import bootstrap_ci  # noqa: F401 - report.py imports it from here

if TYPE_CHECKING:
    from bluekit.report import RunView

RESULT_FILES = ("with_cpu_long.json", "trained_vs_untrained.json", "profiles.json")
METRICS = ("recall@10", "ndcg@10", "mrr")


class ReportError(KitError, ValueError):
    """The report cannot be written (not a run folder, unreadable config, a run that cannot be
    evaluated): the message says why and names the file."""


def find_results(view: RunView) -> tuple[Path | None, str]:
    """The newest saved evaluation for this run (not older than its run.json), and a note why."""
    out_dir = Path(getattr(view.cfg.eval, "out_dir", "") or view.run_dir)
    run_time = (view.run_dir / "run.json").stat().st_mtime if (view.run_dir / "run.json").exists() else 0
    for folder in dict.fromkeys([out_dir, view.run_dir, view.run_dir.parent]):
        for name in RESULT_FILES:
            path = folder / name
            if path.exists():
                if path.stat().st_mtime + 1 < run_time:
                    continue  # written before this run finished: another run's numbers
                return path, f"the evaluation saved in {path}"
    return None, ""


def held_out_results(view: RunView) -> list:
    """Untrained vs this run on every held-out user: the run's held-out profiles (cached in
    test_profiles.json, published runs ship theirs; else generated from final/) against the
    untrained profiler's. A run whose adapter cannot be loaded is a ReportError naming it."""
    from bluekit import pipeline
    from bluekit.train.run import FINAL_DIR

    final = view.run_dir / FINAL_DIR
    try:
        trained = pipeline.profiler_result(view.ws, view.label, view.run_dir)
    except Exception as err:  # noqa: BLE001 - any load failure becomes one line naming the file
        if pipeline.cached_test_profiles(view.ws, view.run_dir) is not None:
            raise  # the adapter was not needed: a bug elsewhere keeps its traceback
        files = sorted(final.glob("*.safetensors")) or [final]
        why = " ".join(str(err).split())[:300]
        raise ReportError(f"cannot evaluate {view.run_dir}: {', '.join(map(str, files))} cannot be "
                          f"loaded ({type(err).__name__}: {why})") from err
    # The untrained profiler prompted as the run was (its config), on the same users.
    as_run = dataclasses.replace(view.ws, cfg=view.cfg)
    return [pipeline.profiler_result(as_run, "untrained profiler"), trained]


def with_baselines(view: RunView, results: list) -> tuple[list, bool]:
    """The results plus the baselines (raw history text, last item, ...) computed on the same
    held-out users when the results lack them; (results, whether any were added)."""
    from bluekit import pipeline
    from bluekit.report_text import LAST_ITEM, RAW_HISTORY

    names = {r.name for r in results}
    if {RAW_HISTORY, LAST_ITEM} <= names:
        return results, False
    added = [r for r in pipeline.baseline_results(view.ws) if r.name not in names]
    return added + results, True


def evaluate_run(view: RunView, results: str | Path | None = None) -> tuple[list, str]:
    """(every evaluated method, where the numbers came from); see the module docstring."""
    from bluekit.evaluate import load_results

    if results is not None:
        path, source = Path(results), f"the results file {results}"
        if not path.exists():
            raise ReportError(f"results file {path} not found")
    else:
        path, source = find_results(view)
    if path is not None:
        try:
            evaluated = load_results(path)
        except Exception as err:  # noqa: BLE001 - a broken file: one line naming it
            raise ReportError(f"results file {path} cannot be read ({type(err).__name__}: "
                              f"{' '.join(str(err).split())[:200]})") from err
    else:
        evaluated = held_out_results(view)
        source = (f"this report's own evaluation of all {evaluated[-1].summary['n']} held-out users "
                  f"(the run's held-out profiles in {view.run_dir / 'test_profiles.json'} against the "
                  "untrained profiler's)")
    evaluated, added = with_baselines(view, evaluated)
    if added:
        source += "; baselines computed by the report on the same users"
    return evaluated, source


def results_with_ci(results: list) -> pd.DataFrame:
    """One row per method: each metric's mean with its 95% bootstrap CI, the median rank, n."""
    rows = []
    for r in results:
        row = {"method": r.name}
        for m in METRICS:
            if m in r.per_user:
                lo, hi = bootstrap_ci(r.per_user[m].to_numpy())
                row[m] = (float(r.per_user[m].mean()), lo, hi)
        if "rank" in r.per_user:
            row["median rank"] = float(np.median(r.per_user["rank"].to_numpy(dtype=float)))
        row["n"] = int(len(r.per_user))
        rows.append(row)
    return pd.DataFrame(rows)


def profiler_tests(results: list) -> list[dict]:
    """Paired tests of the untrained profiler against every trained one (NDCG@10 and MRR)."""
    from bluekit.evaluate import paired_test

    base = next((r for r in results if "untrained" in r.name.lower()), None)
    if base is None:
        return []
    others = [r for r in results if r is not base and ("profiler" in r.name.lower() or "trained" in r.name.lower())]
    tests = []
    for other in others:
        for metric in ("ndcg@10", "mrr"):
            try:
                tests.append(paired_test(base, other, metric=metric))
            except (KeyError, ValueError):
                continue
    return tests


def barely_moved(summary: dict, tests: list[dict] | None = None, min_gain: float = 1.2) -> bool:
    """Did training barely move the profiles? Held-out evidence first, else the panel.

    With a paired MRR test of the untrained against this run's trained profiler: moved when it
    is significant (p < 0.05) in the right direction. Without one: moved when the panel's median
    rank of the positive improved by at least `min_gain` times and most panel users improved.

    >>> barely_moved({"users": 8, "median_rank_first": 300, "median_rank_last": 100, "users_rank_improved": 6})
    False
    >>> barely_moved({"users": 8, "median_rank_first": 300, "median_rank_last": 280, "users_rank_improved": 5})
    True
    """
    mrr = [t for t in tests or [] if t["metric"] == "mrr"]
    if mrr:
        t = mrr[0]
        return not (t["p_value"] < 0.05 and t["mean_b"] > t["mean_a"])
    if not summary.get("users"):
        return True
    gain = summary["median_rank_first"] / max(summary["median_rank_last"], 1e-9)
    return not (gain >= min_gain and summary["users_rank_improved"] > summary["users"] / 2)
