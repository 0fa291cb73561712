"""Compare training configurations under one budget: the kit's study loop.

    python -m bluekit compare cpu-demo rank=my_rank.yaml --steps 150 --seeds 0 1 2 \
        --eval-at 60 150 --jobs 2 --out runs/compare/rank-vs-infonce

Each configuration (a preset name or a YAML path, labelled `label=source` or by its name) is
trained once per seed with one torch thread, for `--steps` GRPO steps or `--minutes` of training
time, and evaluated on the held-out users at each `--eval-at` step (the adapter is saved there
during the same run) against the untrained profiler, user by user. The table (OUT/table.md,
.csv, .json) has one row per (configuration, seed, step) and one "mean" row per (configuration,
step): Recall@10, NDCG@10, MRR, median rank, NDCG@10 over the untrained profiler's (ndcg_x),
paired Wilcoxon p on NDCG@10 and MRR against the untrained profiler, the training reward's rise
(last quarter minus first quarter of the steps, with a bootstrap 95% CI), the share of completions cut off at the token cap, mean words, and
seconds per step (wall, and CPU: the one that compares on a shared machine).

Rerunning the same command resumes: a finished training (same config) and its evaluations are
reused, an interrupted one continues from its last checkpoint, and the same configuration with a
larger --steps continues from its last checkpoint too (a longer learning curve; exact with a
constant learning rate, TRL's schedules restart their horizon).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bluekit.config import Config, ConfigError, load_config, save_config

REFERENCE_FILE = "reference.json"  # untrained profiler + baselines on the held-out users
EVAL_FILE = "eval.json"  # one evaluation of a run folder (or a step-N folder)
UNTRAINED_FILE = "untrained.json"  # the untrained profiler prompted as this run's config says
REFERENCE_METHODS = ("raw history text", "last item", "ceiling (true tastes)")


@dataclass
class Run:
    label: str
    seed: int
    folder: Path

    @property
    def config_path(self) -> Path:
        return self.folder / "compare-config.yaml"


def parse_sources(items: list[str]) -> list[tuple[str, str]]:
    """"label=source" or "source" (labelled by the preset name or the file's stem)."""
    pairs = []
    for item in items:
        label, sep, source = item.partition("=")
        if not sep:
            label, source = Path(item).stem, item
        pairs.append((label.strip(), source.strip()))
    labels = [label for label, _ in pairs]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"compare: two configurations share a label in {labels}; "
                          "name them with label=source")
    return pairs


def run_config(source: str, run: Run, steps: int | None, minutes: float | None,
               eval_at: list[int], overrides: dict) -> Config:
    """The full config of one run: the source, the shared overrides, then the study's settings."""
    study = {"train.seed": run.seed, "train.output_dir": str(run.folder),
             "train.save_adapter_at": sorted(eval_at)}
    if steps:
        study["train.grpo.max_steps"] = steps
    if minutes:
        study["train.max_minutes"] = minutes
    return load_config(source, {**overrides, **study})


# --------------------------------------------------------------------------- one run (worker)

def train_and_evaluate(config_path: str | Path) -> None:
    """Train one run unless it finished with this very config, then evaluate its step folders
    and its final adapter (each once). Runs in its own process (python -m bluekit.compare)."""
    import torch

    from bluekit import pipeline
    from bluekit.evaluate import save_results
    from bluekit.train import train_profiler
    from bluekit.train.run import CONFIG_FILE, RUN_FILE

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    cfg = load_config(config_path)
    folder = Path(cfg.train.output_dir)
    saved = load_config(folder / CONFIG_FILE) if (folder / CONFIG_FILE).exists() else None
    same = saved is not None and without_budget(saved) == without_budget(cfg)
    if not (saved == cfg and (folder / RUN_FILE).exists()):  # not finished with this config
        (folder / EVAL_FILE).unlink(missing_ok=True)  # the final adapter will change
        if not same:
            (folder / UNTRAINED_FILE).unlink(missing_ok=True)
        # The same run with a larger budget continues from its last checkpoint (a longer curve).
        train_profiler(cfg, resume=same, progress=False)
    ws = pipeline.workspace(cfg)
    if not (folder / UNTRAINED_FILE).exists():  # a run's own prompt settings may differ
        save_results([pipeline.profiler_result(ws, "untrained profiler")], folder / UNTRAINED_FILE)
    for target in evaluation_folders(folder):
        if not (target / EVAL_FILE).exists():
            result = pipeline.profiler_result(ws, target.name, target)
            save_results([result], target / EVAL_FILE)


