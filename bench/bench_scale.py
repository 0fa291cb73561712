"""Catalogue scale: item vectors for N real titles (MiniLM) and full ranking of users against 1M items.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_scale.py encode --items 20000
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_scale.py rank --items 1000000 --users 2048

encode: N short product titles (made up here, in the style of Amazon titles) are embedded with
all-MiniLM-L6-v2 through bluekit.embed.item_vectors_sharded into a fresh folder, then read back
from the shards (what a resumed or repeated run costs).
rank: random unit vectors stand in for profiles and items (ranking cost does not depend on the
values); bluekit.evaluate.target_ranks ranks every user's target among ALL items.

Each prints wall seconds, this process's CPU seconds, the peak memory it added over what was
there before (Linux VmHWM), and the projection to a real category (default: 1.5M items, 100k
users): linear in items for the encode, linear in users x items for the ranking. Under `nice`
on a shared machine the wall time mostly measures the other jobs: the CPU-time rate is what the
same single thread does on an idle machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_evaluate import reset_peak, rss_mb  # noqa: E402 - same folder: one home for the probe

WORDS = {
    "adjective": ["classic", "soft", "lightweight", "waterproof", "slim", "vintage", "warm",
                  "breathable", "stretch", "casual", "premium", "cotton", "leather", "wool"],
    "thing": ["running shoe", "ankle boot", "sneaker", "rain jacket", "hoodie", "t-shirt",
              "denim jeans", "sundress", "scarf", "beanie", "backpack", "wallet", "watch",
              "sandals", "pajama set", "sports bra", "swim trunks", "belt", "necklace"],
    "who": ["for women", "for men", "for girls", "for boys", "unisex", ""],
    "detail": ["black", "navy", "size 8", "size M", "pack of 3", "with pockets", "slim fit",
               "quick dry", "gift box", "2-pack", "XL", "grey heather"],
}


def titles(n: int, seed: int = 0) -> list[str]:
    """n short, varied product titles (7-12 words), as an Amazon Clothing catalogue has."""
    rng = np.random.default_rng(seed)
    picks = {k: rng.integers(0, len(v), size=n) for k, v in WORDS.items()}
    brand = rng.integers(0, 5000, size=n)
    return [f"Brand{brand[i]} {WORDS['adjective'][picks['adjective'][i]]} "
            f"{WORDS['thing'][picks['thing'][i]]} {WORDS['who'][picks['who'][i]]} "
            f"{WORDS['detail'][picks['detail'][i]]}".replace("  ", " ") for i in range(n)]


def measured(fn):
    """(result, wall s, CPU s, peak MB added) of fn()."""
    reset_peak()
    before, wall, cpu = rss_mb("VmRSS"), time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu, rss_mb("VmHWM") - before


def bench_encode(args) -> None:
    from bluekit.embed import SHARD_ITEMS, Embedder, item_vectors_sharded

    embedder = Embedder(show_progress=False, batch_size=args.batch_size)
    texts = titles(args.items)
    ids = [f"B{i:09d}" for i in range(args.items)]
    print(f"encode: {args.items} titles (mean {np.mean([len(t) for t in texts]):.0f} chars), "
          f"{embedder.name} {embedder.dim}-d on {embedder.device}, batch {args.batch_size}, "
          f"shards of {args.shard_items}")
    with tempfile.TemporaryDirectory() as cache:
        vecs, wall, cpu, peak = measured(lambda: item_vectors_sharded(
            embedder, ids, texts, cache, shard_items=args.shard_items, show_progress=True))
        print(f"  encode   {wall:8.1f} s wall {cpu:8.1f} s CPU  {args.items / wall:7.0f} items/s "
              f" peak +{peak:.0f} MB  (vectors {vecs.nbytes / 2**20:.0f} MB)")
        _, wall2, cpu2, peak2 = measured(lambda: item_vectors_sharded(
            embedder, ids, texts, cache, shard_items=args.shard_items, show_progress=False))
        print(f"  re-read  {wall2:8.1f} s wall {cpu2:8.1f} s CPU  (all shards finished) "
              f" peak +{peak2:.0f} MB")
    full = args.project_items
    print(f"projection for {full:,} items: {full * wall / args.items / 3600:.1f} h at the wall rate "
          f"measured here, {full * cpu / args.items / 3600:.1f} h at the CPU-time rate (what the "
          f"same threads take on an idle machine); vectors {full * embedder.dim * 4 / 2**30:.1f} GB "
          f"float32 in {-(-full // SHARD_ITEMS)} shards of {SHARD_ITEMS:,} (the kit's default)")


def bench_rank(args) -> None:
    from bluekit.evaluate import bounded_batch, target_ranks

    rng = np.random.default_rng(0)
    items = rng.standard_normal((args.items, args.dim), dtype=np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    queries = rng.standard_normal((args.users, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    targets = rng.integers(0, args.items, size=args.users)
    print(f"rank: {args.users:,} users x {args.items:,} items x {args.dim} float32; inputs "
          f"{(items.nbytes + queries.nbytes) / 2**20:.0f} MB; the whole users x items matrix "
          f"would be {args.users * args.items * 4 / 2**30:.1f} GB")
    for batch in args.batch_sizes:
        ranks, wall, cpu, peak = measured(lambda: target_ranks(queries, items, targets,
                                                               batch_size=batch))
        assert np.isfinite(ranks).all() and ranks.min() >= 1
        scale = args.project_users / args.users * args.project_items / args.items
        print(f"  batch {batch:5d} (blocks of {bounded_batch(batch, args.items)})  {wall:7.1f} s wall {cpu:7.1f} s CPU  "
              f"{args.users / wall:6.0f} users/s  peak +{peak:.0f} MB over the inputs  -> "
              f"{args.project_users:,} users x {args.project_items:,} items: "
              f"{wall * scale / 3600:.2f} h wall-rate, {cpu * scale / 3600:.2f} h CPU-rate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["encode", "rank"])
    parser.add_argument("--items", type=int, default=None,
                        help="catalogue size (encode: 20000, rank: 1000000)")
    parser.add_argument("--users", type=int, default=2048, help="rank: users measured")
    parser.add_argument("--dim", type=int, default=384, help="rank: vector width (MiniLM 384, "
                        "Qwen3-Embedding-0.6B 1024)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1024],
                        help="rank: target_ranks batch sizes to measure")
    parser.add_argument("--batch-size", type=int, default=64, help="encode: embedder batch")
    parser.add_argument("--shard-items", type=int, default=5000, help="encode: items per shard")
    parser.add_argument("--project-items", type=int, default=1_500_000)
    parser.add_argument("--project-users", type=int, default=100_000)
    args = parser.parse_args()
    args.items = args.items or (20_000 if args.part == "encode" else 1_000_000)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    print(f"{cpu}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.1f} (a shared machine: timings are noisy)")
    (bench_encode if args.part == "encode" else bench_rank)(args)


if __name__ == "__main__":
    main()
