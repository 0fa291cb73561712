"""Committed training runs: a finished run's small outputs copied into data/pretrained/<name>/.

A CPU cannot show a well-trained profiler in the minutes of `make demo`, so `make train-long`
trains the `cpu-long` preset for about an hour and publishes the result here, with the exact
command, config and seed. The folder has a run folder's layout, so everything that reads runs
reads it too:

    model, tok = load_trained_profiler(pretrained_run("cpu-long"))
    snapshots = load_snapshots(pretrained_run("cpu-long"))

Whatever shows these outputs must say they come from that run, not from the short demo run.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bluekit.atomic import read_json, write_json
from bluekit.train.records import METRICS_FILE, SNAPSHOTS_FILE
from bluekit.train.run import CONFIG_FILE, FINAL_DIR, PROFILES_FILE, RUN_FILE

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "data" / "pretrained"
# What is published: the adapter (a few MB), logs and records; no checkpoints, no tokenizer
# (the base profiler's tokenizer is used: a LoRA run does not change it).
PUBLISHED_FILES = (CONFIG_FILE, RUN_FILE, METRICS_FILE, SNAPSHOTS_FILE,
                   f"{FINAL_DIR}/adapter_config.json", f"{FINAL_DIR}/adapter_model.safetensors")
# Copied when present: evaluate the run first (python -m bluekit evaluate --run RUN) so the
# notebooks reuse its held-out profiles instead of generating them again.
OPTIONAL_FILES = (PROFILES_FILE,)
README = "README.md"


def pretrained_run(name: str, root: str | Path = PRETRAINED_DIR) -> Path:
    """The folder of a published run, e.g. pretrained_run("cpu-long")."""
    folder = Path(root) / name
    if not (folder / CONFIG_FILE).exists():
        have = sorted(p.name for p in Path(root).glob("*/") if (p / CONFIG_FILE).exists())
        raise FileNotFoundError(f"no published run {name!r} in {root} (have: {have or 'none'}); "
                                f"`make train-long` trains and publishes cpu-long")
    return folder


CURVE_FILE = "curve.md"


def publish_run(run_dir: str | Path, name: str, command: str,
                root: str | Path = PRETRAINED_DIR, curve: str | Path | None = None,
                step: str | int | None = None) -> Path:
    """Copy a finished LoRA run's adapter, config, logs and snapshots to root/name (atomically).

    command: the exact command line that produced the run, written into the README.
    curve: a `python -m bluekit compare` table of the run (its held-out learning curve), shipped
    as curve.md and shown in the README.
    step: None publishes the final adapter; "chosen" the adapter of the step `select` chose on
    validation users (its selection.json travels too, and the README shows its table); a number,
    that saved step. The held-out profiles (test_profiles.json) come from the same folder.
    """
    from bluekit.selection import SELECTION_FILE, resolve_step

    run_dir = Path(run_dir)
    chosen_step, adapter_dir = resolve_step(run_dir, None if step is None else str(step))
    sources = {rel: (adapter_dir if rel.startswith(f"{FINAL_DIR}/") else run_dir) / rel
               for rel in PUBLISHED_FILES}
    missing = [str(path) for path in sources.values() if not path.exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a finished LoRA run: missing {missing}")
    run = read_json(run_dir / RUN_FILE)
    if adapter_dir != run_dir:  # an earlier step than the run's last: run.json says which
        run["published_step"] = chosen_step
    selection = read_json(run_dir / SELECTION_FILE) if step == "chosen" else None
    dest = Path(root) / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a published folder is for everyone
    sources.update({rel: adapter_dir / rel for rel in OPTIONAL_FILES if (adapter_dir / rel).exists()})
    for rel, source in sources.items():
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, staging / rel)
    if "published_step" in run:
        write_json(staging / RUN_FILE, run)
    if selection is not None:
        write_json(staging / SELECTION_FILE, selection)
    tuned = run_dir / "embedder"  # a run with embed.trainable: its tuned embedder travels with it
    if tuned.is_dir():
        shutil.copytree(tuned, staging / "embedder")
    curve_text = Path(curve).read_text() if curve else ""
    if curve_text:
        (staging / CURVE_FILE).write_text(curve_text)
    (staging / README).write_text(_readme(name, command, run, curve_text, selection))
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return dest


def _readme(name: str, command: str, run: dict, curve: str = "", selection: dict | None = None) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items())
    text = f"""# Published training run: {name}

Produced by `{command}` from a clone at commit {run.get('git_commit') or 'unknown'}
(seed {run.get('seed')}, {run.get('global_step')} GRPO steps, {run.get('total_wall_time_s', run.get('wall_time_s', 0)):.0f} s of training,
backend {run.get('backend')}; {versions}). `config.yaml` is the full config of the run;
`run.json` has the timings.

This is a LONG CPU run (`{command}`), not the short `make demo` run. Label it as such
wherever it is shown. Files: `final/` (LoRA adapter; the base profiler's tokenizer is used),
`metrics.jsonl` (every training log line), `snapshots.jsonl` (the held-out panel's profiles every
few steps, for the widgets), `test_profiles.json` (every held-out user's profile, so notebooks
need not generate them), `curve.md` (the held-out learning curve, when published with one).
"""
    if "published_step" in run:
        text += (f"\n**The adapter in `final/` is step {run['published_step']}'s of "
                 f"{run.get('global_step')}**" + (f", chosen by `python -m bluekit select` ({selection['rule']}); "
                 "the held-out test users played no part in the choice, and `test_profiles.json` is "
                 "that step's. `metrics.jsonl` and `snapshots.jsonl` cover the whole run, the steps "
                 "after the chosen one included.\n" if selection else ".\n"))
    if selection:
        text += ("\n## The choice, on the validation users (`selection.json`)\n\n"
                 + _selection_table(selection["table"]) + "\n")
    if curve:
        text += "\n## Held-out learning curve (`python -m bluekit compare`)\n\n" + curve
    return text


def _selection_table(rows: list[dict]) -> str:
    """selection.json's table in Markdown: one row per scored step."""
    head = "| step | MRR | NDCG@10 | describes an item | repetitive | eligible |"
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        ndcg = r.get("ndcg@10")
        lines.append(f"| {r['step']} | {r['mrr']:.4f} | {'' if ndcg is None else f'{ndcg:.4f}'} | "
                     f"{r['item_description']:.0%} | {r['repetitive']:.0%} | "
                     f"{'yes' if r['eligible'] else 'no'} |")
    return "\n".join(lines)
