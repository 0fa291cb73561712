"""Read JSON-lines files in batches of Arrow tables: pyarrow parses, the per-line reader judges.

A block of whole lines (jsonl.iter_chunks) is parsed by pyarrow with an explicit schema of the
fields the kit keeps; every other field (images, videos, bought_together, ...) is never
materialised. pyarrow is only trusted where it must agree with the per-line Python reader of
jsonl.py, which stays the reference for what a line may be:

- a block pyarrow refuses (a value of another type, a duplicated key, bad UTF-8), one with blank
  lines, or one whose row count differs from its line count (two objects on one line) is halved
  until pyarrow takes the halves or they are small; small ones are read line by line by the
  Python reader, with its errors naming file and line and its lenient counts;
- rows the fast conversion cannot vouch for (a missing or null required field, a camelCase
  spelling, an empty store whose brand sits in `details`) are re-read line by line the same way.

    for table in read_batches(path, AMAZON_REVIEWS, report, lenient=False): ...
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pj

from . import jsonl
from .schema import LoadReport

# A blank (or whitespace-only) line: the Python reader skips it, so row i is no longer line i.
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")
# A block pyarrow refuses is halved until it has fewer lines than this; then it is read per line.
_MIN_LINES = 128
# pyarrow parses a block's 1 MiB pieces on all cores (the rows keep their order).
_PARSE_BLOCK = 1 << 20

# Convert a raw pyarrow table -> (table in the output schema, rows to re-read in Python or None,
# counts of dropped/flagged values among the rows kept).
Convert = Callable[[pa.Table], tuple[pa.Table, np.ndarray | None, dict[str, int]]]


@dataclass(frozen=True)
class Reader:
    """How to read one kind of file: the output schema, the per-line parser, the fast path."""
    schema: pa.Schema  # what read_batches yields
    parse_row: Callable[[dict], tuple]  # one value per schema field; raises jsonl.FieldError
    raw_schema: pa.Schema | None = None  # the fields pyarrow parses (None: Python only)
    convert: Convert | None = None
    # Rewrites a block's bytes for pyarrow only (the Python reader always sees the lines as they
    # are), e.g. moving a field that mixes numbers and strings into a second field.
    prepare: Callable[[bytes], bytes] | None = None


def read_batches(path: str | Path, reader: Reader, report: LoadReport, lenient: bool = False,
                 show_progress: bool | None = None) -> Iterator[pa.Table]:
    """One table per block of lines, in file order; counts rows_in / rows_out / drops on report."""
    path = Path(path)
    report.rows_out = 0
    for first_line, chunk in jsonl.iter_chunks(path, show_progress):
        table = _batch(path, first_line, chunk, reader, report, lenient)
        report.rows_out += table.num_rows
        yield table


def read_table(path: str | Path, reader: Reader, report: LoadReport, lenient: bool = False,
               show_progress: bool | None = None) -> pa.Table:
    """The whole file as one table (small files, tests and the in-memory readers)."""
    tables = list(read_batches(path, reader, report, lenient, show_progress))
    return pa.concat_tables(tables) if tables else reader.schema.empty_table()


def _batch(path: Path, first_line: int, chunk: bytes, reader: Reader, report: LoadReport,
           lenient: bool) -> pa.Table:
    """pyarrow on the block; if it cannot take it whole, on each half (so one odd line costs
    a small block, not a large one), down to _MIN_LINES lines read by the Python reader."""
    table = _fast_batch(path, first_line, chunk, reader, report, lenient)
    if table is not None:
        return table
    middle = chunk.find(b"\n", len(chunk) // 2) + 1
    if reader.raw_schema is not None and chunk.count(b"\n", 0, middle) >= _MIN_LINES \
            and 0 < middle < len(chunk):
        left = _batch(path, first_line, chunk[:middle], reader, report, lenient)
        right = _batch(path, first_line + chunk.count(b"\n", 0, middle), chunk[middle:], reader,
                       report, lenient)
        return pa.concat_tables([left, right])
    return _python_rows(path, jsonl.numbered_lines(first_line, chunk), reader, report, lenient)[0]


def _fast_batch(path: Path, first_line: int, chunk: bytes, reader: Reader, report: LoadReport,
                lenient: bool) -> pa.Table | None:
    if reader.raw_schema is None or _has_blank_line(chunk):
        return None
    options = pj.ParseOptions(explicit_schema=reader.raw_schema, unexpected_field_behavior="ignore")
    try:
        parsed = reader.prepare(chunk) if reader.prepare is not None else chunk
        raw = pj.read_json(io.BytesIO(parsed), parse_options=options,
                           read_options=pj.ReadOptions(use_threads=True, block_size=_PARSE_BLOCK))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None  # the Python reader names the line (or reads what pyarrow would not)
    n_lines = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
    if raw.num_rows != n_lines:
        return None
    out, redo, counts = reader.convert(raw)
    for reason, count in counts.items():
        report.drop(reason, count)
    if redo is None or not redo.any():
        report.rows_in += n_lines
        return out
    report.rows_in += int(n_lines - redo.sum())
    lines = chunk.split(b"\n")
    again = np.flatnonzero(redo)
    python, line_numbers = _python_rows(path, ((first_line + i, lines[i]) for i in again),
                                        reader, report, lenient)
    # Put the re-read rows back where their lines were.
    position = np.concatenate([np.flatnonzero(~redo), np.asarray(line_numbers) - first_line])
    merged = pa.concat_tables([out.filter(pa.array(~redo)), python])
    return merged.take(pa.array(np.argsort(position, kind="stable")))


def _has_blank_line(chunk: bytes) -> bool:
    end = chunk.find(b"\n")
    first = chunk if end < 0 else chunk[:end]
    return not first.strip() or _BLANK_LINE.search(chunk) is not None


def _python_rows(path: Path, lines, reader: Reader, report: LoadReport,
                 lenient: bool) -> tuple[pa.Table, list[int]]:
    """Lines through the reference reader -> (table, the line number of each row)."""
    objects = jsonl.parse_objects(path, lines, report, lenient)
    numbered = list(jsonl.parse_rows(path, objects, reader.parse_row, report, lenient))
    columns = list(zip(*(row for _, row in numbered))) or [[] for _ in reader.schema]
    table = pa.table([pa.array(list(values), type=f.type) for values, f in
                      zip(columns, reader.schema)], schema=reader.schema)
    return table, [line_no for line_no, _ in numbered]


# ---- helpers for the fast conversions (amazon.py, google_local.py) ----

def text_or_empty(column: pa.ChunkedArray, max_chars: int | None = None) -> pa.Array:
    """Strings with null -> "" and, when max_chars, cut to max_chars characters."""
    import pyarrow.compute as pc
    column = pc.fill_null(column, "")
    return pc.utf8_slice_codeunits(column, 0, max_chars) if max_chars else column


def blank(column: pa.ChunkedArray) -> np.ndarray:
    """True where a string column is null or empty."""
    import pyarrow.compute as pc
    return np.asarray(pc.fill_null(pc.equal(column, ""), True), dtype=bool)


def null(column: pa.ChunkedArray) -> np.ndarray:
    """True where a column is null (a float column: null or NaN)."""
    import pyarrow.compute as pc
    missing = pc.is_null(column, nan_is_null=pa.types.is_floating(column.type))
    return np.asarray(missing, dtype=bool)


# ---- 64-bit keys for ids, so filters run on integers instead of strings ----

_WIDTH = 48  # ids up to this many bytes are hashed by numpy; longer ones by pandas
_MULTIPLIERS = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                         0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53],
                        dtype=np.uint64)


def hash_ids(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """uint64 key of each string (no nulls); the same string always gets the same key.

    Collisions are possible in principle (about 1e-5 for 20M distinct ids); the streaming
    prep checks the ids it keeps (bluekit.data.spill) and says so if two ever share a key.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    values = values.cast(pa.string())
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset:values.offset + n + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    lengths = np.diff(offsets)
    out = np.empty(n, dtype=np.uint64)
    short = lengths <= _WIDTH
    if short.any():
        padded = np.zeros((int(short.sum()), _WIDTH), dtype=np.uint8)
        if lengths.min() == lengths.max():  # fixed-width ids (Amazon's): one reshape, no gather
            padded[:, :lengths[0]] = data[offsets[0]:offsets[-1]].reshape(n, lengths[0])
        else:
            starts, lens = offsets[:-1][short], lengths[short]
            for j in range(int(lens.max())):  # column j of every id long enough to have one
                has = lens > j
                padded[has, j] = data[starts[has] + j]
        words = padded.view("<u8")  # _WIDTH / 8 words per id
        key = lengths[short].astype(np.uint64) * np.uint64(0x100000001B3)
        with np.errstate(over="ignore"):
            for j in range(words.shape[1]):
                key = _mix((key ^ words[:, j]) * _MULTIPLIERS[j])
        out[short] = key
    if not short.all():
        longer = values.filter(pa.array(~short)).to_numpy(zero_copy_only=False)
        out[~short] = pd.util.hash_array(longer.astype(object)) ^ np.uint64(0xA5A5A5A5A5A5A5A5)
    return out


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole key."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
