"""More than one process, on accelerate: GRPO training data-parallel under `accelerate launch`
(2 CPU processes, gloo) and held-out profile generation split across the processes.

The launches are real (`python -m accelerate.commands.launch --multi_gpu --num_processes 2`: on
a machine without a GPU accelerate runs the processes on the CPU with the gloo backend), on the
smoke preset with its tiny random profiler, a few steps.
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bluekit.distributed import is_main_process, main_process_first, map_split

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`accelerate launch` with 2 processes; the kit's own command line or a script after it."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes",
           "2", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(free_port()), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def smoke_settings(tmp_path: Path) -> list[str]:
    """The smoke preset with every file it writes under tmp_path."""
    return [f"data.demo_dir={tmp_path / 'demo'}", f"embed.cache_dir={tmp_path / 'cache'}",
            f"eval.out_dir={tmp_path / 'eval'}", f"train.output_dir={tmp_path / 'run'}"]


def test_one_process_map_split_is_a_plain_call():
    assert map_split(lambda xs: [x * 2 for x in xs], [1, 2, 3]) == [2, 4, 6]
    assert is_main_process()
    with main_process_first():
        pass


def test_accelerate_launch_trains_grpo_on_two_processes_and_saves_one_adapter(tmp_path):
    # A time budget that never runs out: every step the processes agree on whether to stop.
    settings = smoke_settings(tmp_path) + ["train.full_finetune=false", "train.max_minutes=60"]
    sets = [a for s in settings for a in ("--set", s)]
    done = launch("-m", "bluekit", "train", "--config", "smoke", *sets)
    run = tmp_path / "run"
    steps = json.loads((run / "run.json").read_text())
    # Both processes stepped to the end (DDP: neither can step without the other's gradients).
    for rank in (0, 1):
        assert f"process {rank} of 2: {steps['max_steps']} steps" in done.stdout
    assert steps["processes"] == 2 and steps["global_step"] == steps["max_steps"]
    # Only the main process writes: one adapter, one log line per step.
    assert (run / "final" / "adapter_model.safetensors").is_file()
    assert done.stdout.count("trained in") == 1
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in lines if "loss" in r]
    assert train_steps == list(range(1, steps["max_steps"] + 1))
    snapshot_steps = [json.loads(line)["step"] for line in (run / "snapshots.jsonl").read_text().splitlines()]
    assert len(snapshot_steps) == len(set(snapshot_steps)) * 4  # the 4 panel users, once per step


def test_held_out_profiles_are_split_across_two_processes(tmp_path):
    from bluekit import pipeline
    from bluekit.config import load_config, parse_yaml
    from bluekit.llm import load_profiler

    # One prompt per batch: no padding, so a user's greedy profile can't depend on its batch.
    settings = smoke_settings(tmp_path) + ["profiler.generation_batch_size=1", "eval.test_users=9"]
    out = tmp_path / "profiles.json"
    done = launch(str(ROOT / "tests" / "launched_profiles.py"), str(out), *settings)
    shares = {int(r): (int(n), int(total)) for r, n, total in re.findall(
        r"process (\d) of 2 generated (\d+) of (\d+) profiles", done.stdout)}
    assert set(shares) == {0, 1}
    assert shares[0][0] > 0 and shares[1][0] > 0  # each process did its share ...
    assert shares[0][0] + shares[1][0] == shares[0][1] == 9  # ... and together all the users

    cfg = load_config("smoke", {k: parse_yaml(v, k) for k, _, v in (s.partition("=") for s in settings)})
    ws = pipeline.workspace(cfg)
    model, tokenizer = load_profiler(cfg.profiler)
    alone = pipeline.generate_test_profiles(ws, model, tokenizer, show_progress=False)
    assert json.loads(out.read_text())["profiles"] == alone  # the same profiles, in user order
