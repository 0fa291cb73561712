"""Wheels for a bare, offline GPU machine, the GPU pins for the CPU dry run, and the plan of one
short GPU slot.

    python bench/gpu_wheels.py download .whl      # here (a registry): bench/gpu-wheels.txt for
                                                  # CPython 3.12 manylinux x86_64, cut into the
                                                  # fewest transfers of at most --limit-mib
    python bench/gpu_wheels.py verify .whl        # there: the parts carried so far are intact
    python bench/gpu_wheels.py install .whl --target /tmp/site   # there: join, check, pip install
    python bench/gpu_wheels.py pins               # here: transformers 5.17, trl 1.15, datasets 4.8
                                                  # (the GPU pins) into data/cache/gpu-pins/ for
                                                  # `gpu_smoke.py --dry-run gpu-pins`
    python bench/gpu_wheels.py plan               # the exact commands of one GPU slot, and their
                                                  # time estimated from the dry run's stage times

A transfer is one copy of the working tree plus one folder .whl/N (each at most --limit-mib in
all). The wheels are cut as one stream into equal folders, so the count is the least possible;
every folder holds MANIFEST.json (sha256 and size of every wheel and every part).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS_FILE = ROOT / "bench" / "gpu-wheels.txt"
MIB = 2**20
LIMIT_MIB = 64.0  # what one transfer may carry, the working tree included
MARGIN_MIB = 1.0  # room for files the tree gains between the split and the transfers
# The GPU pins that matter to the kit's code, installed over the CPU venv for the dry run (torch,
# accelerate, peft's own version and the rest stay the CPU venv's). Each one is a pin of
# requirements-gpu.txt (tests/test_gpu_smoke.py checks it).
GPU_PINS_ON_CPU = ["transformers==5.17.0", "trl==1.15.0", "datasets==4.8.5", "peft==0.21.2",
                   "huggingface-hub==1.33.0", "fsspec==2026.2.0"]
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + [
    "manylinux2014_x86_64", "manylinux1_x86_64"]


def read_wheel_list(path: Path = WHEELS_FILE) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of what travels with every transfer: tracked files and untracked, not ignored ones."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    return sum((root / p).stat().st_size for p in out.split("\0") if p and (root / p).is_file())


# --------------------------------------------------------------------------- cutting and joining

def split_into_transfers(folder: Path, budget_bytes: int) -> dict:
    """Cut the wheels in `folder` as one byte stream into the fewest equal folders 1, 2, ... of at
    most budget_bytes; a wheel that crosses a boundary becomes numbered parts. Writes
    MANIFEST.json into every folder and removes the wheels."""
    wheels = sorted(folder.glob("*.whl"), key=lambda p: p.name)
    total = sum(w.stat().st_size for w in wheels)
    count = max(1, math.ceil(total / budget_bytes))
    chunk = math.ceil(total / count)
    manifest: dict = {"wheels": {}, "parts": {}, "transfers": {}}
    transfer, used = 1, 0
    for wheel in wheels:
        size = wheel.stat().st_size
        entry = {"sha256": sha256(wheel), "size": size, "parts": []}
        pieces = []  # (transfer, bytes)
        with open(wheel, "rb") as f:
            left = size
            while left:
                if used == chunk:
                    transfer, used = transfer + 1, 0
                take = min(left, chunk - used)
                pieces.append((transfer, f.read(take)))
                used += take
                left -= take
        for index, (number, blob) in enumerate(pieces):
            name = wheel.name if len(pieces) == 1 else f"{wheel.name}.part{index:02d}"
            target = folder / str(number)
            target.mkdir(exist_ok=True)
            (target / name).write_bytes(blob)
            entry["parts"].append(name)
            manifest["parts"][name] = {"transfer": number, "size": len(blob),
                                       "sha256": hashlib.sha256(blob).hexdigest()}
        manifest["wheels"][wheel.name] = entry
        wheel.unlink()
    for number in range(1, transfer + 1):
        manifest["transfers"][str(number)] = sum(
            p["size"] for p in manifest["parts"].values() if p["transfer"] == number)
    for number in range(1, transfer + 1):
        (folder / str(number) / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def read_manifest(src: Path) -> dict:
    for candidate in [src / "MANIFEST.json", *sorted(src.glob("*/MANIFEST.json"))]:
        if candidate.exists():
            return json.loads(candidate.read_text())
    raise FileNotFoundError(f"{src}: no MANIFEST.json (make the folders with `gpu_wheels.py download`)")


def verify(src: Path) -> tuple[list[str], list[str]]:
    """(damaged parts, missing parts) among the parts under src."""
    manifest = read_manifest(src)
    found = {f.name: f for f in src.rglob("*") if f.is_file()}
    damaged, missing = [], []
    for name, part in manifest["parts"].items():
        if name not in found:
            missing.append(name)
        elif found[name].stat().st_size != part["size"] or sha256(found[name]) != part["sha256"]:
            damaged.append(name)
    return damaged, missing


def join_wheels(src: Path, work: Path) -> list[Path]:
    """Join every wheel's parts into `work` and check its sha256; raise naming what is wrong."""
    manifest = read_manifest(src)
    found = {f.name: f for f in src.rglob("*") if f.is_file()}
    missing = sorted(w for w, e in manifest["wheels"].items() if any(p not in found for p in e["parts"]))
    if missing:
        transfers = sorted({manifest["parts"][p]["transfer"] for w in missing
                            for p in manifest["wheels"][w]["parts"] if p not in found})
        raise FileNotFoundError(f"{src}: parts missing for {', '.join(missing)}: carry folder(s) "
                                f"{', '.join(map(str, transfers))}")
    work.mkdir(parents=True, exist_ok=True)
    out = []
    for wheel, entry in manifest["wheels"].items():
        target = work / wheel
        with open(target, "wb") as f:
            for part in entry["parts"]:
                f.write(found[part].read_bytes())
        if sha256(target) != entry["sha256"]:
            raise ValueError(f"{wheel}: sha256 does not match MANIFEST.json (a damaged part)")
        out.append(target)
    return out


