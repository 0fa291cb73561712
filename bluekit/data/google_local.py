"""Read Google Local Reviews (UCSD, 2021) files into the common frames of schema.py.

One JSON object per line, one .json.gz per US state (plain .json is read too):

- review-{State}: user_id (digits; kept as a string), name (the reviewer), time (Unix ms),
  rating (int), text (str or null), pics, resp, gmap_id;
- meta-{State}: name, address, gmap_id, description, latitude, longitude, category (list),
  avg_rating, num_of_reviews, price (a tier like "$$"), hours, MISC, state, relative_results, url.

Mapping: gmap_id -> item_id, time -> timestamp, name -> title, category list -> categories
(and category = its first entry). The price tier is not an amount, so price stays NaN and
store stays "" (the schema has no tier column).
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa

from . import batches, jsonl
from .schema import INTERACTION_SCHEMA, ITEM_SCHEMA, Domain, LoadReport

REVIEW_KEYS = {
    "user_id": ("user_id",),
    "gmap_id": ("gmap_id",),
    "rating": ("rating",),
    "time": ("time",),
    "text": ("text",),
}
# The fields pyarrow parses; user_id must be a string (a number has lost digits: Python refuses it).
_REVIEW_RAW = pa.schema([("user_id", pa.string()), ("gmap_id", pa.string()),
                         ("rating", pa.float64()), ("time", pa.int64()), ("text", pa.string())])
META_KEYS = {
    "gmap_id": ("gmap_id",),
    "name": ("name",),
    "category": ("category",),
    "description": ("description",),
    "address": ("address",),
    "avg_rating": ("avg_rating",),
}


def read_reviews(path: str | Path, lenient: bool = False, report: LoadReport | None = None,
                 show_progress: bool | None = None,
                 max_text_chars: int | None = None) -> pd.DataFrame:
    """Reviews file -> interactions (schema.INTERACTION_COLUMNS); review_title is always "".

    A missing user_id, gmap_id, rating or time raises DataError naming the field, file
    and line (lenient=True: skipped and counted). max_text_chars cuts review texts while
    reading (saves memory on large states).
    """
    report = report if report is not None else LoadReport(f"google_local reviews {Path(path).name}")
    table = batches.read_table(path, review_reader(max_text_chars), report, lenient, show_progress)
    return jsonl.interactions_frame(table)


def read_metadata(path: str | Path, lenient: bool = False, report: LoadReport | None = None,
                  show_progress: bool | None = None) -> pd.DataFrame:
    """Metadata file -> items (schema.ITEM_COLUMNS); repeated gmap_id rows: first kept, counted."""
    report = report if report is not None else LoadReport(f"google_local metadata {Path(path).name}")
    table = batches.read_table(path, meta_reader(report), report, lenient, show_progress)
    return jsonl.drop_duplicate_items(jsonl.items_frame(table), report)


def review_reader(max_text_chars: int | None = None) -> batches.Reader:
    """How bluekit.data.batches reads a reviews file (pyarrow first, _parse_review as reference)."""
    def convert(raw: pa.Table):
        redo = (batches.null(raw["user_id"]) | batches.null(raw["gmap_id"])
                | batches.null(raw["rating"]) | batches.null(raw["time"]))
        no_title = pa.nulls(raw.num_rows, pa.string()).fill_null("")
        out = pa.table([raw["user_id"], raw["gmap_id"], raw["rating"], raw["time"], no_title,
                        batches.text_or_empty(raw["text"], max_text_chars)],
                       schema=INTERACTION_SCHEMA)
        return out, redo, {}

    return batches.Reader(INTERACTION_SCHEMA,
                          functools.partial(_parse_review, max_text_chars=max_text_chars),
                          _REVIEW_RAW, convert)


def meta_reader(report: LoadReport | None = None) -> batches.Reader:
    """Metadata files are read line by line (one line per business: small next to reviews)."""
    return batches.Reader(ITEM_SCHEMA, _parse_meta)


def state_files(root: str | Path, state: str) -> tuple[list[Path], list[Path]]:
    """Candidate review and metadata paths for a state (plain .json first, then .json.gz)."""
    root = Path(root)
    return ([root / f"review-{state}.json{ext}" for ext in ("", ".gz")],
            [root / f"meta-{state}.json{ext}" for ext in ("", ".gz")])


def load_state(root: str | Path, state: str, lenient: bool = False,
               show_progress: bool | None = None,
               max_text_chars: int | None = None) -> Domain:
    """Read one state (e.g. "New_York") from the folder holding review-/meta- files."""
    review_path, meta_path = find_files(root, state)
    review_report = LoadReport(f"google_local reviews {review_path.name}")
    meta_report = LoadReport(f"google_local metadata {meta_path.name}")
    interactions = read_reviews(review_path, lenient, review_report, show_progress,
                                max_text_chars)
    items = read_metadata(meta_path, lenient, meta_report, show_progress)
    return Domain(state, interactions, items, [review_report, meta_report])


def find_files(root: str | Path, state: str) -> tuple[Path, Path]:
    """(reviews path, metadata path) of a state; a DataError says how to download them."""
    reviews, meta = state_files(root, state)
    hint = f"Download it with: python -m bluekit download google_local {state}"
    return (jsonl.find_file(reviews, f"Google Local reviews for {state!r}", hint),
            jsonl.find_file(meta, f"Google Local metadata for {state!r}", hint))


def _parse_review(obj: dict, max_text_chars: int | None = None) -> tuple:
    keys = REVIEW_KEYS
    user_id = jsonl.require(obj, keys["user_id"])
    if isinstance(user_id, float):  # a float id has lost digits already: refuse it
        raise jsonl.FieldError("bad user_id", f"field 'user_id' is not a string of digits: {user_id!r}")
    item_id = jsonl.require(obj, keys["gmap_id"])
    rating = jsonl.to_float(jsonl.require(obj, keys["rating"]), "rating")
    timestamp = jsonl.to_int(jsonl.require(obj, keys["time"]), "time")
    return (str(user_id), str(item_id), rating, timestamp, "",
            jsonl.to_text(jsonl.get(obj, keys["text"]), max_text_chars))


def _parse_meta(obj: dict) -> tuple:
    keys = META_KEYS
    categories = jsonl.to_str_list(jsonl.get(obj, keys["category"]))
    return (str(jsonl.require(obj, keys["gmap_id"])),
            jsonl.to_text(jsonl.get(obj, keys["name"])),
            categories[0] if categories else "",
            jsonl.to_text(jsonl.get(obj, keys["description"])),
            [],  # features: none in this dataset
            categories,
            "",  # store
            math.nan,  # price: only a tier such as "$$"
            jsonl.to_text(jsonl.get(obj, keys["address"])),
            jsonl.optional_float(jsonl.get(obj, keys["avg_rating"])))
