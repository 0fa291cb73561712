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

from bluekit.atomic import read_json
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
                root: str | Path = PRETRAINED_DIR, curve: str | Path | None = None) -> Path:
    """Copy a finished LoRA run's adapter, config, logs and snapshots to root/name (atomically).

    command: the exact command line that produced the run, written into the README.
    curve: a `python -m bluekit compare` table of the run (its held-out learning curve), shipped
    as curve.md and shown in the README.
    """
    run_dir = Path(run_dir)
    missing = [f for f in PUBLISHED_FILES if not (run_dir / f).exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a finished LoRA run: missing {missing}")
    run = read_json(run_dir / RUN_FILE)
    dest = Path(root) / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a published folder is for everyone
    for rel in PUBLISHED_FILES + tuple(f for f in OPTIONAL_FILES if (run_dir / f).exists()):
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run_dir / rel, staging / rel)
    tuned = run_dir / "embedder"  # a run with embed.trainable: its tuned embedder travels with it
    if tuned.is_dir():
        shutil.copytree(tuned, staging / "embedder")
    curve_text = Path(curve).read_text() if curve else ""
    if curve_text:
        (staging / CURVE_FILE).write_text(curve_text)
    (staging / README).write_text(_readme(name, command, run, curve_text))
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return dest


def _readme(name: str, command: str, run: dict, curve: str = "") -> str:
    versions = ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items())
    text = f"""# Published training run: {name}

Produced by `{command}` from a clone at commit {run.get('git_commit') or 'unknown'}
(seed {run.get('seed')}, {run.get('global_step')} GRPO steps, {run.get('total_wall_time_s', run.get('wall_time_s', 0)):.0f} s of training,
backend {run.get('backend')}; {versions}). `config.yaml` is the full config of the run;
`run.json` has the timings.

This is the LONG CPU run (`make train-long`), not the short `make demo` run. Label it as such
wherever it is shown. Files: `final/` (LoRA adapter; the base profiler's tokenizer is used),
`metrics.jsonl` (every training log line), `snapshots.jsonl` (the held-out panel's profiles every
few steps, for the widgets), `test_profiles.json` (every held-out user's profile, so notebooks
need not generate them), `curve.md` (the held-out learning curve, when published with one).
"""
    if curve:
        text += "\n## Held-out learning curve (`python -m bluekit compare`)\n\n" + curve
    return text