def without_budget(cfg: Config) -> Config:
    """The config with its budget (steps, minutes, curve points) blanked: two configs equal
    under it are one run trained for different lengths."""
    import dataclasses
    grpo = {k: v for k, v in cfg.train.grpo.items() if k != "max_steps"}
    train = dataclasses.replace(cfg.train, max_minutes=None, save_adapter_at=[], grpo=grpo)
    return dataclasses.replace(cfg, train=train)


def evaluation_folders(folder: Path) -> list[Path]:
    """The step-N folders of a run, then the run itself when its final step has no folder."""
    steps = sorted(folder.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").exists() else {}
    final_step = run.get("global_step")
    if final_step is not None and not (folder / f"step-{final_step}").exists():
        steps.append(folder)
    return steps


# --------------------------------------------------------------------------- the study (parent)

def compare(sources: list[str], out: str | Path, steps: int | None = None,
            minutes: float | None = None, seeds: list[int] = (0,), eval_at: list[int] = (),
            overrides: dict | None = None, jobs: int = 1, threads: int = 1) -> pd.DataFrame:
    """Train and evaluate every (configuration, seed); return and write the table."""
    if not steps and not minutes:
        raise ConfigError("compare: give a budget, --steps N and/or --minutes M")
    out = Path(out)
    overrides = dict(overrides or {})
    runs, configs = [], []
    for label, source in parse_sources(list(sources)):
        for seed in seeds:
            run = Run(label, int(seed), out / label / f"seed-{seed}")
            cfg = run_config(source, run, steps, minutes, list(eval_at), overrides)
            from bluekit.train import validate_train_config
            validate_train_config(cfg.train)  # every typo before hours of training
            runs.append(run)
            configs.append(cfg)
    _check_same_evaluation(configs)
    write_reference(configs[0], out)
    for run, cfg in zip(runs, configs):
        save_config(cfg, run.config_path)
    _run_workers([run for run, cfg in zip(runs, configs) if not is_done(run, cfg)], jobs, threads)
    table = study_table(out, runs)
    write_table(table, out)
    return table


def rebuild_table(out: str | Path) -> pd.DataFrame:
    """The table of a study folder as it stands (every LABEL/seed-N with a finished training),
    without training anything: to read a study while it runs, or to merge folders made by
    several compare commands."""
    out = Path(out)
    if not (out / REFERENCE_FILE).exists():
        raise ConfigError(f"compare: {out} is not a study folder (no {REFERENCE_FILE})")
    runs = [Run(folder.parent.name, int(folder.name.split("-")[1]), folder)
            for folder in sorted(out.glob("*/seed-*"))]
    table = study_table(out, runs)
    write_table(table, out)
    return table


def is_done(run: Run, cfg: Config) -> bool:
    """Trained with this very config, and every evaluation written (no process to start)."""
    from bluekit.train.run import CONFIG_FILE, RUN_FILE

    saved = run.folder / CONFIG_FILE
    if not (run.folder / RUN_FILE).exists() or not saved.exists() or load_config(saved) != cfg:
        return False  # not trained, or trained with another config or budget
    return (run.folder / UNTRAINED_FILE).exists() and \
        all((target / EVAL_FILE).exists() for target in evaluation_folders(run.folder))


def _check_same_evaluation(configs: list[Config]) -> None:
    """Every configuration must be evaluated on the same users with the same metrics (the
    profiler's prompt may differ: each run is tested against the untrained profiler prompted
    the same way)."""
    first = configs[0]
    for cfg in configs[1:]:
        if cfg.data != first.data or cfg.eval != first.eval or cfg.embed != first.embed:
            raise ConfigError("compare: configurations differ in data, eval or embed settings, so "
                              "their held-out users or metrics would differ; vary those with "
                              "--set for all of them instead")


def write_reference(cfg: Config, out: Path) -> None:
    """The untrained profiler and the text baselines on the held-out users (once per study)."""
    from bluekit import pipeline
    from bluekit.evaluate import save_results

    path = out / REFERENCE_FILE
    if path.exists():
        return
    ws = pipeline.workspace(cfg)
    untrained = pipeline.profiler_result(ws, "untrained profiler")
    baselines = [r for r in pipeline.baseline_results(ws) if r.name in REFERENCE_METHODS]
    save_results([untrained, *baselines], path)


def _run_workers(runs: list[Run], jobs: int, threads: int) -> None:
    """One process per run (one torch thread each), at most `jobs` at a time, in order."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    pending, active = list(runs), []
    while pending or active:
        while pending and len(active) < max(1, jobs):
            run = pending.pop(0)
            run.folder.mkdir(parents=True, exist_ok=True)
            log = open(run.folder / "compare.log", "a")
            print(f"[compare] {run.label} seed {run.seed}: training/evaluating "
                  f"(log: {run.folder / 'compare.log'})", flush=True)
            proc = subprocess.Popen([sys.executable, "-m", "bluekit.compare", str(run.config_path)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env)
            active.append((run, proc, log, time.time()))
        time.sleep(2)
        for entry in list(active):
            run, proc, log, start = entry
            if proc.poll() is not None:
                log.close()
                active.remove(entry)
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"[compare] {run.label} seed {run.seed}: {status} in "
                      f"{time.time() - start:.0f} s", flush=True)
                if proc.returncode != 0:
                    tail = (run.folder / "compare.log").read_text().splitlines()[-15:]
                    print("\n".join("    " + line for line in tail), flush=True)


# --------------------------------------------------------------------------- the table

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


def study_table(out: Path, runs: list[Run]) -> pd.DataFrame:
    """One row per evaluated (configuration, seed, step), then a mean row per (config, step)."""
    from bluekit.evaluate import load_results, paired_test
    from bluekit.train import load_metrics

    reference = {r.name: r for r in load_results(out / REFERENCE_FILE)}
    untrained = reference["untrained profiler"]
    rows = [_row("untrained profiler", None, 0, untrained)]
    rows += [_row(name, None, None, r) for name, r in reference.items() if name != untrained.name]
    for run in runs:
        if not (run.folder / "run.json").exists():
            continue
        own = run.folder / UNTRAINED_FILE
        base = load_results(own)[0] if own.exists() else untrained
        if not base.per_user.equals(untrained.per_user):  # another prompt: its own untrained row
            name = f"untrained profiler ({run.label} prompt)"
            if name not in {r["config"] for r in rows}:
                rows.append(_row(name, None, 0, base))
        metrics = load_metrics(run.folder)
        run_info = json.loads((run.folder / "run.json").read_text())
        for target in evaluation_folders(run.folder):
            if not (target / EVAL_FILE).exists():
                continue
            result = load_results(target / EVAL_FILE)[0]
            step = int(target.name.split("-")[1]) if target.name.startswith("step-") \
                else int(run_info["global_step"])
            row = _row(run.label, run.seed, step, result)
            for metric, key in (("ndcg@10", "p_ndcg@10"), ("mrr", "p_mrr")):
                row[key] = paired_test(base, result, metric)["p_value"]
            row["ndcg_x"] = result.summary["ndcg@10"] / max(base.summary["ndcg@10"], 1e-12)
            row.update(training_stats(metrics, step))
            rows.append(row)
    table = pd.DataFrame(rows)
    trained = table[table["seed"].notna()]
    if len(trained):
        means = trained.groupby(["config", "step"], sort=False).mean(numeric_only=True).reset_index()
        means["seed"] = "mean"
        counts = trained.groupby(["config", "step"], sort=False)
        means["seeds_p_mrr<0.05"] = counts["p_mrr"].apply(lambda p: f"{(p < 0.05).sum()}/{len(p)}").values
        table = pd.concat([table, means], ignore_index=True)
    table["seed"] = [s if isinstance(s, str) or s is None or np.isnan(s) else int(s)
                     for s in table["seed"]]
    return table[[c for c in COLUMNS if c in table.columns]]


def _row(config: str, seed, step, result) -> dict:
    s = result.summary
    return {"config": config, "seed": seed, "step": step, "recall@10": s.get("recall@10"),
            "ndcg@10": s.get("ndcg@10"), "mrr": s.get("mrr"), "median_rank": s.get("median_rank"),
            "n": s.get("n")}


COLUMNS = ["config", "seed", "step", "recall@10", "ndcg@10", "mrr", "median_rank", "ndcg_x", "p_ndcg@10",
           "p_mrr", "seeds_p_mrr<0.05", "reward_first_q", "reward_last_q", "reward_rise",
           "rise_ci_low", "rise_ci_high", "clipped", "words", "s_per_step", "cpu_s_per_step", "n"]


def write_table(table: pd.DataFrame, out: Path) -> None:
    """table.csv, table.json and table.md (rounded, readable) in the study folder."""
    from bluekit.atomic import atomic_path, write_text

    with atomic_path(out / "table.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_text(out / "table.json", table.to_json(orient="records", indent=1))
    write_text(out / "table.md", markdown_table(table) + "\n")


def markdown_table(table: pd.DataFrame) -> str:
    """The table as Markdown: metrics to 3-4 digits, p-values in 2 significant digits."""
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
            return f"{value:.3f}" if abs(value) >= 0.1 else f"{value:.4f}"
        return str(value)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(fmt(c, row[c]) for c in table.columns) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # the worker: python -m bluekit.compare RUN/compare-config.yaml
    train_and_evaluate(sys.argv[1])