# --------------------------------------------------------------------------- commands

def download(args) -> int:
    dest = Path(args.dest)
    if dest.exists() and any(dest.iterdir()):
        if not list(dest.glob("*/MANIFEST.json")):
            print(f"ERROR: {dest} holds files that are not wheel folders made here; choose an empty folder")
            return 2
        shutil.rmtree(dest)  # folders of an earlier download: made again from the list
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--python-version", args.python_version, "--implementation", "cp", "-d", str(dest)]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    rc = subprocess.run(cmd + read_wheel_list()).returncode
    if rc:
        return rc
    tree = tree_bytes()
    budget = int((args.limit_mib - MARGIN_MIB) * MIB) - tree
    manifest = split_into_transfers(dest, budget)
    total = sum(w["size"] for w in manifest["wheels"].values())
    print(f"{len(manifest['wheels'])} wheels, {total / MIB:.1f} MiB, in {len(manifest['transfers'])} "
          f"folders {dest}/1 ... (the working tree: {tree / MIB:.1f} MiB):")
    for number, size in manifest["transfers"].items():
        print(f"  {dest}/{number}: {size / MIB:.1f} MiB, with the tree {(size + tree) / MIB:.1f} MiB")
    return 0


def verify_command(args) -> int:
    damaged, missing = verify(Path(args.src))
    if damaged:
        print("ERROR: damaged parts (carry their folders again): " + ", ".join(damaged))
        return 1
    manifest = read_manifest(Path(args.src))
    have = len(manifest["parts"]) - len(missing)
    print(f"{have} of {len(manifest['parts'])} parts here and intact"
          + (f"; still to come: folder(s) {', '.join(sorted({str(manifest['parts'][m]['transfer']) for m in missing}))}"
             if missing else ": complete"))
    return 0


def install(args) -> int:
    """Join the parts, check each wheel's sha256, pip install --no-index --no-deps into --target."""
    start = time.perf_counter()
    try:
        wheels = join_wheels(Path(args.src), Path(args.work))
    except (FileNotFoundError, ValueError) as e:
        print(f"ERROR: {e}")
        return 1
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
           "--no-cache-dir", "--upgrade", "--target", args.target, *map(str, sorted(wheels))]
    rc = subprocess.run(cmd).returncode
    if rc == 0:
        print(f"installed {len(wheels)} wheels into {args.target} in {time.perf_counter() - start:.0f} s: "
              f"export PYTHONPATH={args.target}")
    return rc


