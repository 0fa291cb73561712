"""Prepare a category of any size in bounded memory: read once into Parquet, filter on integers.

    reviews = spill_file(path, amazon.review_reader(1000), REVIEW_KEYS, report, "data/cache", {})
    prepared = prepare_files("Clothing", reviews, meta, data_cfg)  # as bluekit.data.load_prepared

1. Each file is read in batches (bluekit.data.batches) and spilled to Parquet under
   {data.cache_dir}/prep/, keyed by the file (path, size, modification time) and the reader's
   settings; a second run reads the spill instead of the JSON. Beside the Parquet go 64-bit
   keys of the user and item ids and the timestamps, as flat binary files.
2. Dedupe, the metadata filter and the k-core run on those integers (about 40 bytes a review
   at their peak), never on the raw rows.
3. Only the rows that survive are read back from Parquet into the frames prep.finish splits,
   so memory follows the size of the k-core, not the size of the file.

The steps and their reports are the in-memory prep.prepare's, row for row (tests/test_spill.py).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bluekit.atomic import atomic_path, read_json, write_json

from . import batches, jsonl, prep
from .schema import DataError, LoadReport

SPILL_VERSION = 1  # bump when what a spill holds changes: old spills are then ignored
# Reviews files smaller than this are prepared in memory (same result; nothing left in the cache).
MIN_BYTES = 32 * 1024 * 1024
# The key files of each kind of spill: file stem -> column.
REVIEW_KEYS = {"user": "user_id", "item": "item_id", "timestamp": "timestamp"}
META_KEYS = {"item": "item_id"}


@dataclass
class Spill:
    """One file read into {folder}: rows.parquet, *.u64 / *.i64 key files, report.json."""
    folder: Path
    report: LoadReport

    @property
    def parquet(self) -> Path:
        return self.folder / "rows.parquet"

    def keys(self, stem: str) -> np.ndarray:
        """A key file: uint64 id keys, or int64 for "timestamp"."""
        return np.fromfile(_key_file(self.folder, stem), dtype=_key_dtype(stem))


def spill_file(path: Path, reader: batches.Reader, key_columns: dict[str, str],
               report: LoadReport, cache_dir: str | Path, settings: dict,
               lenient: bool = False, show_progress: bool | None = None) -> Spill:
    """Read `path` into a spill (or reuse the one made with the same file and settings).

    key_columns: file stem -> column: string columns get a 64-bit key (batches.hash_ids),
    "timestamp" is kept as int64.
    """
    path = Path(path)
    folder = Path(cache_dir) / "prep" / f"{path.name}-{_key(path, settings)}"
    done = folder / "report.json"
    if done.exists():
        saved = read_json(done)
        return Spill(folder, LoadReport(report.source, saved["rows_in"], saved["rows_out"],
                                        saved["dropped"]))
    folder.mkdir(parents=True, exist_ok=True)
    key_files = {stem: _key_file(folder, stem) for stem in key_columns}
    with atomic_path(folder / "rows.parquet") as tmp, _open_all(key_files) as outs:
        with pq.ParquetWriter(tmp, reader.schema) as writer:
            for table in batches.read_batches(path, reader, report, lenient, show_progress):
                writer.write_table(table)
                for stem, column in key_columns.items():
                    values = (table[column].to_numpy() if stem == "timestamp"
                              else batches.hash_ids(table[column]))
                    outs[stem].write(np.ascontiguousarray(values, _key_dtype(stem)).tobytes())
    for stem, file in key_files.items():
        os.replace(_part(file), file)
    # Written last: a spill without its report is unfinished and is read again.
    write_json(done, {"rows_in": report.rows_in, "rows_out": report.rows_out,
                      "dropped": report.dropped, "file": str(path), "settings": settings})
    return Spill(folder, report)


def prepare_files(name: str, reviews: Spill, meta: Spill, data_cfg,
                  official: dict[str, pd.DataFrame] | None = None) -> prep.Prepared:
    """prep.prepare's steps on two spills: dedupe -> metadata filter -> k-core -> prep.finish.

    official: the benchmark split frames by part (amazon.read_benchmark_csv). They replace the
    k-core and the configured split: the interactions kept are those of their users and items.
    """
    reports = [reviews.report, meta.report]
    step = functools.partial(prep.add_report, reports)
    users, user_keys = _dense_codes(reviews.keys("user"))
    items, item_keys = _dense_codes(reviews.keys("item"))
    keep = _dedupe(users, items, len(item_keys), reviews, step("dedupe"))

    meta_rows, meta_keys = _first_rows(meta.keys("item"))
    meta.report.drop("duplicate item_id (kept first)", meta.report.rows_out - len(meta_rows))
    meta.report.rows_out = len(meta_rows)
    has_meta = np.isin(item_keys, meta_keys, assume_unique=True)
    rows = _drop_without_metadata(np.flatnonzero(keep), items, has_meta, len(meta_rows),
                                  step("drop items without metadata"))
    if official is None:
        rows = _k_core(rows, users, items, data_cfg.k_core, step(f"k_core(k={data_cfg.k_core})"))
    else:
        rows = _official_rows(rows, users, user_keys, items, item_keys, official,
                              step("users and items of the official split files"))

    interactions = jsonl.interactions_frame(_take_rows(reviews.parquet, rows))
    pa.default_memory_pool().release_unused()  # hand the read buffers back before the split
    kept_keys = item_keys[_distinct(items[rows])]
    items_frame = jsonl.items_frame(
        _take_rows(meta.parquet, meta_rows[np.isin(meta_keys, kept_keys, assume_unique=True)]))
    _check_keys(interactions, items_frame, len(_distinct(users[rows])), len(kept_keys), reviews)
    splits = None
    if official is not None:
        splits = prep.official_splits(official, interactions, set(items_frame["item_id"]),
                                      data_cfg.split, data_cfg.max_history,
                                      step(f"official split {data_cfg.split}"))
    return prep.finish(name, interactions, items_frame, data_cfg, reports,
                       n_metadata_items=len(meta_rows), splits=splits)


def _official_rows(rows: np.ndarray, users: np.ndarray, user_keys: np.ndarray,
                   items: np.ndarray, item_keys: np.ndarray, official: dict[str, pd.DataFrame],
                   report: LoadReport) -> np.ndarray:
    """The rows whose user and item appear in the official split files (their 5-core)."""
    report.rows_in = len(rows)
    frames = official.values()
    official_users = pd.concat([f["user_id"] for f in frames]).unique()
    official_items = pd.concat([f["item_id"] for f in frames]
                               + [f["history"].explode().dropna() for f in frames]).unique()
    user_ok = np.isin(user_keys, batches.hash_ids(pa.array(official_users, pa.string())))
    item_ok = np.isin(item_keys, batches.hash_ids(pa.array(official_items, pa.string())))
    out = rows[user_ok[users[rows]] & item_ok[items[rows]]]
    report.rows_out = len(out)
    report.drop("interaction outside the official split files", len(rows) - len(out))
    if len(rows) and not len(out):
        raise DataError("no review matches the users and items of the official split files: "
                        "do they belong to this category?")
    return out


# ---- the filters, on integer codes ----

def _dense_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """keys -> (int32 code per row, the sorted distinct keys); code = index into them."""
    order = np.argsort(keys)
    ordered = keys[order]
    del keys
    new = np.empty(len(ordered), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    distinct = ordered[new]
    del ordered
    codes = np.empty(len(order), dtype=np.int32)
    codes[order] = np.cumsum(new, dtype=np.int32) - 1
    return codes, distinct


def _dedupe(users: np.ndarray, items: np.ndarray, n_items: int, reviews: Spill,
            report: LoadReport) -> np.ndarray:
    """Mask of rows kept: per (user, item) the earliest timestamp, ties to the earlier row."""
    n = len(users)
    report.rows_in = n
    pair = users.astype(np.int64) * n_items + items
    order = np.argsort(pair, kind="stable")  # equal pairs stay in row order
    ordered = pair[order]
    del pair
    same = ordered[1:] == ordered[:-1]  # same[p]: sorted position p + 1 repeats p
    del ordered
    keep = np.ones(n, dtype=bool)
    if same.any():
        in_group = np.zeros(n, dtype=bool)
        in_group[1:] |= same
        in_group[:-1] |= same
        rows = order[in_group]
        group = np.cumsum(np.r_[True, ~same][in_group])
        timestamps = reviews.keys("timestamp")[rows]
        pick = np.lexsort((rows, timestamps, group))
        first = np.r_[True, group[pick][1:] != group[pick][:-1]]
        keep[rows[pick][~first]] = False
    report.rows_out = int(keep.sum())
    report.drop("repeated (user, item) pair", n - report.rows_out)
    return keep


def _drop_without_metadata(rows: np.ndarray, items: np.ndarray, has_meta: np.ndarray,
                           n_meta: int, report: LoadReport) -> np.ndarray:
    report.rows_in = len(rows)
    ok = has_meta[items[rows]]
    report.drop("items without metadata", len(_distinct(items[rows[~ok]])))
    out = rows[ok]
    report.rows_out = len(out)
    report.drop("interaction with an item lacking metadata", len(rows) - len(out))
    if len(rows) and not len(out):
        raise DataError(
            f"drop_items_without_metadata left nothing: {len(rows)} interactions on "
            f"{len(_distinct(items[rows]))} items before, 0 after; none of the reviewed items "
            f"appears among the {n_meta} metadata rows (do the files belong together?)")
    return out


def _k_core(rows: np.ndarray, users: np.ndarray, items: np.ndarray, k: int,
            report: LoadReport) -> np.ndarray:
    """prep.k_core on codes: the largest subset where every user and item has >= k rows."""
    report.rows_in = len(rows)
    u, i = users[rows], items[rows]
    n_users_in, n_items_in = len(_distinct(u)), len(_distinct(i))
    while k > 1:
        ok = (np.bincount(u)[u] >= k) & (np.bincount(i)[i] >= k)
        if ok.all():
            break
        rows, u, i = rows[ok], u[ok], i[ok]
    report.drop("users removed", n_users_in - len(_distinct(u)))
    report.drop("items removed", n_items_in - len(_distinct(i)))
    report.rows_out = len(rows)
    report.drop(f"interaction outside the {k}-core", report.rows_in - len(rows))
    if report.rows_in and not len(rows):
        raise DataError(
            f"k_core(k={k}) left nothing: {report.rows_in} interactions, {n_users_in} users, "
            f"{n_items_in} items before; 0 after. Lower data.k_core or use a larger dataset.")
    return rows


def _distinct(codes: np.ndarray) -> np.ndarray:
    """The distinct codes, sorted (a count per code: faster than np.unique on dense codes)."""
    return np.flatnonzero(np.bincount(codes)) if len(codes) else codes[:0]


def _first_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows holding the first occurrence of each key, in file order; their keys)."""
    _, first = np.unique(keys, return_index=True)
    first.sort()
    return first, keys[first]


