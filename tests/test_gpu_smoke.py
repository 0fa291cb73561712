"""The GPU smoke run, checked on a CPU: both backends train with the same settings (Unsloth's
GRPOConfig rebuilt from its source), the same pad token, wheels cut into few transfers and
joined back, the plan of one short GPU slot, and the dry run end to end under the CPU pins and,
when installed, the GPU pins (transformers 5.17, trl 1.15)."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bluekit.config import load_config
from bluekit.train import grpo_config
from bluekit.train.grpo_config import build_grpo_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import gpu_smoke  # noqa: E402
import gpu_unsloth_args  # noqa: E402
import gpu_wheels  # noqa: E402

sys.path.pop(0)


def _settings(train_cfg, tmp_path, config_cls=None, name="run"):
    """trainer.args as the smoke run saves it (to_dict through JSON), GPU-like: checkpointing on."""
    args = build_grpo_config(train_cfg, str(tmp_path / name), use_cpu=True, gradient_checkpointing=True,
                             config_cls=config_cls, progress=False)
    return json.loads(json.dumps(args.to_dict(), default=str))


# --------------------------------------------------------------------------- like with like

@pytest.mark.parametrize("preset,extra", [
    ("gpu-small", {}), ("cpu-demo", {}), ("smoke", {}),
    ("gpu-small", {"train.grpo.loss_type": "dapo"}),  # written out: Unsloth's DAPO defaults
    ("gpu-small", {"train.grpo.loss_type": "bnpo"}),  # Unsloth's beta would be 0.001
])
def test_unsloths_config_trains_with_the_kits_settings(preset, extra, tmp_path):
    unsloth = gpu_unsloth_args.unsloth_config_class()
    train = load_config(preset, extra).train
    plain = _settings(train, tmp_path)
    diff = gpu_smoke.settings_diff(plain, _settings(train, tmp_path, unsloth, "u"))
    assert gpu_smoke.unexplained(diff) == {}
    # Unsloth's fields, and its reentrant checkpointing (transformers 5.17; 5.24 renamed the switch)
    assert set(diff) - {"gradient_checkpointing_kwargs"} == set(gpu_unsloth_args.ADDED_FIELDS)


def test_without_the_kits_settings_unsloth_would_train_differently(tmp_path, monkeypatch):
    """What the kit writes out is what Unsloth changes: the issue's table, read from its source."""
    monkeypatch.setattr(grpo_config, "SAME_ON_BOTH_BACKENDS", {})
    train = load_config("gpu-small").train
    plain = _settings(train, tmp_path)
    unsloth = _settings(train, tmp_path, gpu_unsloth_args.unsloth_config_class(), "u")
    diff = gpu_smoke.unexplained(gpu_smoke.settings_diff(plain, unsloth))
    assert diff["gradient_accumulation_steps"] == [1, 2]
    assert diff["generation_batch_size"] == [64, 128]
    assert diff["optim"] == ["adamw_torch_fused", "adamw_8bit"]
    assert diff["weight_decay"] == [0.0, 0.001] and diff["torch_empty_cache_steps"] == [None, 250]
    assert diff["warmup_steps"] == [0, 0.1]


