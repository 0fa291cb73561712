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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import batches, jsonl
from .domains import amazon_category
from .schema import (EXAMPLE_COLUMNS, INTERACTION_SCHEMA, ITEM_SCHEMA, DataError, Domain,
                     LoadReport)

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
# The fields pyarrow parses (the snake_case spellings; a camelCase line is re-read in Python).
_REVIEW_RAW = pa.schema([("user_id", pa.string()), ("parent_asin", pa.string()),
                         ("rating", pa.float64()), ("timestamp", pa.int64()),
                         ("title", pa.string()), ("text", pa.string())])
_META_RAW = pa.schema([("parent_asin", pa.string()), ("title", pa.string()),
                       ("main_category", pa.string()), ("description", pa.list_(pa.string())),
                       ("features", pa.list_(pa.string())), ("categories", pa.list_(pa.string())),
                       ("store", pa.string()), ("price", pa.float64()),
                       ("average_rating", pa.float64()),
                       ("details", pa.struct([])),  # a dict; only whether it is there
                       ("price_text", pa.string())])  # a price given as a string: _price_aside
# The official benchmark splits (5-core, with history), by data.split: folder names on the site.
BENCHMARK_FOLDERS = {"last_out": "last_out_w_his", "timestamp": "timestamp_w_his"}
BENCHMARK_PARTS = ("train", "valid", "test")
# Keys in `details` that name a brand, used when `store` is empty.
BRAND_DETAIL_KEYS = ("Brand", "brand", "Brand Name", "Manufacturer")


# "$12.99", "12.99", "$1,299.00", "USD 5": one amount; ranges and words are not prices.
_PRICE_RE = re.compile(r"^\s*(?:US\$|USD|\$)?\s*(\d[\d,]*(?:\.\d+)?|\.\d+)\s*$")
# The same pattern for pyarrow (RE2): Python's \s on ASCII, written out; non-ASCII prices go to the
# Python reader, whose \s and \d also take Unicode spaces and digits.
_PRICE_RE2 = (r"^[\t\n\x0b\x0c\r \x1c-\x1f]*(?:US\$|USD|\$)?[\t\n\x0b\x0c\r \x1c-\x1f]*"
              r"(?P<amount>[0-9][0-9,]*(?:\.[0-9]+)?|\.[0-9]+)[\t\n\x0b\x0c\r \x1c-\x1f]*$")
# A top-level or nested "price" key whose value is a string (a key follows "{" or ","; inside a
# string value its quotes would be escaped).
_QUOTED_PRICE = re.compile(rb'([{,]\s*)"price"(\s*:\s*)"')


def _price_aside(chunk: bytes) -> bytes:
    """Move string prices ("$12.99", "None": the real files mix them with numbers, which pyarrow
    refuses in one column) into price_text, for the fast metadata conversion to parse."""
    return _QUOTED_PRICE.sub(rb'\1"price"\2null, "price_text": "', chunk)


def _arrow_prices(raw: pa.Table) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """parse_price over a block: (price, null, unparseable, redo): the numbers as they are, the
    string prices by _PRICE_RE2; a non-ASCII string price is left to the Python reader (redo)."""
    text = raw["price_text"]
    amount = pc.struct_field(pc.extract_regex(text, _PRICE_RE2), "amount")
    parsed = pc.cast(pc.replace_substring(amount, ",", ""), pa.float64())
    price = pc.coalesce(raw["price"], parsed)
    given = ~batches.null(text)
    redo = given & ~np.asarray(pc.fill_null(pc.string_is_ascii(text), True), dtype=bool)
    return (pc.fill_null(price, math.nan), batches.null(raw["price"]) & ~given,
            given & batches.null(amount), redo)


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
    table = batches.read_table(path, review_reader(max_text_chars), report, lenient, show_progress)
    return jsonl.interactions_frame(table)


def read_metadata(path: str | Path, lenient: bool = False, report: LoadReport | None = None,
                  show_progress: bool | None = None) -> pd.DataFrame:
    """Item metadata file -> items (schema.ITEM_COLUMNS), one row per parent_asin.

    description (a list) is joined with spaces; price strings are parsed, and a null or
    unparseable price becomes NaN (counted in the report, the row is kept); `details`
    may be a dict or a JSON string and supplies the brand as store when store is empty.
    Repeated parent_asin rows: the first is kept, the rest counted.
    """
    report = report if report is not None else LoadReport(f"amazon metadata {Path(path).name}")
    table = batches.read_table(path, meta_reader(report), report, lenient, show_progress)
    return jsonl.drop_duplicate_items(jsonl.items_frame(table), report)


