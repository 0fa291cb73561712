"""How fast is full-ranking evaluation, next to the floor of any full-ranking evaluator?

The floor is what every exact evaluator must do: score all items for a batch of users
(`queries @ items.T`) and read the block once (here: top-k with k=20), with the score block
reused between batches as the kit does. `target_ranks` does the same product and then
counts, per user, the items scoring >= the target. The same rule written in torch is timed
too: torch's single-thread compare-and-count is several times slower than numpy's, which is
why the kit uses numpy.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_evaluate.py            # 4096 users x 100k items x 384
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_evaluate.py --users 1024 --repeats 3

Prints one row per variant: median seconds over the repeats (the machine is shared, so
the median), users ranked per second, the ratio to the fastest floor, and the peak memory
the call added on top of the inputs (the full users x items matrix is shown for scale).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bluekit.evaluate import target_ranks  # noqa: E402

K = 20


def floor_numpy(queries, items, targets, batch_size):
    buffer = np.empty((batch_size, len(items)), dtype=np.float32)
    for start in range(0, len(queries), batch_size):
        q = queries[start:start + batch_size]
        scores = np.matmul(q, items.T, out=buffer[:len(q)])
        np.argpartition(scores, -K, axis=1)[:, -K:]


def floor_torch(queries, items, targets, batch_size):
    q_all, it = torch.from_numpy(queries), torch.from_numpy(items)
    buffer = torch.empty((batch_size, len(items)))
    for start in range(0, len(q_all), batch_size):
        q = q_all[start:start + batch_size]
        torch.topk(torch.matmul(q, it.T, out=buffer[:len(q)]), K, dim=1)


def matmul_only(queries, items, targets, batch_size):
    buffer = np.empty((batch_size, len(items)), dtype=np.float32)
    for start in range(0, len(queries), batch_size):
        q = queries[start:start + batch_size]
        np.matmul(q, items.T, out=buffer[:len(q)])


def ranks_torch(queries, items, targets, batch_size):
    """The kit's rank rule done in torch (the alternative to numpy that was measured)."""
    q_all, it, tg = torch.from_numpy(queries), torch.from_numpy(items), torch.from_numpy(targets)
    buffer = torch.empty((batch_size, len(items)))
    mask = torch.empty((batch_size, len(items)), dtype=torch.bool)
    out = torch.empty(len(q_all))
    for start in range(0, len(q_all), batch_size):
        q, t = q_all[start:start + batch_size], tg[start:start + batch_size]
        scores = torch.matmul(q, it.T, out=buffer[:len(q)])
        target_scores = scores[torch.arange(len(t)), t]
        ge = torch.ge(scores, target_scores[:, None], out=mask[:len(q)])
        out[start:start + len(q)] = ge.sum(dim=1, dtype=torch.int32).float()
    return out.numpy().astype(np.float64)


def ranks_kit(queries, items, targets, batch_size):
    return target_ranks(queries, items, targets, batch_size=batch_size)


VARIANTS = {"floor: numpy matmul + argpartition": floor_numpy,
            "floor: torch matmul + topk": floor_torch,
            "(matmul alone, numpy)": matmul_only,
            "ranks: torch matmul + ge + sum": ranks_torch,
            "ranks: bluekit target_ranks (numpy)": ranks_kit}


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := VmRSS
        return True
    except OSError:
        return False


def measure(fn, args, repeats: int) -> tuple[float, float]:
    """(median seconds, peak extra MB over the repeats)."""
    times, extra = [], 0.0
    for _ in range(repeats):
        reset_peak()
        before = rss_mb("VmRSS")
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
        extra = max(extra, rss_mb("VmHWM") - before)
    return statistics.median(times), extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4096)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    items = rng.standard_normal((args.items, args.dim), dtype=np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    queries = rng.standard_normal((args.users, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    targets = rng.integers(0, args.items, size=args.users)
    inputs = (queries, items, targets, args.batch_size)

    # Both rank implementations must agree before any timing means anything.
    check = slice(0, min(256, args.users))
    assert np.array_equal(ranks_kit(queries[check], items, targets[check], args.batch_size),
                          ranks_torch(queries[check], items, targets[check], args.batch_size))

    print(f"{args.users} users x {args.items} items x {args.dim} dims float32, batch {args.batch_size}, "
          f"median of {args.repeats}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"torch threads {torch.get_num_threads()}; peak-memory probe {'on' if reset_peak() else 'OFF'}")
    print(f"score block {args.batch_size * args.items * 4 / 2**20:.0f} MB; "
          f"the whole users x items matrix would be {args.users * args.items * 4 / 2**20:.0f} MB")
    rows = []
    for name, fn in VARIANTS.items():
        fn(queries[:args.batch_size], items, targets[:args.batch_size], args.batch_size)  # warm-up
        seconds, extra = measure(fn, inputs, args.repeats)
        rows.append((name, seconds, extra))
    floor = min(s for n, s, _ in rows if n.startswith("floor"))
    print(f"{'variant':40s} {'median s':>9s} {'users/s':>9s} {'x floor':>8s} {'peak extra MB':>14s}")
    for name, seconds, extra in rows:
        print(f"{name:40s} {seconds:9.2f} {args.users / seconds:9.0f} {seconds / floor:8.2f} {extra:14.0f}")


if __name__ == "__main__":
    main()
