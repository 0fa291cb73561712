"""A study folder (what `python -m bluekit compare` writes) and its tables.

    OUT/reference.json                    the untrained profiler + text baselines, held-out users
    OUT/LABEL/seed-N/                     one training run (config.yaml, run.json, metrics.jsonl, ...)
    OUT/LABEL/seed-N/compare.log          the worker's output (read it when a run failed)
    OUT/LABEL/seed-N/[step-K/]eval.json   the held-out evaluation of the adapter at that step
    OUT/table.md/.csv/.json               every run against the untrained profiler
    OUT/table-vs-LABEL.md/.csv/.json      every other configuration against LABEL (`--vs LABEL`)

Both tables are rebuilt from the folders alone (`python -m bluekit table OUT [--vs LABEL]`).

The main table (:func:`study_table`) has one row per (configuration, seed, step) and one "mean"
row per (configuration, step): Recall@10, NDCG@10, MRR, median rank, ndcg_x (NDCG@10 over the
untrained profiler's; blank when that is 0), paired Wilcoxon p on NDCG@10 and MRR against the
untrained profiler, the training reward's rise, clipped completions, words and seconds per step.
When the evaluations carry readability measures (bluekit.readability.READABILITY_METRICS), each
gets its mean (its 95% CI in the csv/json) and a paired p against the untrained profiler.

The `--vs LABEL` table (:func:`vs_table`) has one row per other (configuration, step), paired with
LABEL's runs on the same held-out users: per seed (seed s of the variant against seed s of LABEL,
user by user), and pooled over the seeds both have. Pooling averages each user's metric over those
seeds first, then pairs users (n = users): a user's seeds are not independent draws, so they are
not counted as separate pairs. Every pairing is bluekit.evaluate.paired_test: Wilcoxon signed-rank
p and the mean difference (variant minus LABEL) with a paired bootstrap 95% CI.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bluekit.atomic import read_json
from bluekit.errors import FileFormatError, KitError

REFERENCE_FILE = "reference.json"  # untrained profiler + baselines on the held-out users
EVAL_FILE = "eval.json"  # one evaluation of a run folder (or a step-N folder)
UNTRAINED_FILE = "untrained.json"  # the untrained profiler prompted as this run's config says
LOG_FILE = "compare.log"  # a worker's output
VS_METRICS = ("mrr", "ndcg@10")  # the rank metrics a --vs table pairs (readability ones join them)


class StudyError(KitError):
    """A study folder or one of its files cannot be read, or a run in it failed."""


@dataclass
class Run:
    label: str
    seed: int
    folder: Path

    @property
    def config_path(self) -> Path:
        return self.folder / "compare-config.yaml"

    @property
    def log(self) -> Path:
        return self.folder / LOG_FILE


def study_runs(out: Path) -> list[Run]:
    """Every LABEL/seed-N folder of a study folder."""
    if not (out / REFERENCE_FILE).exists():
        raise StudyError(f"{out} is not a study folder (no {REFERENCE_FILE}); compare writes one")
    runs = []
    for folder in sorted(out.glob("*/seed-*")):
        try:
            runs.append(Run(folder.parent.name, int(folder.name.split("-")[1]), folder))
        except ValueError:
            continue  # seed-notes or the like: not a run
    return runs


def evaluation_steps(folder: Path) -> list[tuple[int, Path]]:
    """(step, folder) for the step-N folders of a run, then the run itself at its final step when
    that step has no folder."""
    steps = sorted((int(p.name[5:]), p) for p in folder.glob("step-*") if p.name[5:].isdigit())
    final_step = read_json(folder / "run.json").get("global_step") if (folder / "run.json").exists() else None
    if final_step is not None and not (folder / f"step-{final_step}").exists():
        steps.append((int(final_step), folder))
    return steps


def evaluation_folders(folder: Path) -> list[Path]:
    """The folders of :func:`evaluation_steps`, in step order."""
    return [path for _, path in evaluation_steps(folder)]


def read_results(path: Path) -> list:
    """The MethodResults in a results file, or a one-line error naming it."""
    from bluekit.evaluate import load_results
    try:
        return load_results(path)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FileFormatError(f"{path}: not a readable results file ({type(err).__name__}: {err})") from err


def evaluations(out: Path, runs: list[Run]):
    """(run, step, result, untrained result of its prompt) for every evaluated adapter."""
    untrained = reference_results(out)["untrained profiler"]
    for run in runs:
        if not (run.folder / "run.json").exists():
            continue
        own = run.folder / UNTRAINED_FILE
        base = read_results(own)[0] if own.exists() else untrained
        for step, target in evaluation_steps(run.folder):
            if (target / EVAL_FILE).exists():
                yield run, step, read_results(target / EVAL_FILE)[0], base


def reference_results(out: Path) -> dict:
    return {r.name: r for r in read_results(out / REFERENCE_FILE)}


# --------------------------------------------------------------------------- training statistics

def reward_rise(rewards: np.ndarray, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean training reward of the last quarter of steps minus the first quarter, with a
    bootstrap 95% CI (each quarter resampled on its own).

    >>> r = reward_rise(np.r_[np.zeros(10), np.ones(10) * 2.0])
    >>> float(r["rise"]), bool(r["ci_low"] > 0)
    (2.0, True)
    """
    rewards = np.asarray(rewards, dtype=float)
    rewards = rewards[np.isfinite(rewards)]
    q = len(rewards) // 4
    if q < 2:
        return {"first": np.nan, "last": np.nan, "rise": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    first, last = rewards[:q], rewards[-q:]
    rng = np.random.default_rng(seed)
    boot = (last[rng.integers(0, q, (n_boot, q))].mean(1) - first[rng.integers(0, q, (n_boot, q))].mean(1))
    return {"first": float(first.mean()), "last": float(last.mean()),
            "rise": float(last.mean() - first.mean()),
            "ci_low": float(np.quantile(boot, 0.025)), "ci_high": float(np.quantile(boot, 0.975))}


def training_stats(metrics: pd.DataFrame, step: int) -> dict:
    """Reward rise, clipped share, mean words and seconds per step over steps 1..step."""
    train = metrics[metrics.get("reward", pd.Series(dtype=float)).notna()] if len(metrics) else metrics
    train = train[train["step"] <= step] if len(train) else train
    if not len(train):
        return {}
    rise = reward_rise(train.sort_values("step")["reward"].to_numpy())
    quarter = train[train["step"] > step - max(1, step // 4)]
    stats = {"reward_first_q": rise["first"], "reward_last_q": rise["last"],
             "reward_rise": rise["rise"], "rise_ci_low": rise["ci_low"], "rise_ci_high": rise["ci_high"]}
    if "completions/clipped_ratio" in train:
        stats["clipped"] = float(train["completions/clipped_ratio"].mean())
    if "completions/mean_words" in quarter:
        stats["words"] = float(quarter["completions/mean_words"].mean())
    steps = train.drop_duplicates("step", keep="last")
    for column, key in (("elapsed_s", "s_per_step"), ("cpu_s", "cpu_s_per_step")):
        if column in steps:  # the median step: robust to a resume and to a stall
            stats[key] = float(np.median(np.diff(np.r_[0.0, steps[column].to_numpy()])))
    return stats


# --------------------------------------------------------------------------- the main table

def readability_metrics(results) -> list[str]:
    """The readability measures any of these results carries (none: no columns). A result
    without one (an older reference.json) shows a blank, and its tests are blank too."""
    from bluekit.readability import READABILITY_METRICS
    results = list(results)
    return [m for m in READABILITY_METRICS if any(m in r.per_user for r in results)]


def _paired(a, b, metric: str) -> dict | None:
    """paired_test(a, b, metric), or None when one of them lacks the column or the users."""
    from bluekit.evaluate import paired_test
    try:
        return paired_test(a, b, metric)
    except (KeyError, ValueError):
        return None


def _paired_p(base, result, metric: str) -> float:
    test = _paired(base, result, metric)
    return test["p_value"] if test else float("nan")


def study_table(out: Path, runs: list[Run]) -> pd.DataFrame:
    """One row per evaluated (configuration, seed, step), then a mean row per (config, step);
    a run without a finished training gets a row that says so and where its log is."""
    from bluekit.train import load_metrics

    reference = reference_results(out)
    untrained = reference["untrained profiler"]
    found = list(evaluations(out, runs))
    readable = readability_metrics([untrained] + [result for _, _, result, _ in found])
    rows = [_row("untrained profiler", None, 0, untrained, readable)]
    rows += [_row(name, None, None, r, readable) for name, r in reference.items() if name != untrained.name]
    metrics = {}
    for run, step, result, base in found:
        if not base.per_user.equals(untrained.per_user):  # another prompt: its own untrained row
            name = f"untrained profiler ({run.label} prompt)"
            if name not in {r["config"] for r in rows}:
                rows.append(_row(name, None, 0, base, readable))
        row = _row(run.label, run.seed, step, result, readable)
        for metric in ("ndcg@10", "mrr", *readable):
            row[f"p_{metric}"] = _paired_p(base, result, metric)
        base_ndcg = base.summary.get("ndcg@10") or 0.0
        row["ndcg_x"] = result.summary["ndcg@10"] / base_ndcg if base_ndcg > 0 else np.nan
        if run.folder not in metrics:
            metrics[run.folder] = load_metrics(run.folder)
        row.update(training_stats(metrics[run.folder], step))
        rows.append(row)
    for run in runs:  # said in the table, not only in the console
        if not (run.folder / "run.json").exists():
            rows.append({"config": run.label, "seed": run.seed,
                         "note": f"training not finished (running, or failed: see {run.log})"})
    table = pd.DataFrame(rows)
    trained = table[table["seed"].notna() & table["step"].notna()]
    if len(trained):
        means = trained.groupby(["config", "step"], sort=False).mean(numeric_only=True).reset_index()
        means["seed"] = "mean"
        counts = trained.groupby(["config", "step"], sort=False)
        means["seeds_p_mrr<0.05"] = counts["p_mrr"].apply(lambda p: f"{(p < 0.05).sum()}/{len(p)}").values
        table = pd.concat([table, means], ignore_index=True)
    table["seed"] = [s if isinstance(s, str) or s is None or np.isnan(s) else int(s)
                     for s in table["seed"]]
    columns = COLUMNS[:-1] + [c for m in readable for c in (m, f"{m}_ci_low", f"{m}_ci_high", f"p_{m}")] \
        + COLUMNS[-1:] + ["note"]
    return table[[c for c in columns if c in table.columns]]


def _row(config: str, seed, step, result, readable=()) -> dict:
    s = result.summary
    row = {"config": config, "seed": seed, "step": step, "recall@10": s.get("recall@10"),
           "ndcg@10": s.get("ndcg@10"), "mrr": s.get("mrr"), "median_rank": s.get("median_rank"),
           "n": s.get("n")}
    for m in readable:
        mean = s.get(m, result.per_user[m].mean() if m in result.per_user else np.nan)
        row.update({m: mean, f"{m}_ci_low": s.get(f"{m}_ci_low"), f"{m}_ci_high": s.get(f"{m}_ci_high")})
    return row


COLUMNS = ["config", "seed", "step", "recall@10", "ndcg@10", "mrr", "median_rank", "ndcg_x", "p_ndcg@10",
           "p_mrr", "seeds_p_mrr<0.05", "reward_first_q", "reward_last_q", "reward_rise",
           "rise_ci_low", "rise_ci_high", "clipped", "words", "s_per_step", "cpu_s_per_step", "n"]


# --------------------------------------------------------------------------- against one configuration

def pooled(results: list, name: str):
    """One MethodResult whose per-user metrics are each user's mean over the given results
    (the seeds of one configuration): n stays the number of users."""
    from bluekit.evaluate import MethodResult
    frame = pd.concat([r.per_user for r in results], ignore_index=True)
    per_user = frame.groupby("user_id", sort=False).mean(numeric_only=True).reset_index()
    return MethodResult(name, per_user, {"n": len(per_user)})


def vs_table(out: Path, runs: list[Run], label: str) -> pd.DataFrame:
    """Every other configuration paired with `label` at the same step (see the module docstring):
    one row per (configuration, step), pooled over the seeds both have, per-seed p-values and
    differences beside. Differences are the variant minus `label`."""
    found = {}
    for run, step, result, _ in evaluations(out, runs):
        found.setdefault((run.label, step), {})[run.seed] = result
    if not any(config == label for config, _ in found):
        known = sorted({config for config, _ in found})
        raise StudyError(f"--vs {label}: no evaluated run of {label!r} in {out} (configurations: {known})")
    readable = readability_metrics([r for by_seed in found.values() for r in by_seed.values()])
    rows = []
    for (config, step), by_seed in found.items():
        reference = found.get((label, step), {})
        seeds = sorted(set(by_seed) & set(reference))
        if config == label or not seeds:
            continue
        row = {"config": config, "step": step, "vs": label, "seeds": " ".join(map(str, seeds))}
        variant, ref = pooled([by_seed[s] for s in seeds], config), pooled([reference[s] for s in seeds], label)
        row["n_users"] = variant.summary["n"]
        for metric in (*VS_METRICS, *readable):
            test = _paired(variant, ref, metric)
            per_seed = [_paired(by_seed[s], reference[s], metric) for s in seeds]
            if test is None or None in per_seed:
                continue
            row.update({metric: test["mean_a"], f"{metric}_vs": test["mean_b"], f"d_{metric}": test["mean_diff"],
                        f"d_{metric}_ci_low": test["ci_low"], f"d_{metric}_ci_high": test["ci_high"],
                        f"p_{metric}": test["p_value"],
                        f"d_{metric}_per_seed": " ".join(f"{t['mean_diff']:.4g}" for t in per_seed),
                        f"p_{metric}_per_seed": " ".join(f"{t['p_value']:.2g}" for t in per_seed)})
        rows.append(row)
    return pd.DataFrame(rows)


def vs_markdown(table: pd.DataFrame, label: str) -> str:
    """The --vs table as Markdown: one row per configuration and step, a few combined cells."""
    if table.empty:
        return f"(no configuration shares a step and a seed with {label})"
    readable = [c[2:] for c in table.columns if c.startswith("d_") and c[2:] not in VS_METRICS
                and not c.endswith(("_ci_low", "_ci_high", "_per_seed"))]
    head = ["config", "step", "seeds", "users"]
    for m in VS_METRICS:
        head += [f"{m} ({label} → config)", f"Δ{m} [95% CI]", f"p {m} pooled (per seed)"]
    head += [f"Δ{m} (p)" for m in readable]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [str(r["config"]), f"{r['step']:g}", str(r["seeds"]), f"{r['n_users']:g}"]
        for m in VS_METRICS:
            if f"d_{m}" not in r or pd.isna(r[f"d_{m}"]):
                cells += ["", "", ""]
                continue
            per_seed = ", ".join(r[f"p_{m}_per_seed"].split())
            cells += [f"{_num(r[f'{m}_vs'])} → {_num(r[m])}",
                      f"{r[f'd_{m}']:+.4f} [{r[f'd_{m}_ci_low']:+.4f}, {r[f'd_{m}_ci_high']:+.4f}]",
                      f"{r[f'p_{m}']:.2g}" + (f" ({per_seed})" if len(r['seeds'].split()) > 1 else "")]
        cells += ["" if pd.isna(r.get(f"d_{m}")) else f"{r[f'd_{m}']:+.3g} ({r[f'p_{m}']:.2g})"
                  for m in readable]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + (f"\n\nΔ = config minus {label}, user by user on the same held-out users; "
                               "pooled: each user's mean over the seeds both have, Wilcoxon signed-rank "
                               "p and a paired bootstrap CI over users.")


# --------------------------------------------------------------------------- writing

def write_table(table: pd.DataFrame, out: Path, name: str = "table", markdown: str | None = None) -> None:
    """NAME.csv, NAME.json and NAME.md (rounded, readable) in the study folder."""
    from bluekit.atomic import atomic_path, write_text

    with atomic_path(out / f"{name}.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_text(out / f"{name}.json", table.to_json(orient="records", indent=1))
    write_text(out / f"{name}.md", (markdown if markdown is not None else markdown_table(table)) + "\n")


def write_vs_table(table: pd.DataFrame, out: Path, label: str) -> str:
    """table-vs-LABEL.md/.csv/.json; returns the Markdown."""
    text = vs_markdown(table, label)
    write_table(table, out, f"table-vs-{label}", text)
    return text


def _num(value: float) -> str:
    return f"{value:.3f}" if abs(value) >= 0.1 else f"{value:.4f}"


def markdown_table(table: pd.DataFrame) -> str:
    """The table as Markdown: metrics to 3-4 digits, p-values in 2 significant digits. Each
    readability measure takes one column, "mean (p against the untrained profiler)"; their CIs
    stay in the csv/json (too many columns to read)."""
    from bluekit.readability import READABILITY_METRICS
    readable = [m for m in READABILITY_METRICS if m in table.columns]
    hidden = {f"{m}_{end}" for m in readable for end in ("ci_low", "ci_high")} | {f"p_{m}" for m in readable}
    columns = [c for c in table.columns if c not in hidden]

    def fmt(column, value):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if column.startswith("p_"):
            return f"{value:.2g}"
        if column in ("seed", "step", "n", "median_rank") and isinstance(value, (int, float)):
            return f"{value:g}"
        if column in ("clipped",):
            return f"{100 * value:.0f}%"
        if isinstance(value, float):
            return _num(value)
        return str(value)
    def cell(row, column):
        p = row.get(f"p_{column}") if column in readable else None
        return fmt(column, row[column]) + ("" if p is None or pd.isna(p) else f" ({p:.2g})")
    head = [f"{c} (p)" if c in readable else c for c in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(columns)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(cell(row, c) for c in columns) + " |")
    return "\n".join(lines)