# ---- reading rows back, checks, cache keys ----

def _take_rows(parquet: Path, rows: np.ndarray) -> pa.Table:
    """The given rows (sorted positions) of a Parquet file, in order, one row group at a time."""
    file = pq.ParquetFile(parquet)
    taken, start = [], 0
    for g in range(file.num_row_groups):
        size = file.metadata.row_group(g).num_rows
        lo, hi = np.searchsorted(rows, [start, start + size])
        if hi > lo:
            taken.append(file.read_row_group(g).take(pa.array(rows[lo:hi] - start)))
        start += size
    return pa.concat_tables(taken) if taken else file.schema_arrow.empty_table()


def _check_keys(interactions, items, n_users: int, n_items: int, reviews: Spill) -> None:
    """Two ids sharing a 64-bit key would merge silently: say so instead (odds ~1e-5)."""
    users_ok = interactions["user_id"].nunique() == n_users
    items_ok = interactions["item_id"].nunique() == n_items == len(items)
    if not (users_ok and items_ok):
        raise DataError(f"{reviews.folder}: two {'user' if not users_ok else 'item'} ids share "
                        "a 64-bit key (a hash collision); please report it. The in-memory "
                        "prep (bluekit.data.prepare(load_domain(cfg.data), cfg.data)) is exact")


def _key_dtype(stem: str) -> type:
    return np.int64 if stem == "timestamp" else np.uint64


def _key_file(folder: Path, stem: str) -> Path:
    return folder / f"{stem}.{'i64' if stem == 'timestamp' else 'u64'}"


def _key(path: Path, settings: dict) -> str:
    stat = path.stat()
    identity = {"file": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "version": SPILL_VERSION, **settings}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def _part(file: Path) -> Path:
    """The file being written; the process id keeps two processes spilling one file apart."""
    return file.with_name(f".{file.name}.{os.getpid()}.part")


class _open_all:
    """Open the _part of each key file; closed (not renamed) when the block ends."""

    def __init__(self, files: dict[str, Path]):
        self.files = files

    def __enter__(self) -> dict:
        self.outs = {stem: open(_part(file), "wb") for stem, file in self.files.items()}
        return self.outs

    def __exit__(self, *exc) -> None:
        for out in self.outs.values():
            out.close()
