"""Cross-domain transfer: a profiler trained on one domain, evaluated zero-shot on others.

    table = transfer(["data/pretrained/cpu-long"], ["Sports", "Books", "local"],
                     overrides={"eval.test_users": 100}, out="runs/transfer")
    python -m bluekit transfer data/pretrained/cpu-long --to Sports Books local --set eval.test_users=100

Each target domain is read with the run's own data settings (only data.domain changes), and both
the trained and the untrained profiler are prompted with the run's profiler settings, so the pair
differs only in the adapter. Profiles are cached per (run, domain) under the embed cache
(bluekit.pipeline.test_profiles); nothing is written into data/pretrained/.

Who counts: the target's evaluated users (eval.users: held-out users, or all) minus every user id
the run could have trained on in its source domain (its non-held-out users), unless
``include_source_train_users``. The profiler never saw those users' target-domain history, but it
did learn their tastes from their source history: leaving them out keeps the cell zero-shot in
users as well as in items. In the demo world the three Amazon domains share their 800 user ids and
hold out the same users, so under eval.users=held_out nobody is dropped (under eval.users=all the
source's training users are); Demo_City's users carry Google ids, so none can be matched (they
are the same latent people, which the kit cannot know, and they count).

Rows per (target, embedder): raw history text (as many items as the profiler saw, and 20 titles),
last item, the untrained profiler and the trained one, with the trained one's paired tests against
the untrained profiler (Wilcoxon + bootstrap CI, bluekit.evaluate.paired_test) on MRR, NDCG@10 and
Recall@10. Both profilers' rows also carry the readability measures that need no reader model
(TEXT_MEASURES: a profile that ranks well in a new domain by describing one product says so).
``embedders`` maps a label to an Embedder (None: the run's configured embedder). By default each
run gets {"frozen": None}, plus {"tuned": ...} when it tuned its embedder
(embed.trainable: bluekit.embedder_training.load_tuned_embedder); the tuned one fills the "tuned"
columns of the source x target table, which otherwise say that the run has none.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from bluekit.errors import KitError

PAIRED_METRICS = ("mrr", "ndcg@10", "recall@10")
EMBEDDER_COLUMNS = ("frozen", "tuned")  # the source x target table's columns per target
TRAINED, UNTRAINED = "trained profiler", "untrained profiler"
# Readability beside rank on each target (bluekit.readability), for both profilers: no reader model.
TEXT_MEASURES = ("item_description", "repetitive", "history_coverage")


@dataclasses.dataclass
class Cell:
    """One (source run, target domain, embedder) evaluation."""
    source: str  # run name (source domain)
    target: str
    embedder: str
    results: list  # MethodResult per row, the trained profiler last
    tests: dict  # metric -> paired_test(untrained, trained)
    n_dropped: int  # target users left out as the source's training users
    wall_s: float
    protocol: dict = dataclasses.field(default_factory=dict)  # eval.users, eval.exclude_history


def run_name(run_dir: str | Path) -> str:
    from bluekit.config import load_config
    from bluekit.train.run import CONFIG_FILE
    cfg = load_config(Path(run_dir) / CONFIG_FILE)
    return f"{Path(run_dir).resolve().name} ({cfg.data.domain})"


def target_config(run_dir: str | Path, domain: str, overrides: Mapping | None = None):
    """The run's own config with data.domain set to `domain` (then `overrides`, e.g. eval.test_users).
    "SOURCE:DOMAIN" also sets data.source: an Amazon-trained run on `google_local:New_York`."""
    from bluekit.config import load_config
    from bluekit.train.run import CONFIG_FILE
    source, _, name = domain.rpartition(":")
    where = {"data.domain": name, **({"data.source": source} if source else {})}
    return load_config(Path(run_dir) / CONFIG_FILE, {**(overrides or {}), **where})


def source_users(run_dir: str | Path) -> set[str]:
    """Every user id the run could have trained on: its source domain's non-held-out users."""
    from bluekit.config import load_config
    from bluekit.data import load_prepared, split_users
    from bluekit.train.run import CONFIG_FILE
    cfg = load_config(Path(run_dir) / CONFIG_FILE)
    prepared = load_prepared(cfg.data)
    return set(split_users(prepared.splits.test, cfg.eval.test_user_fraction, cfg.data.seed)[0])