def pins_dir() -> Path:
    """Where `pins` installs the GPU pins for this Python (one folder per pin list)."""
    tag = hashlib.sha256(" ".join(GPU_PINS_ON_CPU).encode()).hexdigest()[:8]
    return ROOT / "data" / "cache" / "gpu-pins" / f"cp{sys.version_info[0]}{sys.version_info[1]}-{tag}"


def pins_ready() -> Path | None:
    folder = pins_dir()
    return folder if (folder / "PINS.txt").exists() else None


def install_pins(args) -> int:
    """pip install --no-deps --target: the GPU pins beside the CPU venv (needs a registry)."""
    folder = pins_dir()
    if pins_ready():
        print(f"the GPU pins are installed in {folder}")
        return 0
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    rc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
                         "--target", str(staging), *GPU_PINS_ON_CPU]).returncode
    if rc:
        return rc
    (staging / "PINS.txt").write_text("\n".join(GPU_PINS_ON_CPU) + "\n")
    staging.rename(folder)
    print(f"installed {', '.join(GPU_PINS_ON_CPU)} into {folder}")
    return 0


# --------------------------------------------------------------------------- the plan

# Stage times that no dry run can give (no GPU here): assumptions, stated as such in the plan.
ASSUMED_S = {
    "start": (120, "starting a GPU machine: a minute or two"),
    "transfer": (20, "one transfer: copying up to 64 MiB and starting the command"),
    "unsloth_import": (60, "import unsloth + its compiled GRPO trainer (not yet seen)"),
    "last_step": (10, "the step in progress when the training time runs out"),
}
# Measured here (2-core AMD EPYC, shared with a training study: noisy), once, by the commands named.
MEASURED_S = {
    "install": (8, "pip install --no-deps --target of the wheels (py3 ones; cp312 can't install here)"),
    "data": (9.4, "gpu-small's demo world, generated and loaded (load_prepared, 800 users)"),
    "convert": (16, "SmolLM2 GGUF -> safetensors, once per machine (shared STACK.md: 13-16 s)"),
    "models": (12, "SmolLM2 reload ~2 s and MiniLM <1 s per process (STACK.md), the 1,200 item "
                   "vectors once (~6 s at this CPU's 200 texts/s; the GPU is faster)"),
}


def plan_commands(manifest: dict, wheels: str, seconds: float, out: str) -> list[tuple[str, str]]:
    """(what travels, the command) for each transfer, in order."""
    n = len(manifest["transfers"])
    setup = f"export OUT=${{OUT:-{out}}}; mkdir -p $OUT; "
    steps = []
    for number in range(1, n + 1):
        carry = f"{wheels}/{number}"
        if number == 1:
            cmd = (setup + "{ python3 -m pip list; nvidia-smi; python3 bench/gpu_smoke.py check "
                   f"--before-wheels; python3 bench/gpu_wheels.py verify {wheels}; }} 2>&1 | tee $OUT/check.log")
        elif number < n:
            cmd = f"python3 bench/gpu_wheels.py verify {wheels}"
        else:
            cmd = (setup + "set -o pipefail; "
                   f"python3 bench/gpu_wheels.py install {wheels} --target /tmp/site 2>&1 | tee $OUT/install.log && "
                   f"PYTHONPATH=/tmp/site python3 bench/gpu_smoke.py --seconds {seconds:g} --backends unsloth,trl "
                   f"--out /tmp/gpu-smoke --results $OUT 2>&1 | tee $OUT/smoke.log")
        steps.append((carry, cmd))
    return steps


