"""Read Amazon Reviews 2023 (McAuley Lab) files into the common frames of schema.py.

Files are JSON lines, plain or gzip (chosen by the .gz suffix):

- reviews: rating, title, text, images, asin, parent_asin, user_id, timestamp (Unix ms),
  helpful_vote, verified_purchase;
- item metadata: main_category, title, average_rating, rating_number, features (list),
  description (list), price (float, null or a string like "$12.99"), images, videos,
  store, categories (list), details (dict or a JSON string), parent_asin, bought_together;
- benchmark CSVs: user_id,parent_asin,rating,timestamp[,history].

The documentation also spells some keys in camelCase (sortTimestamp, parentAsin,
mainCategory, ...); both spellings are read. Only the columns the kit uses are kept
(schema.INTERACTION_COLUMNS / ITEM_COLUMNS); helpful votes, images and the like are not.
"""
from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

import pandas as pd

from . import jsonl
from .domains import amazon_category
from .schema import EXAMPLE_COLUMNS, INTERACTION_COLUMNS, ITEM_COLUMNS, DataError, Domain, LoadReport

# Key spellings accepted for each field, the documented snake_case name first.
REVIEW_KEYS = {
    "user_id": ("user_id", "userId"),
    "parent_asin": ("parent_asin", "parentAsin"),
    "asin": ("asin",),
    "rating": ("rating",),
    "timestamp": ("timestamp", "sortTimestamp"),
    "title": ("title",),
    "text": ("text",),
}
META_KEYS = {
    "parent_asin": ("parent_asin", "parentAsin"),
    "title": ("title",),
    "main_category": ("main_category", "mainCategory"),
    "description": ("description",),
    "features": ("features",),
    "categories": ("categories",),
    "store": ("store",),
    "price": ("price",),
    "average_rating": ("average_rating", "averageRating"),
    "details": ("details",),
}
# Keys in `details` that name a brand, used when `store` is empty.
BRAND_DETAIL_KEYS = ("Brand", "brand", "Brand Name", "Manufacturer")


# "$12.99", "12.99", "$1,299.00", "USD 5": one amount; ranges and words are not prices.
_PRICE_RE = re.compile(r"^\s*(?:US\$|USD|\$)?\s*(\d[\d,]*(?:\.\d+)?|\.\d+)\s*$")


def read_reviews(path: str | Path, lenient: bool = False, report: LoadReport | None = None,
                 show_progress: bool | None = None,
                 max_text_chars: int | None = None) -> pd.DataFrame:
    """Reviews file -> interactions (schema.INTERACTION_COLUMNS), one row per line.

    item_id is parent_asin (asin only when a line has no parent_asin); a null title or
    text becomes "". A missing user_id, item, rating or timestamp raises DataError naming
    the field, file and line (lenient=True: the line is skipped and counted).
    max_text_chars cuts review titles and texts while reading (saves memory on the large
    categories; prompts only show the first ~80 characters anyway).
    """
    report = report if report is not None else LoadReport(f"amazon reviews {Path(path).name}")
    parse = functools.partial(_parse_review, max_text_chars=max_text_chars)
    columns = jsonl.read_json_lines(path, INTERACTION_COLUMNS, parse, report, lenient,
                                    show_progress)
    return jsonl.interactions_frame(columns)


def read_metadata(path: str | Path, lenient: bool = False, report: LoadReport | None = None,
                  show_progress: bool | None = None) -> pd.DataFrame:
    """Item metadata file -> items (schema.ITEM_COLUMNS), one row per parent_asin.

    description (a list) is joined with spaces; price strings are parsed, and a null or
    unparseable price becomes NaN (counted in the report, the row is kept); `details`
    may be a dict or a JSON string and supplies the brand as store when store is empty.
    Repeated parent_asin rows: the first is kept, the rest counted.
    """
    report = report if report is not None else LoadReport(f"amazon metadata {Path(path).name}")

    def parse(obj: dict) -> tuple:
        row, price_problem, details_problem = _parse_meta(obj)
        for problem in (price_problem, details_problem):
            if problem:  # counted, but the row stays (price NaN / details ignored)
                report.drop(problem)
        return row

    columns = jsonl.read_json_lines(path, ITEM_COLUMNS, parse, report, lenient, show_progress)
    return jsonl.drop_duplicate_items(jsonl.items_frame(columns), report)


def read_benchmark_csv(path: str | Path) -> pd.DataFrame:
    """Benchmark split CSV -> examples (schema.EXAMPLE_COLUMNS).

    history is a space-separated list of parent_asin (oldest first); when the column is
    absent or a cell is empty it becomes [].
    """
    path = Path(path)
    frame = pd.read_csv(path, dtype={"user_id": str, "parent_asin": str, "history": str},
                        keep_default_na=False)
    missing = [c for c in ("user_id", "parent_asin", "rating", "timestamp") if c not in frame]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    history = (frame["history"].map(lambda s: s.split()) if "history" in frame
               else pd.Series([[] for _ in range(len(frame))], dtype=object))
    numbers = {}
    for column, dtype in (("rating", "float64"), ("timestamp", "int64")):
        try:
            numbers[column] = pd.to_numeric(frame[column]).astype(dtype)
        except (ValueError, TypeError) as e:
            raise DataError(f"{path}: column {column!r} is not numeric ({e})") from None
    return pd.DataFrame({
        "user_id": frame["user_id"].astype(str),
        "item_id": frame["parent_asin"].astype(str),
        "rating": numbers["rating"],
        "timestamp": numbers["timestamp"],
        "history": pd.Series(list(history), dtype=object),
    })[EXAMPLE_COLUMNS]