def run_embedders(run_dir: str | Path) -> dict:
    """{"frozen": None} (the run's configured embedder) and, when the run tuned its embedder,
    {"tuned": that embedder}."""
    from bluekit.config import load_config
    from bluekit.embedder_training import load_tuned_embedder
    from bluekit.train.run import CONFIG_FILE
    tuned = load_tuned_embedder(run_dir, load_config(Path(run_dir) / CONFIG_FILE).embed)
    return {"frozen": None, **({"tuned": tuned} if tuned is not None else {})}


def default_targets(run_dir: str | Path) -> list[str]:
    """Every demo domain but the run's own (a real source must name its targets)."""
    from bluekit.config import load_config
    from bluekit.data import synth
    from bluekit.train.run import CONFIG_FILE
    cfg = load_config(Path(run_dir) / CONFIG_FILE)
    if cfg.data.source != "demo":
        raise KitError(f"{run_dir}: trained on {cfg.data.source} data; name the target domains (--to)")
    domains = [*synth.DEMO_AMAZON_CATEGORIES, synth.DEMO_GOOGLE_STATE]
    return [d for d in domains if d != synth.resolve_domain(cfg.data.domain)]


def transfer_cell(run_dir: str | Path, domain: str, embedder=None, embedder_label: str = "frozen",
                  overrides: Mapping | None = None, include_source_train_users: bool = False,
                  seen: set[str] | None = None, show_progress: bool = False) -> Cell:
    """The run evaluated zero-shot on one target domain under one embedder (None: the run's)."""
    from bluekit import pipeline
    from bluekit.baselines import last_item, raw_history_text
    from bluekit.evaluate import paired_test

    start = time.perf_counter()
    ws = pipeline.workspace(target_config(run_dir, domain, overrides), embedder)
    seen = source_users(run_dir) if seen is None and not include_source_train_users else seen or set()
    users = [u for u in ws.test_users if include_source_train_users or u not in seen]
    if not users:
        raise KitError(f"transfer to {domain}: every evaluated user was a training user of {run_dir}")
    dropped = len(ws.test_users) - len(users)
    ws = dataclasses.replace(ws, test_users=users)
    kw = pipeline._eval_kwargs(ws)
    items_seen = ws.cfg.profiler.max_history_items
    results = [raw_history_text(ws.test_examples, max_items=items_seen,
                                name=f"raw history text ({items_seen} items)", **kw),
               raw_history_text(ws.test_examples, name="raw history text (20 items)", **kw),
               last_item(ws.test_examples, **kw)]
    for name, run in ((UNTRAINED, None), (TRAINED, run_dir)):
        pipeline.test_profiles(ws, run, show_progress=show_progress)  # generated once, cached per (run, domain)
        # Is it still a user profile in the new domain? The readability measures that need no
        # reader model (TEXT_MEASURES); quiz and fluency stay NaN.
        results.append(pipeline.profiler_result(ws, name, run, reader=False))
    tests = {m: paired_test(results[-2], results[-1], m) for m in PAIRED_METRICS}
    return Cell(run_name(run_dir), ws.prepared.name, embedder_label, results, tests, dropped,
                time.perf_counter() - start, {"users": ws.cfg.eval.users,
                                              "history_masked": ws.cfg.eval.exclude_history})


def cell_rows(cell: Cell) -> list[dict]:
    """The long table's rows of one cell: every method's metrics, the trained row's paired tests."""
    from bluekit.evaluate import bootstrap_ci

    rows = []
    for result in cell.results:
        lo, hi = bootstrap_ci(result.per_user["mrr"].to_numpy())
        row = {"source": cell.source, "target": cell.target, "embedder": cell.embedder,
               "method": result.name, "n": result.summary["n"],
               **{m: result.summary[m] for m in ("recall@10", "ndcg@10", "mrr")},
               "mrr_ci_low": lo, "mrr_ci_high": hi, "dropped_source_users": cell.n_dropped,
               **cell.protocol}
        for measure in TEXT_MEASURES:
            if measure in result.summary:
                row[measure] = result.summary[measure]
        if result.name == TRAINED:
            for metric, test in cell.tests.items():
                row[f"{metric}_change"] = -test["mean_diff"]  # trained minus untrained
                row[f"p_{metric}"] = test["p_value"]
        rows.append(row)
    return rows


