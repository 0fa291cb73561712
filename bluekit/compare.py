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

`--vs LABEL` also pairs every other configuration with LABEL's runs on the same held-out users,
per seed and pooled over seeds (OUT/table-vs-LABEL.md, .csv, .json; method: bluekit.study_table).

A reward module next to a config file (`cat_rewards.py` beside `cat.yaml`) is found by the workers
too: the config folders go to them on PYTHONPATH. A run whose worker fails is named, with its log,
in the table and in the error compare ends with (the CLI exits with status 2).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from bluekit.config import IMPORT_FOLDERS, Config, ConfigError, load_config, save_config
# The table code lives in study_table; markdown_table and reward_rise stay importable from here.
from bluekit.study_table import (EVAL_FILE, REFERENCE_FILE, UNTRAINED_FILE, Run, StudyError,  # noqa: F401
                                 evaluation_folders, markdown_table, reward_rise, study_runs,
                                 study_table, vs_table, write_table, write_vs_table)

REFERENCE_METHODS = ("raw history text", "last item", "ceiling (true tastes)")


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
        raise ConfigError(f"two sources share a label in {labels}; name them with label=source")
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
    """The config with its budget (steps, minutes, curve points) and its folder blanked: two
    configs equal under it are one run trained for different lengths (a run folder copied or
    moved to another study resumes too)."""
    import dataclasses
    grpo = {k: v for k, v in cfg.train.grpo.items() if k != "max_steps"}
    train = dataclasses.replace(cfg.train, max_minutes=None, save_adapter_at=[], grpo=grpo,
                                output_dir="")
    return dataclasses.replace(cfg, train=train)


# --------------------------------------------------------------------------- the study (parent)

def compare(sources: list[str], out: str | Path, steps: int | None = None,
            minutes: float | None = None, seeds: list[int] = (0,), eval_at: list[int] = (),
            overrides: dict | None = None, jobs: int = 1, threads: int = 1,
            vs: str | None = None) -> pd.DataFrame:
    """Train and evaluate every (configuration, seed); return and write the table (and, with
    `vs`, the table of every other configuration against that label). Raises StudyError naming
    each failed run and its log, after writing the tables of the runs that finished."""
    if not steps and not minutes:
        raise ConfigError("compare: give a budget, --steps N and/or --minutes M")
    out = Path(out)
    overrides = dict(overrides or {})
    runs, configs = [], []
    pairs = parse_sources(list(sources))
    if vs is not None and vs not in [label for label, _ in pairs]:
        raise ConfigError(f"compare: --vs {vs} is not one of the configurations "
                          f"{[label for label, _ in pairs]}")
    for label, source in pairs:
        for seed in seeds:
            run = Run(label, int(seed), out / label / f"seed-{seed}")
            cfg = run_config(source, run, steps, minutes, list(eval_at), overrides)
            from bluekit.train import validate_train_config
            validate_train_config(cfg.train)  # every typo before hours of training
            _check_rewards(cfg)
            runs.append(run)
            configs.append(cfg)
    _check_same_evaluation(configs)
    write_reference(configs[0], out)
    for run, cfg in zip(runs, configs):
        save_config(cfg, run.config_path)
    failed = _run_workers([run for run, cfg in zip(runs, configs) if not is_done(run, cfg)], jobs, threads)
    table = study_table(out, runs)
    write_table(table, out)
    if vs is not None:
        write_vs_table(vs_table(out, runs, vs), out, vs)
    if failed:
        raise StudyError(f"compare: {len(failed)} of {len(runs)} runs failed, the tables in {out} "
                         "leave them out: " + "; ".join(
                             f"{run.label} seed {run.seed} (log: {run.log}: {_last_line(run.log)})"
                             for run in failed))
    return table


def rebuild_table(out: str | Path, vs: str | None = None) -> pd.DataFrame:
    """The table of a study folder as it stands (every LABEL/seed-N with a finished training),
    without training anything: to read a study while it runs, or to merge folders made by
    several compare commands. With `vs`, returns (and writes) the table against that label."""
    out = Path(out)
    runs = study_runs(out)
    table = study_table(out, runs)
    write_table(table, out)
    if vs is not None:
        table = vs_table(out, runs, vs)
        write_vs_table(table, out, vs)
    return table


def _check_rewards(cfg: Config) -> None:
    """Every reward name resolves (a module next to the config imports) before any training."""
    from bluekit.rewards.registry import resolve
    for spec in cfg.train.rewards:
        resolve(spec.name)


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()] \
        if path.exists() else []
    return lines[-1].strip()[:300] if lines else "empty"


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
    # raw history text (ranked once, above) and "no profile" carry the readability measures
    readable = pipeline.readability_references(ws, baselines)
    names = {r.name for r in readable}
    save_results([untrained, *readable, *(r for r in baselines if r.name not in names)], path)


def _run_workers(runs: list[Run], jobs: int, threads: int) -> list[Run]:
    """One process per run (one torch thread each), at most `jobs` at a time, in order.
    Returns the runs whose process failed."""
    # The workers import rewards from the configs' folders, as this process does.
    path = os.pathsep.join([*IMPORT_FOLDERS, os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": path}
    pending, active, failed = list(runs), [], []
    while pending or active:
        while pending and len(active) < max(1, jobs):
            run = pending.pop(0)
            run.folder.mkdir(parents=True, exist_ok=True)
            log = open(run.log, "a")
            print(f"[compare] {run.label} seed {run.seed}: training/evaluating (log: {run.log})",
                  flush=True)
            proc = subprocess.Popen([sys.executable, "-m", "bluekit.compare", str(run.config_path)],
                                    stdout=log, stderr=subprocess.STDOUT, env=env)
            active.append((run, proc, log, time.time()))
        time.sleep(0.5)
        for entry in list(active):
            run, proc, log, start = entry
            if proc.poll() is not None:
                log.close()
                active.remove(entry)
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
                print(f"[compare] {run.label} seed {run.seed}: {status} in "
                      f"{time.time() - start:.0f} s", flush=True)
                if proc.returncode != 0:
                    failed.append(run)
                    tail = run.log.read_text(errors="replace").splitlines()[-15:]
                    print("\n".join("    " + line for line in tail), flush=True)
    return failed


if __name__ == "__main__":  # the worker: python -m bluekit.compare RUN/compare-config.yaml
    train_and_evaluate(sys.argv[1])
