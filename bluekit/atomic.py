"""Write files so that a crash never leaves a half-written one: write a temporary sibling, then
rename it over the target (os.replace is atomic on one filesystem).

    with atomic_path("runs/x/table.csv") as tmp:   # any writer: pandas, gzip, np.save, nbformat
        frame.to_csv(tmp)
    write_text(path, text); write_json(path, data); write_bytes(path, data)
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path``; renamed onto it when the block ends without error.

    The parent folder is created. The temporary file is removed if the block raises. Its name
    carries the process id, so two processes writing the same file never share a temporary.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Write text atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: Any, indent: int | None = 1) -> Path:
    """Write JSON atomically (numpy scalars become floats); returns the path."""
    return write_text(path, json.dumps(data, indent=indent, default=float))


def read_json(path: str | Path) -> Any:
    """A JSON file the kit wrote (run.json, results, a published run's files), or a one-line
    FileFormatError naming it when it is missing, truncated or not JSON."""
    from bluekit.errors import FileFormatError
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise FileFormatError(f"{path}: cannot be read ({type(err).__name__}: {err})") from err
