"""How fast, and in how much memory, does data prep read a large Amazon 2023 category?

`make` writes a synthetic category of N review lines in the exact Amazon Reviews 2023 schema
(snake_case keys, as in the published files) plus its metadata, from the demo world:
- "core" users: copies of the demo Clothing reviews, user and item ids renamed per copy, so
  they survive the 5-core like real active users;
- "tail" users: one review each (one in 50 repeats it, for the dedupe), as most users of a
  real category (Clothing 2023: ~66M reviews by ~22M users). --core-share sets the mix.
`run` reads it with load_prepared (read -> dedupe -> k-core -> split -> item text) in a fresh
process and prints wall and CPU seconds, lines per second of each, and the peak memory
(ru_maxrss) of that process.
--kit DIR imports bluekit from DIR (e.g. an older checkout: `git archive <commit> bluekit |
tar -x -C /tmp/oldkit`), to compare readers on the same file.

    .venv/bin/python bench/bench_prep.py make --lines 2000000 --out /tmp/prep2m
    .venv/bin/python bench/bench_prep.py make --lines 2000000 --text-copies 3 --out /tmp/prep2m3
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_prep.py run --dir /tmp/prep2m
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_prep.py run --dir /tmp/prep2m --kit /tmp/oldkit
    .venv/bin/python bench/bench_prep.py run --dir /tmp/prep2m --reviews-only   # the reader alone

The files are large (about 330 bytes a line): delete the folder afterwards. Nothing here is
committed data; the rows are generated.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATEGORY = "Clothing_Shoes_and_Jewelry"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _code(n: int, width: int) -> str:
    out = ""
    for _ in range(width):
        n, r = divmod(n, 36)
        out = ALPHABET[r] + out
    return out


def _review_line(user: str, item: str, row: dict, timestamp: int) -> str:
    # The published field order and spelling (Amazon Reviews 2023 review files).
    return json.dumps({"rating": row["rating"], "title": row["title"], "text": row["text"],
                       "images": [], "asin": item, "parent_asin": item, "user_id": user,
                       "timestamp": timestamp, "helpful_vote": row["helpful_vote"],
                       "verified_purchase": True}) + "\n"


def make(lines: int, out: Path, core_share: float, seed: int, text_copies: int = 1) -> None:
    """Write review_categories/{CATEGORY}.jsonl and meta_categories/meta_{CATEGORY}.jsonl."""
    sys.path.insert(0, str(ROOT))
    from bluekit.data import amazon, synth
    demo = Path(tempfile.mkdtemp()) / "demo"
    synth.ensure_demo_data(demo, 400, 1200, 0)
    raw = demo / "amazon_2023" / "raw"
    reviews = amazon.read_reviews(raw / "review_categories" / f"{CATEGORY}.jsonl.gz")
    meta = [json.loads(line) for line in
            gzip.open(raw / "meta_categories" / f"meta_{CATEGORY}.jsonl.gz", "rt")]
    for m in meta:  # dicts, the common case (the demo writes some as JSON strings, a quirk that
        # sends a whole block to the per-line reader)
        m["details"] = amazon.parse_details(m["details"])[0]
    # text_copies=3 gives the file the issue measured (demo reviews with their text tripled).
    rows = [{"rating": r.rating, "title": r.review_title,
             "text": " ".join([r.review_text] * text_copies),
             "helpful_vote": i % 4} for i, r in enumerate(reviews.itertuples())]
    users, items, times = (reviews[c].tolist() for c in ("user_id", "item_id", "timestamp"))
    item_codes = {item: n for n, item in enumerate(dict.fromkeys(m["parent_asin"] for m in meta))}
    rng = random.Random(seed)
    root = out / "amazon_2023" / "raw"
    (root / "review_categories").mkdir(parents=True, exist_ok=True)
    (root / "meta_categories").mkdir(parents=True, exist_ok=True)
    tail_per_copy = int(len(rows) * (1 - core_share) / core_share)
    written, copy, tail_user = 0, 0, 0
    t0 = time.time()
    with open(root / "review_categories" / f"{CATEGORY}.jsonl", "w") as f, \
         open(root / "meta_categories" / f"meta_{CATEGORY}.jsonl", "w") as fm:
        while written < lines:
            item_of = {item: "B" + _code(copy, 5) + _code(n, 4) for item, n in item_codes.items()}
            for m in meta:
                fm.write(json.dumps({**m, "parent_asin": item_of[m["parent_asin"]]}) + "\n")
            block = [_review_line(users[i][:22] + _code(copy, 6), item_of[items[i]], rows[i], times[i])
                     for i in range(len(rows))]
            block_items = list(item_of.values())
            for _ in range(tail_per_copy):
                tail_user += 1
                row = rows[rng.randrange(len(rows))]
                line = _review_line("T" + _code(tail_user, 27), rng.choice(block_items), row,
                                    1500000000000 + rng.randrange(200000000000))
                block.append(line)
                if tail_user % 50 == 0:
                    block.append(line)
            rng.shuffle(block)
            block = block[:lines - written]
            f.writelines(block)
            written += len(block)
            copy += 1
    size = (root / "review_categories" / f"{CATEGORY}.jsonl").stat().st_size
    print(f"wrote {written} review lines ({size / 1e9:.2f} GB), {copy * len(meta)} metadata "
          f"lines, {copy} core copies, in {time.time() - t0:.0f} s -> {out}")


def run(folder: Path, kit: Path | None, cache: Path | None, reviews_only: bool = False) -> None:
    sys.path.insert(0, str(kit or ROOT))
    from bluekit.config import DataConfig
    from bluekit.data import load_prepared
    import bluekit
    print(f"bluekit from {Path(bluekit.__file__).parent}")
    review_file = folder / "amazon_2023" / "raw" / "review_categories" / f"{CATEGORY}.jsonl"
    with open(review_file, "rb") as f:
        n_lines = sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b""))
    if reviews_only:  # the issue's own measure: amazon.read_reviews alone, file -> interactions
        from bluekit.data import amazon
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        rows = len(amazon.read_reviews(review_file, show_progress=False))
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
        print(f"read_reviews: {rows} rows in {seconds:.1f} s wall = {n_lines / seconds / 1e3:.0f}k lines/s; "
              f"{cpu:.1f} CPU s = {n_lines / cpu / 1e3:.0f}k lines per CPU s")
        return
    settings = {"source": "amazon", "domain": CATEGORY, "raw_dir": str(folder)}
    if "cache_dir" in DataConfig.__dataclass_fields__:  # the streaming reader spills here
        settings["cache_dir"] = str(cache or Path(tempfile.mkdtemp()))
    t0, cpu0 = time.perf_counter(), _cpu_seconds()
    prepared = load_prepared(DataConfig(**settings))
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    # CPU seconds too: on a shared machine they vary far less than wall seconds.
    print(f"{n_lines} lines in {seconds:.1f} s wall = {n_lines / seconds / 1e3:.0f}k lines/s; "
          f"{cpu:.1f} CPU s = {n_lines / cpu / 1e3:.0f}k lines per CPU s; "
          f"peak memory {peak_gb:.2f} GB")
    print(prepared.summary())
    for report in prepared.reports:
        print(f"  {report}")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make", help="write a synthetic category")
    p.add_argument("--lines", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--core-share", type=float, default=0.2,
                   help="share of lines by users who pass the 5-core (default 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--text-copies", type=int, default=1,
                   help="repeat each review text this many times (3: the issue's 1.0 GB file at 2M lines)")
    p = sub.add_parser("run", help="time load_prepared on it in this process")
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--kit", type=Path, default=None, help="import bluekit from this folder")
    p.add_argument("--cache", type=Path, default=None, help="data.cache_dir (default: a new temp dir)")
    p.add_argument("--reviews-only", action="store_true",
                   help="time amazon.read_reviews alone (the reader the issue measured), not the whole prep")
    args = parser.parse_args()
    if args.command == "make":
        make(args.lines, args.out, args.core_share, args.seed, args.text_copies)
    else:
        run(args.dir, args.kit, args.cache, args.reviews_only)


if __name__ == "__main__":
    main()
