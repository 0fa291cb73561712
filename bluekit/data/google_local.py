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

from . import jsonl
from .schema import INTERACTION_COLUMNS, ITEM_COLUMNS, Domain, LoadReport

REVIEW_KEYS = {
    "user_id": ("user_id",),
    "gmap_id": ("gmap_id",),
    "rating": ("rating",),
    "time": ("time",),
    "text": ("text",),
}
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
    parse = functools.partial(_parse_review, max_text_chars=max_text_chars)
    columns = jsonl.read_json_lines(path, INTERACTION_COLUMNS, parse, report, lenient,
                                    show_progress)
    return jsonl.interactions_frame(columns)


def read_metadata(path: str | Path, lenient: bool = False, report: LoadReport | None = None,
                  show_progress: bool | None = None) -> pd.DataFrame:
    """Metadata file -> items (schema.ITEM_COLUMNS); repeated gmap_id rows: first kept, counted."""
    report = report if report is not None else LoadReport(f"google_local metadata {Path(path).name}")
    columns = jsonl.read_json_lines(path, ITEM_COLUMNS, _parse_meta, report, lenient,
                                    show_progress)
    return jsonl.drop_duplicate_items(jsonl.items_frame(columns), report)


def state_files(root: str | Path, state: str) -> tuple[list[Path], list[Path]]:
    """Candidate review and metadata paths for a state (plain .json first, then .json.gz)."""
    root = Path(root)
    return ([root / f"review-{state}.json{ext}" for ext in ("", ".gz")],
            [root / f"meta-{state}.json{ext}" for ext in ("", ".gz")])


def load_state(root: str | Path, state: str, lenient: bool = False,
               show_progress: bool | None = None,
               max_text_chars: int | None = None) -> Domain:
    """Read one state (e.g. "New_York") from the folder holding review-/meta- files."""
    reviews, meta = state_files(root, state)
    hint = f"Download it with: python -m bluekit download google_local {state}"
    review_path = jsonl.find_file(reviews, f"Google Local reviews for {state!r}", hint)
    meta_path = jsonl.find_file(meta, f"Google Local metadata for {state!r}", hint)
    review_report = LoadReport(f"google_local reviews {review_path.name}")
    meta_report = LoadReport(f"google_local metadata {meta_path.name}")
    interactions = read_reviews(review_path, lenient, review_report, show_progress,
                                max_text_chars)
    items = read_metadata(meta_path, lenient, meta_report, show_progress)
    return Domain(state, interactions, items, [review_report, meta_report])


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