def test_the_kits_settings_exist_in_both_pinned_trls():
    fields = {line.strip() for line in
              (ROOT / "tests" / "data" / "grpoconfig-fields-trl-1.15.0.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert set(grpo_config.SAME_ON_BOTH_BACKENDS) <= fields
    assert set(grpo_config.SAME_ON_BOTH_BACKENDS) <= grpo_config.accepted_keywords()


def test_settings_diff_names_each_difference_and_what_is_stated():
    a = {"optim": "adamw_torch_fused", "output_dir": "runs/a", "seed": 0, "pad_token": "<|endoftext|>"}
    b = {"optim": "adamw_8bit", "output_dir": "runs/b", "seed": 0, "pad_token": "<|im_end|>",
         "unsloth_num_chunks": -1}
    diff = gpu_smoke.settings_diff(a, b)
    assert diff == {"optim": ["adamw_torch_fused", "adamw_8bit"], "pad_token": ["<|endoftext|>", "<|im_end|>"],
                    "unsloth_num_chunks": [gpu_smoke.ABSENT, -1]}
    assert set(gpu_smoke.unexplained(diff)) == {"optim", "pad_token"}


def test_both_backends_pad_with_the_token_unsloth_would_pick(monkeypatch):
    """SmolLM2's converted tokenizer pads with its eos; Unsloth's loader swaps in <|endoftext|>.
    The kit sets it explicitly on both backends; a pad distinct from eos is kept."""
    from test_gpu_path import _fake_unsloth

    from bluekit.llm import build_tiny_model
    from bluekit.train.backends import _load_unsloth, set_pad_token

    model, tok = build_tiny_model()
    tok.pad_token = tok.eos_token  # as SmolLM2's conversion leaves it
    model.config.pad_token_id = model.generation_config.pad_token_id = tok.eos_token_id
    assert set_pad_token(model, tok) == "<|endoftext|>"
    pad_id = tok.convert_tokens_to_ids("<|endoftext|>")
    assert tok.pad_token_id == model.config.pad_token_id == model.generation_config.pad_token_id == pad_id
    tok.pad_token = "<|im_start|>"
    assert set_pad_token(model, tok) == "<|im_start|>"  # already distinct from eos: kept

    calls = []
    _fake_unsloth(monkeypatch, calls)
    monkeypatch.setattr("bluekit.llm.smollm2_checkpoint", lambda cache_dir: Path("/cache/SmolLM2"))
    cfg = load_config("gpu-small")
    policy = _load_unsloth(cfg.profiler, cfg.train)
    assert policy.tokenizer.pad_token == "<|endoftext|>" != policy.tokenizer.eos_token


def test_the_torch_stand_in_computes_what_trls_kernel_does():
    """TorchLogProb (the GPU-pins dry run's stand-in for TRL 1.15's Triton kernel) against the
    plain log-softmax, with a logit scale and a soft cap."""
    torch.manual_seed(0)
    hidden, weight = torch.randn(5, 8), torch.randn(11, 8)
    targets = torch.randint(0, 11, (5,))
    logp, entropy, sq, mean, top1 = gpu_smoke.TorchLogProb.apply(
        hidden, weight, None, targets, 0.7, 4, 3.0, 0.5, ("log_probs", "entropy", "is_top1"))
    z = 3.0 * torch.tanh(hidden @ weight.T * 0.5 / 3.0) / 0.7
    expected = z.log_softmax(-1)
    torch.testing.assert_close(logp, expected[torch.arange(5), targets])
    torch.testing.assert_close(entropy, -(expected.exp() * expected).sum(-1))
    assert sq is None and mean is None and top1.dtype == torch.bool


# --------------------------------------------------------------------------- wheels and the plan

def test_wheels_are_cut_into_the_fewest_transfers_and_joined_back(tmp_path):
    rng = np.random.default_rng(0)
    blobs = {f"w{i}-1.0-py3-none-any.whl": rng.bytes(n) for i, n in enumerate([2500, 300, 1700, 40])}
    for name, blob in blobs.items():
        (tmp_path / name).write_bytes(blob)
    manifest = gpu_wheels.split_into_transfers(tmp_path, budget_bytes=1200)
    total = sum(map(len, blobs.values()))
    assert len(manifest["transfers"]) == math.ceil(total / 1200) and not list(tmp_path.glob("*.whl"))
    for number in manifest["transfers"]:
        folder = tmp_path / number
        assert sum(f.stat().st_size for f in folder.iterdir() if f.name != "MANIFEST.json") <= 1200
        assert (folder / "MANIFEST.json").exists()
    assert gpu_wheels.verify(tmp_path) == ([], [])
    wheels = gpu_wheels.join_wheels(tmp_path, tmp_path / "joined")
    assert {w.name: w.read_bytes() for w in wheels} == blobs

    part = next(p for p in (tmp_path / "2").iterdir() if p.name != "MANIFEST.json")
    part.write_bytes(b"x" + part.read_bytes()[1:])
    assert gpu_wheels.verify(tmp_path)[0] == [part.name]
    for f in (tmp_path / "3").iterdir():
        f.unlink()
    with pytest.raises(FileNotFoundError, match="carry folder"):
        gpu_wheels.join_wheels(tmp_path, tmp_path / "joined2")


def test_the_plan_is_five_plain_commands_with_the_check_first_and_the_run_last():
    manifest = {"transfers": {str(i): 50 * gpu_wheels.MIB for i in range(1, 6)}}
    steps = gpu_wheels.plan_commands(manifest, ".whl", 60, "/tmp/gpu-out")
    assert [carry for carry, _ in steps] == [f".whl/{i}" for i in range(1, 6)]
    first, last = steps[0][1], steps[-1][1]
    assert "pip list" in first and "nvidia-smi" in first and "gpu_smoke.py check" in first
    assert "tee $OUT/check.log" in first
    assert "gpu_wheels.py install .whl" in last and "--seconds 60 --backends unsloth,trl" in last
    assert "tee $OUT/smoke.log" in last and "--results $OUT" in last
    assert not any("make " in cmd for _, cmd in steps) and all(len(cmd) < 2000 for _, cmd in steps)
    rows = gpu_wheels.estimate(None, 60, 5)
    assert any("training" in name and secs >= 120 for name, secs, _ in rows)


def test_the_gpu_pins_for_the_dry_run_are_the_gpu_stacks_pins():
    pinned = {line.split("#")[0].strip() for name in ("requirements-gpu.txt", "bench/gpu-wheels.txt")
              for line in (ROOT / name).read_text().splitlines()}
    assert set(gpu_wheels.GPU_PINS_ON_CPU) <= pinned
    assert {"transformers==5.17.0", "trl==1.15.0"} <= set(gpu_wheels.GPU_PINS_ON_CPU)


# --------------------------------------------------------------------------- the dry runs

def _dry_run(tmp_path, *mode):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_smoke.py"), "--dry-run", *mode,
                           "--out", str(tmp_path / "smoke"), "--results", str(tmp_path / "results")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    print(proc.stdout[-4000:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads((tmp_path / "smoke" / "summary.json").read_text())


def _check_like_with_like(summary):
    """Unsloth's place (unsloth-sim) and plain TRL: same settings, and so the same rewards."""
    sim, trl = summary["backends"]["unsloth-sim"], summary["backends"]["trl"]
    assert summary["settings_diff"]["unexplained"] == {}
    assert sim["args_class"] == "UnslothGRPOConfig" and sim["completions_per_step"] == 8
    np.testing.assert_allclose([r for _, r in sim["reward_curve"]], [r for _, r in trl["reward_curve"]],
                               atol=1e-4)
    assert sim["profile"]["profile"] and trl["profile"] is None  # one reload: the first backend's
    assert sim["pad_token"] == trl["pad_token"] == sim["profile"]["pad_token"]


@pytest.mark.slow
def test_gpu_smoke_dry_run_goes_end_to_end(tmp_path):
    """--dry-run (CPU pins): the environment check, unsloth-sim then TRL, each in its own
    process, one adapter reloaded in another, the settings compared, the results copied."""
    stdout, summary = _dry_run(tmp_path)
    trl = summary["backends"]["trl"]
    assert trl["steps"] == 3 and trl["steps_per_s"] > 0 and len(trl["reward_curve"]) == 3
    assert (Path(trl["run_dir"]) / "final").is_dir()
    _check_like_with_like(summary)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["summary.json", "unsloth-sim-run.tgz"]
    for line in ("== environment", "== trl on cpu", "steps/s", "completions/step 8 x 1 = 8",
                 "peak GPU memory", "reward curve:", "reloaded in", "== settings, unsloth-sim vs trl"):
        assert line in stdout


@pytest.mark.slow
@pytest.mark.skipif(gpu_wheels.pins_ready() is None,
                    reason=f"the GPU pins are not installed in {gpu_wheels.pins_dir().relative_to(ROOT)}: "
                           "`python bench/gpu_wheels.py pins` (a package registry, ~70 MB) or make gpu-smoke-dry")
def test_gpu_smoke_dry_run_under_the_gpu_pins(tmp_path):
    """transformers 5.17 and trl 1.15 on the CPU (their Triton log-prob kernel replaced by a torch
    stand-in): 3 steps in bf16 with gradient checkpointing and panel snapshots, save and reload."""
    _, summary = _dry_run(tmp_path, "gpu-pins")
    packages = summary["environment"]["packages"]
    assert packages["transformers"] == "5.17.0" and packages["trl"] == "1.15.0"
    _check_like_with_like(summary)
    for report in summary["backends"].values():
        assert report["steps"] == 3 and report["args"]["gradient_checkpointing"] is True
        assert report["args"]["bf16"] is True
        snapshots = [json.loads(line) for line in
                     (Path(report["run_dir"]) / "snapshots.jsonl").read_text().splitlines()]
        assert sorted({r["step"] for r in snapshots}) == [0, 2, 3]


def test_the_first_copys_check_notes_what_the_wheels_bring(monkeypatch):
    """`check --before-wheels` runs on the image alone: a package a wheel brings is a note there,
    and an error in the run's own check."""
    real = gpu_smoke._version
    monkeypatch.setattr(gpu_smoke, "_version", lambda name: None if name == "trl" else real(name))
    facts, errors, warnings = gpu_smoke.check_environment(dry_run=True, before_wheels=True)
    assert facts["packages"]["trl"] is None and not any("trl" in e for e in errors)
    assert any(w.startswith("trl is not installed yet") for w in warnings)
    _, errors, _ = gpu_smoke.check_environment(dry_run=True)
    assert any("package trl is missing" in e for e in errors)
