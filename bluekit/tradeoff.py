"""Rank against readability: one point per evaluated profiler, and which of issue 13's targets
each one meets (docs/READABILITY.md).

A rank reward can buy rank by turning profiles into descriptions of the next item; a readability
term can buy readable text that ranks like the untrained profiler. This module puts every
evaluated profiler of one or more study folders (what `compare` writes) or results files (what
`evaluate` writes) on the same page, against ONE untrained profiler on the same held-out users:

    python -m bluekit tradeoff runs/study/r4 runs/compare/cat cpu-long=runs/bench/cpu-long-eval.json \\
        --against runs/compare/cat --out runs/tradeoff

The targets (each a column, all against the one untrained profiler, paired by user):
    rank:        MRR higher with paired Wilcoxon p < 0.05, and NDCG@10 at least 2x;
    about user:  item-description share at most the untrained share + 10 points;
    not repetitive: repetition share no higher than the untrained one;
    coverage, quiz: history coverage and quiz accuracy at least the untrained ones.
"Not higher" and "at least" compare means: a trained profiler that ties the untrained one within
noise can miss them by a hair, which the table shows with the numbers.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from bluekit.compare import parse_sources
from bluekit.errors import KitError

UNTRAINED = "untrained profiler"
ITEM_MARGIN = 0.10  # item-description share may rise this much over the untrained profiler's
NDCG_FACTOR = 2.0
COLUMNS = ("mrr", "ndcg@10", "item_description", "repetitive", "history_coverage",
           "quiz_accuracy", "fluency")
TARGETS = ("rank", "about_user", "not_repetitive", "coverage", "quiz")


def load_points(sources: list[str]) -> tuple[list[tuple[str, object]], dict]:
    """(label, MethodResult) for every evaluated profiler of the sources, and per source its
    reference results (untrained profiler, raw history text, ...) by name.

    A source is a study folder (every LABEL/seed-N[/step-K] evaluation: label
    "SOURCE/LABEL seed N step K") or a results file (label "SOURCE/METHOD"); "NAME=PATH" names it.
    """
    from bluekit.study_table import evaluations, read_results, reference_results, study_runs

    points, references = [], {}
    for name, path in parse_sources(sources):
        path = Path(path)
        if path.is_dir():
            references[name] = reference_results(path)
            for run, step, result, _ in evaluations(path, study_runs(path)):
                points.append((f"{name}/{run.label} seed {run.seed} step {step}", result))
        elif path.is_file():
            results = {r.name: r for r in read_results(path)}
            references[name] = {n: r for n, r in results.items() if n in _REFERENCE_NAMES}
            points += [(f"{name}/{n}", r) for n, r in results.items() if n not in _REFERENCE_NAMES]
        else:
            raise KitError(f"tradeoff: {path} is neither a study folder nor a results file")
    return points, references


_REFERENCE_NAMES = {UNTRAINED, "raw history text", "no profile", "last item", "random", "popularity",
                    "ceiling (target title)"}


def meets_targets(result, untrained) -> dict:
    """Issue 13's targets for one profiler against the untrained one (paired by user)."""
    from bluekit.evaluate import paired_test

    s, u = result.summary, untrained.summary
    p_mrr = paired_test(untrained, result, "mrr")["p_value"]
    row = {"p_mrr": p_mrr,
           "rank": bool(s["mrr"] > u["mrr"] and p_mrr < 0.05
                        and s["ndcg@10"] >= NDCG_FACTOR * u["ndcg@10"])}
    if "item_description" in s and "item_description" in u:
        row.update(
            about_user=bool(s["item_description"] <= u["item_description"] + ITEM_MARGIN),
            not_repetitive=bool(s["repetitive"] <= u["repetitive"]),
            coverage=bool(s["history_coverage"] >= u["history_coverage"]),
            quiz=bool(s["quiz_accuracy"] >= u["quiz_accuracy"]))
    return row


def tradeoff_table(sources: list[str], against: str | None = None) -> pd.DataFrame:
    """One row per profiler (and the references of the `against` source, first), with its rank
    and readability means and the targets it meets against that source's untrained profiler
    (default: the first source's)."""
    points, references = load_points(sources)
    if not references:
        raise KitError("tradeoff: give at least one study folder or results file")
    key = against if against is not None else next(iter(references))
    key = parse_sources([key])[0][0]
    if key not in references or UNTRAINED not in references[key]:
        raise KitError(f"tradeoff: --against {key}: no {UNTRAINED!r} there (sources: {list(references)})")
    untrained = references[key][UNTRAINED]
    rows = [{"profiler": f"{key}/{name}", "reference": True,
             **{c: result.summary.get(c) for c in COLUMNS}}
            for name, result in references[key].items() if name != "random"]
    for label, result in points:
        row = {"profiler": label, "reference": False, **{c: result.summary.get(c) for c in COLUMNS}}
        row.update(meets_targets(result, untrained))
        row["all_targets"] = all(row.get(t) is True for t in TARGETS)
        rows.append(row)
    return pd.DataFrame(rows)


def tradeoff_figure(table: pd.DataFrame):
    """Two panels, one point per profiler: MRR against the item-description share, and MRR
    against fluency (log-likelihood per token under the base profiler: higher reads more
    naturally). Filled markers meet every target; references are grey crosses."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=(
        "describes an item (share of held-out profiles)", "fluency (mean token log-likelihood)"))
    groups = [("reference", table[table.reference], dict(symbol="x", color="grey", size=10)),
              ("trained, misses a target", table[~table.reference & ~table.all_targets.fillna(False).astype(bool)],
               dict(symbol="circle-open", color="#d62728", size=10)),
              ("trained, meets every target", table[~table.reference & table.all_targets.fillna(False).astype(bool)],
               dict(symbol="circle", color="#2ca02c", size=11))]
    for col, x in ((1, "item_description"), (2, "fluency")):
        for name, rows, marker in groups:
            rows = rows[rows[x].notna()]
            fig.add_trace(go.Scatter(x=rows[x], y=rows["mrr"], mode="markers", name=name,
                                     marker=marker, text=rows["profiler"], showlegend=col == 1,
                                     legendgroup=name, hovertemplate="%{text}<br>x %{x:.3g}, MRR %{y:.4f}"),
                          row=1, col=col)
    fig.update_yaxes(title_text="held-out MRR", row=1, col=1)
    fig.update_layout(title="Rank against readability (one point per evaluated profiler)",
                      height=460, width=1000, template="plotly_white")
    return fig


def write_tradeoff(table: pd.DataFrame, out: str | Path) -> Path:
    """tradeoff.csv/.json/.md and tradeoff.html (one offline file) in `out`."""
    from bluekit.study_table import markdown_table, write_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_table(table, out, name="tradeoff", markdown=markdown_table(table))
    tradeoff_figure(table).write_html(out / "tradeoff.html", include_plotlyjs=True)
    return out
