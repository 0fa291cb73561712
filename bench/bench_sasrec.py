"""SASRec's row (the ID-based reference, not zero-shot) on a preset's held-out users, timed: the
row `eval.id_baseline` adds to `python -m bluekit baselines`, without the other baselines.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_sasrec.py --preset cpu-demo
"""
from __future__ import annotations

import argparse
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
    args = parser.parse_args(argv)

    import torch

    from bluekit import baselines, pipeline
    from bluekit.config import load_config
    from bluekit.sasrec import SASRecSettings

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    ws = pipeline.workspace(load_config(args.preset))
    start, cpu = time.time(), time.process_time()
    result = baselines.sasrec(ws.test_examples, item_index=ws.prepared.item_index,
                              train_interactions=ws.prepared.splits.train,
                              valid_examples=ws.prepared.splits.valid, ks=tuple(ws.cfg.eval.ks),
                              settings=SASRecSettings.from_dict(ws.cfg.eval.sasrec))
    print(result.name, {k: round(v, 4) if isinstance(v, float) else v
                        for k, v in result.summary.items()})
    print(f"train + score: {time.time() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU "
          f"(one process; the wall time depends on what else runs)")


if __name__ == "__main__":
    main()
