"""How fast are held-out profiles generated? Profiles per second by batch size and dtype.

Evaluation generates one greedy profile per held-out user (240 in cpu-demo), so this sets how
long notebook 04 and every `compare` evaluation take. Decoding on a CPU is bound by per-step
overhead at small batches, so larger batches cost little more per step.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_generate.py --users 64 --batch 16 64 --dtype float32 bfloat16
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu-demo")
    parser.add_argument("--users", type=int, default=64, help="held-out users to profile")
    parser.add_argument("--batch", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--dtype", nargs="+", default=["float32", "bfloat16"])
    args = parser.parse_args(argv)

    import torch

    from bluekit import pipeline
    from bluekit.config import load_config
    from bluekit.llm import load_profiler
    from bluekit.profiler import profiles_for_examples

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    cfg = load_config(args.preset)
    ws = pipeline.workspace(cfg)
    examples = ws.test_examples.head(args.users)
    print(f"{args.preset}: {len(examples)} held-out users, max_new_tokens {cfg.profiler.max_new_tokens}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'dtype':<9} {'batch':>5} {'seconds':>8} {'profiles/s':>10} {'same as float32/16':>18}")
    reference = None
    for dtype in args.dtype:
        model, tok = load_profiler(cfg.profiler, dtype)
        for batch in args.batch:
            profiler_cfg = dataclasses.replace(cfg.profiler, generation_batch_size=batch)
            start = time.perf_counter()
            texts = profiles_for_examples(model, tok, examples, ws.prepared.interactions,
                                          ws.prepared.items, profiler_cfg, show_progress=False)
            seconds = time.perf_counter() - start
            reference = reference or texts
            same = sum(a == b for a, b in zip(texts, reference)) / len(texts)
            print(f"{dtype:<9} {batch:>5} {seconds:8.1f} {len(texts) / seconds:10.2f} {same:18.0%}",
                  flush=True)


if __name__ == "__main__":
    main()