def estimate(summary: dict | None, seconds: float, transfers: int) -> list[tuple[str, float, str]]:
    """(stage, seconds, where the number comes from) for the whole plan."""
    rows = [("machine start", *ASSUMED_S["start"]),
            (f"{transfers} transfers", transfers * ASSUMED_S["transfer"][0], ASSUMED_S["transfer"][1])]
    rows.append(("install the wheels", *MEASURED_S["install"]))
    if summary:
        check = summary.get("stages", {}).get("check_s", 5.0)
        rows.append(("environment check (x2)", 2 * check, "dry run: check_s"))
        ran = [r for r in summary["backends"].values() if "stages" in r]
        overhead = sum(r["stages"][k] for r in ran for k in ("import_s", "setup_s", "trainer_s", "save_s"))
        overhead *= 2 / len(ran) if ran else 0
        reload_s = max((r["profile"]["reload_s"] for r in ran if r.get("profile")), default=15.0)
    else:
        rows.append(("environment check (x2)", 10.0, "assumed: no dry-run summary given"))
        overhead, reload_s = 60.0, 15.0
    rows.append(("two training processes: imports, set-up, trainer, save", overhead,
                 "dry run: import_s + setup_s + trainer_s + save_s of both backends"
                 if summary else "assumed"))
    rows.append(("gpu-small data and SmolLM2 conversion", MEASURED_S["data"][0] + MEASURED_S["convert"][0],
                 "measured here: " + MEASURED_S["data"][1] + "; " + MEASURED_S["convert"][1]))
    rows.append(("the real models (the dry run's are tiny)", *MEASURED_S["models"]))
    rows.append(("import unsloth", *ASSUMED_S["unsloth_import"]))
    rows.append((f"training, 2 x {seconds:g} s + the last step each", 2 * (seconds + ASSUMED_S["last_step"][0]),
                 "--seconds; " + ASSUMED_S["last_step"][1]))
    rows.append(("one adapter reload", reload_s, "dry run: reload_s" if summary else "assumed"))
    return rows


def plan(args) -> int:
    wheels = Path(args.wheels)
    try:
        manifest = read_manifest(wheels)
    except FileNotFoundError as e:
        print(f"ERROR: {e}")
        return 2
    tree = tree_bytes()
    summary_file = Path(args.summary)
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else None
    steps = plan_commands(manifest, args.wheels, args.seconds, args.out)
    print(f"== The GPU smoke run in {len(steps)} transfers, chained: start each one as soon as the "
          f"last ends (a machine handed back loses what was carried). Plain commands, no make.")
    over = False
    for number, (carry, cmd) in enumerate(steps, 1):
        size = manifest["transfers"][str(number)] + tree
        over |= size > args.limit_mib * MIB
        print(f"\n# transfer {number}/{len(steps)}: carry {carry} ({manifest['transfers'][str(number)] / MIB:.1f} MiB)"
              f" + the working tree ({tree / MIB:.1f} MiB) = {size / MIB:.1f} MiB of {args.limit_mib:g}")
        print(cmd)
    print("\n# results: $OUT, read after each command: check.log after the first; install.log, smoke.log, "
          "summary.json and unsloth-run.tgz (the Unsloth run: adapter, config, metrics) after the last")
    rows = estimate(summary, args.seconds, len(steps))
    total = sum(s for _, s, _ in rows)
    print(f"\n== estimated time (dry-run stage times from {summary_file if summary else 'nowhere: none found'})")
    for name, secs, source in rows:
        print(f"{secs:6.0f} s  {name}  ({source})")
    print(f"{total:6.0f} s  = {total / 60:.1f} min in all; goal <= {args.goal_min:g} min")
    last = total - rows[0][1] - rows[1][1]
    print(f"the last command: ~{last:.0f} s (a slot's command limit is often 10 minutes)")
    if over:
        print(f"ERROR: a transfer exceeds {args.limit_mib:g} MiB: run `download` again (the tree grew)")
    return 1 if over or total > args.goal_min * 60 else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("download", help="download the wheels of bench/gpu-wheels.txt, in transfers")
    d.add_argument("dest")
    d.add_argument("--python-version", default="3.12")
    d.add_argument("--limit-mib", type=float, default=LIMIT_MIB)
    v = sub.add_parser("verify", help="check the parts carried so far")
    v.add_argument("src")
    i = sub.add_parser("install", help="join, check and install the wheels")
    i.add_argument("src")
    i.add_argument("--target", default="/tmp/site")
    i.add_argument("--work", default="/tmp/bluekit-wheels")
    sub.add_parser("pins", help="install the GPU pins beside the CPU venv (for the dry run)")
    p = sub.add_parser("plan", help="print the commands of one GPU slot and their estimated time")
    p.add_argument("--wheels", default=".whl")
    p.add_argument("--summary", default=str(ROOT / "runs" / "gpu-smoke-dry-gpu-pins" / "summary.json"))
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--out", default="/tmp/gpu-out")
    p.add_argument("--limit-mib", type=float, default=LIMIT_MIB)
    p.add_argument("--goal-min", type=float, default=9.0)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    return {"download": download, "verify": verify_command, "install": install,
            "pins": install_pins, "plan": plan}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
