"""Read JSON-lines files (plain or .gz) into column lists, with errors that name file and line.

This per-line loop is the reference of both dataset readers (amazon.py, google_local.py):
bluekit.data.batches lets pyarrow parse blocks of lines and hands every line it cannot vouch
for to parse_objects / parse_rows here, so malformed lines, missing fields and lenient mode
behave the same everywhere:

- a line that is not a JSON object raises DataError("<file>, line N: malformed JSON ...");
  with lenient=True it is skipped and counted as "malformed json" in the LoadReport;
- a row parser raises FieldError for a missing or bad field; the loop turns it into a
  DataError naming the field, file and line (lenient: skipped, counted under its reason).
"""
from __future__ import annotations

import gzip
import json
import math
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from .schema import INTERACTION_COLUMNS, ITEM_COLUMNS, DataError, LoadReport

# Files larger than this show a progress bar when show_progress is None (auto).
PROGRESS_MIN_BYTES = 20 * 1024 * 1024
# Bytes read per block: whole lines, parsed together (bluekit.data.batches).
CHUNK_BYTES = 8 * 1024 * 1024
_MISSING = object()


class FieldError(Exception):
    """A row lacks a required field or holds a value of the wrong kind."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason  # short key counted in LoadReport.dropped


def iter_json_objects(path: str | Path, report: LoadReport, lenient: bool = False,
                      show_progress: bool | None = None) -> Iterator[tuple[int, dict]]:
    """Yield (line_number, object) for every non-blank line; counts rows_in on `report`."""
    for first_line, chunk in iter_chunks(path, show_progress):
        yield from parse_objects(Path(path), numbered_lines(first_line, chunk), report, lenient)


def iter_chunks(path: str | Path, show_progress: bool | None = None,
                chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, bytes]]:
    """Yield (number of its first line, whole lines as bytes) in blocks of about chunk_bytes.

    A cut-off or corrupt .gz becomes a DataError naming the file and the last whole line.
    """
    path = Path(path)
    size = path.stat().st_size
    if show_progress is None:
        show_progress = size >= PROGRESS_MIN_BYTES
    # The bar follows bytes read from disk (compressed bytes for .gz), so it has a true total.
    with open(path, "rb") as raw, tqdm(total=size, unit="B", unit_scale=True, desc=path.name,
                                       disable=not show_progress) as bar:
        binary = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
        line_no, rest = 1, b""
        while True:
            try:
                block = binary.read(chunk_bytes)
            except (EOFError, gzip.BadGzipFile, zlib.error) as e:
                raise DataError(f"{path}, after line {line_no - 1}: cannot "
                                f"read on ({type(e).__name__}: {e}); the file may be truncated "
                                "or corrupt: download it again") from e
            if not block:
                break
            data = rest + block
            cut = data.rfind(b"\n") + 1
            chunk, rest = data[:cut], data[cut:]
            if chunk:
                yield line_no, chunk
                line_no += chunk.count(b"\n")
            if show_progress:
                bar.update(raw.tell() - bar.n)
        if rest:  # a last line without a newline
            yield line_no, rest
        bar.update(size - bar.n)


def numbered_lines(first_line: int, chunk: bytes) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for every line of a chunk from iter_chunks."""
    lines = chunk.split(b"\n")
    if chunk.endswith(b"\n"):
        lines.pop()
    return enumerate(lines, start=first_line)