def source_target_table(cells: Sequence[Cell], targets: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows: source runs. Columns: "TARGET (frozen)" and "TARGET (tuned)" per target. Each cell:
    the trained profiler's MRR against the untrained profiler's on the same users, with the paired
    Wilcoxon p; a (target, embedder) not evaluated says so."""
    targets = list(dict.fromkeys(targets or [c.target for c in cells]))
    labels = list(dict.fromkeys([*EMBEDDER_COLUMNS, *(c.embedder for c in cells)]))
    by_key = {(c.source, c.target, c.embedder): c for c in cells}
    table = {}
    for source in dict.fromkeys(c.source for c in cells):
        row = {}
        for target in targets:
            for label in labels:
                cell = by_key.get((source, target, label))
                if cell is None:
                    row[f"{target} ({label})"] = ("n/a: the run has no tuned embedder (embed.trainable)"
                                                  if label == "tuned" else "not evaluated")
                    continue
                test = cell.tests["mrr"]
                untrained, trained = (r.summary for r in cell.results[-2:])
                row[f"{target} ({label})"] = (
                    f"MRR {test['mean_b']:.4f} vs untrained {test['mean_a']:.4f} "
                    f"(p {test['p_value']:.2g}, n {test['n']}); item descr. "
                    f"{trained['item_description']:.0%} vs {untrained['item_description']:.0%}")
        table[source] = row
    frame = pd.DataFrame.from_dict(table, orient="index")
    frame.index.name = "source"
    return frame


def transfer(runs: Sequence[str | Path], targets: Sequence[str] | None = None,
             overrides: Mapping | None = None, embedders: Mapping[str, object] | None = None,
             include_source_train_users: bool = False, out: str | Path | None = None,
             show_progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, list[Cell]]:
    """Every run on every target under every embedder (see the module doc). Returns the long table
    (one row per source, target, embedder, method), the source x target table and the cells; with
    `out`, writes out/transfer.{csv,md,json} and each cell's per-user results (save_results)."""
    cells = []
    for run in runs:
        seen = set() if include_source_train_users else source_users(run)
        for domain in targets or default_targets(run):
            for label, embedder in (embedders or run_embedders(run)).items():
                cells.append(transfer_cell(run, domain, embedder, label, overrides,
                                           include_source_train_users, seen, show_progress))
                print(f"transfer {cells[-1].source} -> {cells[-1].target} ({label}): "
                      f"{cells[-1].tests['mrr']['n']} users, {cells[-1].wall_s:.0f} s", flush=True)
    long = pd.DataFrame([row for cell in cells for row in cell_rows(cell)])
    wide = source_target_table(cells, [c.target for c in cells])
    if out is not None:
        save_transfer(long, wide, cells, out, overrides, include_source_train_users)
    return long, wide, cells


def save_transfer(long: pd.DataFrame, wide: pd.DataFrame, cells: Sequence[Cell], out: str | Path,
                  overrides: Mapping | None = None, include_source_train_users: bool = False) -> Path:
    """out/transfer.csv (the long table), transfer.md (both tables and the protocol), transfer.json
    (both tables), and out/cells/SOURCE--TARGET--EMBEDDER.json (per-user results of each cell)."""
    import json

    from bluekit.atomic import write_text
    from bluekit.evaluate import save_results
    from bluekit.study_table import markdown_table

    out = Path(out)
    write_text(out / "transfer.csv", long.to_csv(index=False, float_format="%.6g"))
    protocol = (f"Users: each target's evaluated users (overrides {dict(overrides or {})}), "
                + ("source training users included" if include_source_train_users else
                   "minus every user id the run could train on in its source domain")
                + ". p: paired Wilcoxon, trained vs untrained profiler on the same users.")
    write_text(out / "transfer.md", "# Cross-domain transfer\n\n" + protocol + "\n\n"
               + markdown_table(wide.reset_index()) + "\n\n" + markdown_table(long) + "\n")
    write_text(out / "transfer.json", json.dumps(
        {"protocol": protocol, "long": json.loads(long.to_json(orient="records")),
         "source_x_target": json.loads(wide.to_json(orient="index"))}, indent=1))
    for cell in cells:
        name = "--".join(s.split(" ")[0] for s in (cell.source, cell.target, cell.embedder))
        save_results(cell.results, out / "cells" / f"{name}.json")
    return out


def filled(wide: pd.DataFrame, embedder: str = "frozen") -> bool:
    """Whether every (source, target) cell under this embedder holds a number."""
    columns = [c for c in wide.columns if c.endswith(f"({embedder})")]
    return bool(columns) and all(str(v).startswith("MRR ") for v in wide[columns].to_numpy().ravel())


__all__ = ["Cell", "cell_rows", "default_targets", "filled", "run_embedders", "source_target_table",
           "source_users", "target_config", "transfer", "transfer_cell"]
