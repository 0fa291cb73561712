"""How many held-out users does a paired test need to see an effect of a given size?

Resamples the per-user differences between two methods of a results file (evaluate.save_results:
e.g. runs/demo/with_cpu_long.json written by notebook 04) to n users, with replacement, and runs
the paired Wilcoxon test (zsplit, as bluekit.evaluate.paired_test) on each sample.

    .venv/bin/python bench/learning_study/power.py runs/demo/with_cpu_long.json \
        "untrained profiler" "cpu-long profiler (published, 120 steps)" --n 240 480 960 2000 3000
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("a", help="method name, e.g. 'untrained profiler'")
    parser.add_argument("b", help="method name of the one compared with it")
    parser.add_argument("--n", type=int, nargs="+", default=[240, 480, 960, 1500, 2000, 3000])
    parser.add_argument("--metrics", nargs="+", default=["ndcg@10", "mrr"])
    parser.add_argument("--samples", type=int, default=400)
    args = parser.parse_args(argv)

    from scipy.stats import wilcoxon

    from bluekit.evaluate import _align, load_results

    results = {r.name: r for r in load_results(args.results)}
    a, b = results[args.a], results[args.b]
    print(f"{args.b} vs {args.a}, {len(a.per_user)} users in {args.results}")
    print("n users  " + "  ".join(f"power {m:>8}" for m in args.metrics))
    diffs = {}
    for metric in args.metrics:
        merged = _align(a.per_user, b.per_user, metric)
        diffs[metric] = merged[f"{metric}_b"].to_numpy(float) - merged[f"{metric}_a"].to_numpy(float)
        print(f"  {metric}: mean difference {diffs[metric].mean():+.4f}, "
              f"{(diffs[metric] != 0).mean():.0%} of users differ")
    rng = np.random.default_rng(0)
    for n in args.n:
        powers = []
        for metric in args.metrics:
            ps = []
            for _ in range(args.samples):
                s = diffs[metric][rng.integers(0, len(diffs[metric]), n)]
                ps.append(1.0 if np.all(s == 0) else wilcoxon(s, zero_method="zsplit").pvalue)
            powers.append(float(np.mean(np.array(ps) < 0.05)))
        print(f"{n:7d}  " + "  ".join(f"{p:14.2f}" for p in powers))


if __name__ == "__main__":
    main()