def parse_objects(path: Path, lines: Iterable[tuple[int, bytes]], report: LoadReport,
                  lenient: bool) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; the reference for what a line may be."""
    for line_no, raw in lines:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{path}, line {line_no}: not UTF-8 text ({e}); the file may be "
                            "truncated or corrupt: download it again") from None
        if not line.strip():
            continue
        report.rows_in += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problem = f"malformed JSON ({e.msg} at column {e.colno})"
            obj = None
        else:
            problem = None if isinstance(obj, dict) else (
                f"malformed JSON (expected an object, got {type(obj).__name__})")
        if problem:
            if lenient:
                report.drop("malformed json")
                continue
            raise DataError(f"{path}, line {line_no}: {problem}; "
                            "pass lenient=True to skip and count such lines")
        yield line_no, obj


def parse_rows(path: Path, objects: Iterable[tuple[int, dict]], parse_row: Callable[[dict], tuple],
               report: LoadReport, lenient: bool) -> Iterator[tuple[int, tuple]]:
    """(line number, parse_row(object)); a FieldError names the field, file and line."""
    for line_no, obj in objects:
        try:
            row = parse_row(obj)
        except FieldError as e:
            if lenient:
                report.drop(e.reason)
                continue
            raise DataError(f"{path}, line {line_no}: {e}; "
                            "pass lenient=True to skip and count such rows") from None
        yield line_no, row


def read_json_lines(path: str | Path, columns: Sequence[str], parse_row: Callable[[dict], tuple],
                    report: LoadReport, lenient: bool = False,
                    show_progress: bool | None = None) -> dict[str, list]:
    """Parse every object with `parse_row` (one value per column) into column lists."""
    lists: list[list] = [[] for _ in columns]
    objects = iter_json_objects(path, report, lenient, show_progress)
    for _, row in parse_rows(Path(path), objects, parse_row, report, lenient):
        for values, value in zip(lists, row):
            values.append(value)
    report.rows_out = len(lists[0]) if lists else 0
    return dict(zip(columns, lists))


def find_file(candidates: Sequence[Path], what: str, hint: str) -> Path:
    """The first existing path among `candidates`, else a DataError listing them all."""
    for path in candidates:
        if path.exists():
            return path
    listed = " or ".join(str(p) for p in candidates)
    raise DataError(f"{what} not found: expected {listed}. {hint}")


def interactions_frame(columns: dict[str, list] | pa.Table) -> pd.DataFrame:
    """Column lists (or a table of schema.INTERACTION_SCHEMA) -> interactions with the schema
    dtypes (also right when empty)."""
    columns = _column_values(columns)
    return pd.DataFrame({
        "user_id": pd.Series(columns["user_id"], dtype=str),
        "item_id": pd.Series(columns["item_id"], dtype=str),
        "rating": np.asarray(columns["rating"], dtype="float64"),
        "timestamp": np.asarray(columns["timestamp"], dtype="int64"),
        "review_title": pd.Series(columns["review_title"], dtype=str),
        "review_text": pd.Series(columns["review_text"], dtype=str),
    })[INTERACTION_COLUMNS]


def items_frame(columns: dict[str, list] | pa.Table) -> pd.DataFrame:
    """Column lists (or a table of schema.ITEM_SCHEMA) -> items with the schema dtypes (also
    right when empty)."""
    columns = _column_values(columns)
    frame = pd.DataFrame({c: pd.Series(columns[c], dtype=str) for c in
                          ("item_id", "title", "category", "description", "store", "address")})
    frame["features"] = pd.Series(columns["features"], dtype=object)
    frame["categories"] = pd.Series(columns["categories"], dtype=object)
    frame["price"] = np.asarray(columns["price"], dtype="float64")
    frame["average_rating"] = np.asarray(columns["average_rating"], dtype="float64")
    return frame[ITEM_COLUMNS]


_STR = pd.Series([], dtype=str).dtype  # pandas' default string dtype


def _column_values(columns: dict[str, list] | pa.Table) -> dict[str, Sequence]:
    if not isinstance(columns, pa.Table):
        return columns
    # Strings go straight into pandas' Arrow-backed str dtype (no Python string per value: the
    # streaming prep's frames stay compact); lists become Python lists, as the per-line reader
    # makes them; numbers become numpy arrays.
    values = {}
    for name, column in zip(columns.column_names, columns.columns):
        if pa.types.is_string(column.type):
            values[name] = column.to_pandas(types_mapper={pa.string(): _STR}.get)
        elif pa.types.is_list(column.type):
            values[name] = column.to_pylist()
        else:
            values[name] = column.to_numpy()
    return values


def drop_duplicate_items(items: pd.DataFrame, report: LoadReport) -> pd.DataFrame:
    """Keep the first row of each item_id (later ones counted as dropped)."""
    duplicated = items["item_id"].duplicated(keep="first")
    report.drop("duplicate item_id (kept first)", int(duplicated.sum()))
    items = items.loc[~duplicated].reset_index(drop=True)
    report.rows_out = len(items)
    return items


# ---- field access and conversion, shared by the row parsers ----

def get(obj: dict, keys: Sequence[str], default: Any = None) -> Any:
    """The value of the first key present (spelling aliases), else `default`."""
    for key in keys:
        value = obj.get(key, _MISSING)
        if value is not _MISSING:
            return value
    return default


def require(obj: dict, keys: Sequence[str]) -> Any:
    """Like get(), but a missing or null field raises FieldError naming the field."""
    value = get(obj, keys)
    if value is None:
        aliases = f" (also accepted: {', '.join(map(repr, keys[1:]))})" if len(keys) > 1 else ""
        raise FieldError(f"missing {keys[0]}", f"missing required field {keys[0]!r}{aliases}")
    return value


def optional_float(value: Any) -> float:
    """A number (or numeric string) as float; NaN for anything else (an optional field).

    >>> optional_float("4.5"), optional_float(None)
    (4.5, nan)
    """
    try:
        return math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return math.nan


def to_float(value: Any, name: str) -> float:
    """A number (or numeric string) as float; anything else raises FieldError."""
    if isinstance(value, bool):
        value = None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number):
        raise FieldError(f"bad {name}", f"field {name!r} is not a number: {value!r}")
    return number


def to_int(value: Any, name: str) -> int:
    """An integer (or integral float / digit string) as int; anything else raises FieldError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise FieldError(f"bad {name}", f"field {name!r} is not an integer: {value!r}")


def to_text(value: Any, max_chars: int | None = None) -> str:
    """None -> "", a list of strings -> joined with spaces, anything else -> str; cut to max_chars."""
    if value is None:
        return ""
    text = (" ".join(to_text(v) for v in value if v is not None).strip()
            if isinstance(value, list) else str(value))
    return text[:max_chars] if max_chars else text


def to_str_list(value: Any) -> list[str]:
    """None -> [], a string -> [string], nested lists flattened, None entries dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            out.extend(to_str_list(v) if isinstance(v, (list, tuple)) else
                       ([str(v)] if v is not None and str(v).strip() else []))
        return out
    return [str(value)]
