"""Is bf16 fast on this machine? Measured once, cached, used wherever a config says "auto".

bf16 halves the memory traffic of a small LLM, but on a CPU it is only faster where the cores
multiply bf16 natively: with AMX (recent Xeons) a cpu-demo GRPO step is ~1.4x faster in bf16;
without it (many AMD EPYC and older Intel parts) bf16 matmuls are emulated and steps are slower.
A config can say ``train.grpo.bf16: auto`` and ``profiler.dtype: auto``: the kit then times a
SmolLM2-sized layer forward and backward in both precisions once, for this CPU model, torch
version and thread count, and caches the verdict in ``data/cache/hardware.json``. On a CUDA GPU
"auto" is bf16 whenever the GPU supports it.

    bf16_is_fast()            # True / False, measured once per machine and cached
    resolve_bf16("auto")      # -> True / False; True / False pass through
    resolve_dtype("auto")     # -> "bfloat16" / "float32"
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

CACHE_FILE = Path("data/cache/hardware.json")
FAST_RATIO = 0.9  # bf16 counts as fast when it takes under 90% of float32's time


def _cpuinfo(field: str) -> str | None:
    """The first value of `field` in /proc/cpuinfo (Linux); None elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC", "Intel(R) Xeon(R) Platinum 8488C", ...)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux), e.g. amx_bf16, avx512_bf16; empty elsewhere."""
    return set((_cpuinfo("flags") or "").split())


def time_layers(repeats: int = 7) -> dict:
    """Fastest seconds of one SmolLM2-135M-sized MLP block (576 -> 1536 -> 576, 512 tokens),
    forward and backward, in float32 and in bfloat16 on the CPU. The two precisions alternate and
    the fastest run of each counts, so a busy shared machine slows both alike."""
    import torch

    torch.manual_seed(0)
    layers = {}
    for dtype in (torch.float32, torch.bfloat16):
        layers[dtype] = (torch.randn(512, 576, dtype=dtype, requires_grad=True),
                         torch.nn.Linear(576, 1536).to(dtype), torch.nn.Linear(1536, 576).to(dtype))
    best = {dtype: float("inf") for dtype in layers}
    for i in range(repeats + 1):
        for dtype, (x, up, down) in layers.items():
            start = time.perf_counter()
            down(torch.nn.functional.silu(up(x))).sum().backward()
            if i:  # the first round warms the kernels up
                best[dtype] = min(best[dtype], time.perf_counter() - start)
    return {"fp32_s": best[torch.float32], "bf16_s": best[torch.bfloat16]}


def measure_bf16() -> dict:
    """Time the layer in float32 and bfloat16 on this CPU; the verdict and the evidence."""
    import torch

    times = time_layers()
    ratio = times["bf16_s"] / times["fp32_s"]
    return {"cpu": cpu_model(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "amx": "amx_bf16" in cpu_flags(), "avx512_bf16": "avx512_bf16" in cpu_flags(),
            **times, "ratio": ratio, "bf16_fast": ratio < FAST_RATIO}


def bf16_is_fast(cache_file: str | Path | None = None) -> bool:
    """Whether bf16 beats float32 here: a CUDA GPU's bf16 support, else the cached CPU timing
    (measured on first use; about a second)."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    path = Path(cache_file or os.environ.get("BLUEKIT_HARDWARE_CACHE", CACHE_FILE))
    key = f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads"
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    if key not in cache:
        from bluekit.atomic import write_json
        cache[key] = measure_bf16()
        write_json(path, cache)
    return bool(cache[key]["bf16_fast"])


def resolve_bf16(value) -> bool:
    """train.grpo.bf16: "auto" -> the measured verdict; a bool passes through."""
    return bf16_is_fast() if value == "auto" else bool(value)


def resolve_dtype(name: str) -> str:
    """profiler.dtype: "auto" -> "bfloat16" where bf16 is fast, else "float32"."""
    if name != "auto":
        return name
    return "bfloat16" if bf16_is_fast() else "float32"
