"""How fast are the map, the editor and the report? (issue 9's speed goals)

Goals: the UMAP fit on ~1.2k items plus placing the panel's profiles <= 20 s on one CPU thread;
a cached map loads in < 1 s; an editor update about 1 s on a CPU.

Each phase runs in a FRESH process (so numba's compile time, paid once per process, is counted
where a user pays it), on the cpu-demo world (1182 items, all-MiniLM-L6-v2) with the published
cpu-long run's panel (8 users x 13 snapshots):

    fit       cold UMAP fit into an empty cache + placing the panel's 104 profile vectors
              (interpolate, the default), then umap's full transform of the same vectors
    load      the cached map from disk, then placing the panel (no umap import needed)
    editor    ProfileEditor start-up, then edits: embed, place, rank, rewards, attribution
    report    python -m bluekit report data/pretrained/cpu-long (one HTML file)

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_viz.py            # all phases
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_viz.py --phase editor

The machine may be shared: the load average is printed with the numbers, and the fit also
reports its CPU time (one thread: what it costs on an idle core).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHASES = ("fit", "load", "editor", "report")


def _workspace():
    from bluekit import pipeline
    from bluekit.config import load_config
    from bluekit.embed import Embedder

    cfg = load_config("cpu-demo")
    return pipeline.workspace(cfg, embedder=Embedder.from_config(cfg.embed, show_progress=False))


def _panel_vectors():
    import numpy as np

    from bluekit.train import load_snapshots, pretrained_run
    snaps = load_snapshots(pretrained_run("cpu-long"))
    vecs = np.array(snaps["embedding"].tolist(), dtype=np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def phase_fit(cache: str) -> dict:
    from bluekit import viz
    ws = _workspace()
    vecs = _panel_vectors()
    start, cpu = time.perf_counter(), time.process_time()
    imap = viz.item_map(ws, cache_dir=cache, refit=True)
    t_place = time.perf_counter()
    imap.place(vecs)
    done, cpu_done = time.perf_counter(), time.process_time()
    full = time.perf_counter()
    imap.place(vecs, method="transform")
    return {"items": imap.n_items, "profiles": len(vecs), "umap_import_s": imap.timings["import_s"],
            "fit_s": imap.timings["fit_s"], "place_interpolate_s": done - t_place,
            "fit_plus_place_s": done - start, "fit_plus_place_cpu_s": cpu_done - cpu,
            "full_transform_after_fit_s": time.perf_counter() - full}


def phase_load(cache: str) -> dict:
    from bluekit import viz
    ws = _workspace()
    vecs = _panel_vectors()
    start = time.perf_counter()
    imap = viz.item_map(ws, cache_dir=cache)
    loaded = time.perf_counter()
    imap.place(vecs)
    return {"load_s": loaded - start, "load_plus_place_s": time.perf_counter() - start,
            "fitted": "fit_s" in imap.timings}


def phase_editor(cache: str) -> dict:
    from bluekit import viz
    from bluekit.train import pretrained_run
    from bluekit.widgets import ProfileEditor
    ws = _workspace()
    imap = viz.item_map(ws, cache_dir=cache)
    traj = viz.run_trajectories(pretrained_run("cpu-long"), ws, imap)
    start = time.perf_counter()
    editor = ProfileEditor(ws, imap, traj)
    ready = time.perf_counter() - start
    texts = ["Loves warm knit beanies and winter hats.",
             "This user buys chunky knit beanies in winter. They also like wool scarves.",
             "Prefers yoga socks with grip. Practises yoga three times a week. Likes olive green.",
             "Shops for comfortable everyday clothes.",
             "Buys outdoor gear: rain boots, fleece jackets and hiking socks from the same brands."]
    times = []
    for text in texts * 2:
        t = time.perf_counter()
        result = editor.update(text)
        times.append(time.perf_counter() - t)
    return {"startup_s": ready, "first_update_s": times[0], "median_update_s": statistics.median(times),
            "max_update_s": max(times), "updates": len(times), "rewards": list(result["rewards"])}


def phase_report(cache: str) -> dict:
    out = Path(cache) / "report.html"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bluekit", "report", "data/pretrained/cpu-long", "--out", str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    return {"report_s": time.perf_counter() - start, "report_mb": out.stat().st_size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase", choices=PHASES, action="append")
    parser.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(globals()[f"phase_{args.phase[0]}"](args.cache)))
        return
    phases = args.phase or list(PHASES)
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-viz-") as cache:
        if "fit" not in phases:  # the later phases need a fitted map in this cache
            phases = ["fit"] + phases
        for phase in phases:
            proc = subprocess.run([sys.executable, __file__, "--child", "--phase", phase, "--cache", cache],
                                  cwd=ROOT, capture_output=True, text=True)
            if proc.returncode:
                print(f"{phase}: FAILED\n{proc.stderr[-2000:]}")
                continue
            numbers = json.loads(proc.stdout.strip().splitlines()[-1])
            shown = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in numbers.items())
            print(f"{phase:7s} {shown}")


if __name__ == "__main__":
    main()