def category_files(root: str | Path, category: str) -> tuple[list[Path], list[Path]]:
    """Candidate review and metadata paths for a category (plain first, then .gz)."""
    root = Path(root)
    reviews = [root / "review_categories" / f"{category}.jsonl{ext}" for ext in ("", ".gz")]
    meta = [root / "meta_categories" / f"meta_{category}.jsonl{ext}" for ext in ("", ".gz")]
    return reviews, meta


def load_category(root: str | Path, category: str, lenient: bool = False,
                  show_progress: bool | None = None,
                  max_text_chars: int | None = None) -> Domain:
    """Read one category under `root` (the folder holding review_categories/ and meta_categories/).

    A short paper name ("Clothing", "sports": bluekit.data.domains) falls back to the dataset's
    file name ("Clothing_Shoes_and_Jewelry", ...) when no file of the short name exists.
    """
    reviews, meta = category_files(root, category)
    full_name = amazon_category(category)  # paper short names: bluekit.data.domains
    if full_name != category and not any(p.exists() for p in reviews + meta):
        category = full_name
        reviews, meta = category_files(root, category)
    hint = f"Download it with: python -m bluekit download amazon {category}"
    review_path = jsonl.find_file(reviews, f"Amazon reviews for {category!r}", hint)
    meta_path = jsonl.find_file(meta, f"Amazon metadata for {category!r}", hint)
    review_report = LoadReport(f"amazon reviews {review_path.name}")
    meta_report = LoadReport(f"amazon metadata {meta_path.name}")
    interactions = read_reviews(review_path, lenient, review_report, show_progress,
                                max_text_chars)
    items = read_metadata(meta_path, lenient, meta_report, show_progress)
    return Domain(category, interactions, items, [review_report, meta_report])


def parse_price(value) -> tuple[float, str | None]:
    """Price field -> (float or NaN, problem or None).

    >>> parse_price("$1,299.50")
    (1299.5, None)
    >>> parse_price(None)
    (nan, 'price null (NaN, row kept)')
    >>> parse_price("from $3 to $5")
    (nan, 'price unparseable (NaN, row kept)')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan, "price null (NaN, row kept)"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value), None
    if isinstance(value, str):
        match = _PRICE_RE.match(value)
        if match:
            return float(match.group(1).replace(",", "")), None
    return math.nan, "price unparseable (NaN, row kept)"


def parse_details(value) -> tuple[dict, str | None]:
    """details field (dict, JSON string or null) -> (dict, problem or None)."""
    if value is None or value == "":
        return {}, None
    if isinstance(value, dict):
        return value, None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed, None
    return {}, "details unparseable (ignored, row kept)"


def _parse_review(obj: dict, max_text_chars: int | None = None) -> tuple:
    keys = REVIEW_KEYS
    user_id = jsonl.require(obj, keys["user_id"])
    item_id = jsonl.get(obj, keys["parent_asin"]) or jsonl.get(obj, keys["asin"])
    if not item_id:
        raise jsonl.FieldError("missing parent_asin",
                               "missing required field 'parent_asin' (nor 'asin')")
    rating = jsonl.to_float(jsonl.require(obj, keys["rating"]), "rating")
    timestamp = jsonl.to_int(jsonl.require(obj, keys["timestamp"]), "timestamp")
    return (str(user_id), str(item_id), rating, timestamp,
            jsonl.to_text(jsonl.get(obj, keys["title"]), max_text_chars),
            jsonl.to_text(jsonl.get(obj, keys["text"]), max_text_chars))


def _parse_meta(obj: dict) -> tuple[tuple, str | None, str | None]:
    keys = META_KEYS
    item_id = str(jsonl.require(obj, keys["parent_asin"]))
    price, price_problem = parse_price(jsonl.get(obj, keys["price"]))
    details, details_problem = parse_details(jsonl.get(obj, keys["details"]))
    store = jsonl.to_text(jsonl.get(obj, keys["store"])).strip()
    if not store:
        store = jsonl.to_text(jsonl.get(details, BRAND_DETAIL_KEYS)).strip()
    row = (item_id,
           jsonl.to_text(jsonl.get(obj, keys["title"])),
           jsonl.to_text(jsonl.get(obj, keys["main_category"])),
           jsonl.to_text(jsonl.get(obj, keys["description"])),
           jsonl.to_str_list(jsonl.get(obj, keys["features"])),
           jsonl.to_str_list(jsonl.get(obj, keys["categories"])),
           store, price, "", jsonl.optional_float(jsonl.get(obj, keys["average_rating"])))
    return row, price_problem, details_problem