def review_reader(max_text_chars: int | None = None) -> batches.Reader:
    """How bluekit.data.batches reads a reviews file (pyarrow first, _parse_review as reference)."""
    def convert(raw: pa.Table):
        redo = (batches.null(raw["user_id"]) | batches.blank(raw["parent_asin"])
                | batches.null(raw["rating"]) | batches.null(raw["timestamp"]))
        out = pa.table([raw["user_id"], raw["parent_asin"], raw["rating"], raw["timestamp"],
                        batches.text_or_empty(raw["title"], max_text_chars),
                        batches.text_or_empty(raw["text"], max_text_chars)],
                       schema=INTERACTION_SCHEMA)
        return out, redo, {}

    return batches.Reader(INTERACTION_SCHEMA,
                          functools.partial(_parse_review, max_text_chars=max_text_chars),
                          _REVIEW_RAW, convert)


def meta_reader(report: LoadReport) -> batches.Reader:
    """How bluekit.data.batches reads a metadata file; price/details problems count on report."""
    def parse(obj: dict) -> tuple:
        row, price_problem, details_problem = _parse_meta(obj)
        for problem in (price_problem, details_problem):
            if problem:  # counted, but the row stays (price NaN / details ignored)
                report.drop(problem)
        return row

    def convert(raw: pa.Table):
        store = pc.utf8_trim_whitespace(batches.text_or_empty(raw["store"]))
        # An empty store takes the brand from `details`: the reference parser does that.
        price, price_null, unparseable, odd_price = _arrow_prices(raw)
        redo = batches.null(raw["parent_asin"]) | (
            batches.blank(store) & ~batches.null(raw["details"])) | odd_price
        out = pa.table([
            raw["parent_asin"], batches.text_or_empty(raw["title"]),
            batches.text_or_empty(raw["main_category"]),
            pa.array([" ".join(v for v in parts if v is not None).strip() if parts else ""
                      for parts in raw["description"].to_pylist()], pa.string()),
            _str_lists(raw["features"]), _str_lists(raw["categories"]), store,
            price, pa.nulls(raw.num_rows, pa.string()).fill_null(""),
            pc.fill_null(raw["average_rating"], math.nan)], schema=ITEM_SCHEMA)
        return out, redo, {"price null (NaN, row kept)": int((price_null & ~redo).sum()),
                           "price unparseable (NaN, row kept)": int((unparseable & ~redo).sum())}

    return batches.Reader(ITEM_SCHEMA, parse, _META_RAW, convert, prepare=_price_aside)


def _str_lists(column: pa.ChunkedArray) -> pa.Array:
    """jsonl.to_str_list on a list<string> column: null -> [], null and blank entries dropped."""
    return pa.array([[v for v in values if v is not None and v.strip()] if values else []
                     for values in column.to_pylist()], pa.list_(pa.string()))


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


def benchmark_files(root: str | Path, category: str, split: str) -> dict[str, Path] | None:
    """The official 5-core split files (train, valid, test) of a category, or None if absent.

    root is the folder holding review_categories/ (.../amazon_2023/raw); the split files lie
    beside it as on the download site: .../amazon_2023/benchmark/5core/last_out_w_his/
    {category}.train.csv(.gz), and timestamp_w_his/ for the timestamp split. Some of the three
    but not all: DataError naming the missing ones.
    """
    folder = benchmark_folder(root, split)
    found = {part: next((p for p in (folder / f"{category}.{part}.csv{ext}" for ext in ("", ".gz"))
                         if p.exists()), None) for part in BENCHMARK_PARTS}
    missing = [part for part, path in found.items() if path is None]
    if len(missing) == len(BENCHMARK_PARTS):
        return None
    if missing:
        raise DataError(f"{folder}: the official {split} split of {category} lacks its "
                        f"{', '.join(missing)} file(s); download all three with: "
                        f"python -m bluekit download amazon {category} --splits")
    return found


def benchmark_folder(root: str | Path, split: str) -> Path:
    """Where the official split files of data.split ("last_out" | "timestamp") lie."""
    if split not in BENCHMARK_FOLDERS:
        raise DataError(f"data.split must be one of {sorted(BENCHMARK_FOLDERS)}, got {split!r}")
    return Path(root).parent / "benchmark" / "5core" / BENCHMARK_FOLDERS[split]


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
    category, review_path, meta_path = find_files(root, category)
    review_report = LoadReport(f"amazon reviews {review_path.name}")
    meta_report = LoadReport(f"amazon metadata {meta_path.name}")
    interactions = read_reviews(review_path, lenient, review_report, show_progress,
                                max_text_chars)
    items = read_metadata(meta_path, lenient, meta_report, show_progress)
    return Domain(category, interactions, items, [review_report, meta_report])


def find_files(root: str | Path, category: str) -> tuple[str, Path, Path]:
    """(category's file name, reviews path, metadata path); a DataError says how to download."""
    reviews, meta = category_files(root, category)
    full_name = amazon_category(category)  # paper short names: bluekit.data.domains
    if full_name != category and not any(p.exists() for p in reviews + meta):
        category = full_name
        reviews, meta = category_files(root, category)
    hint = f"Download it with: python -m bluekit download amazon {category}"
    return (category, jsonl.find_file(reviews, f"Amazon reviews for {category!r}", hint),
            jsonl.find_file(meta, f"Amazon metadata for {category!r}", hint))


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
