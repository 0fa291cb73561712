"""Plain records of a training run, with no heavy imports: JSONL files, text statistics, timing.

    append_jsonl(path, records) / read_jsonl(path) / keep_until_step(path, step)
    distinct_n(texts, 2), mean_words(texts)       diversity of a set of profiles
    TimedReward(func, timings)                    a reward wrapper that times calls and logs diversity
"""
from __future__ import annotations

import json
import math
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

from bluekit.atomic import write_text

METRICS_FILE = "metrics.jsonl"
SNAPSHOTS_FILE = "snapshots.jsonl"


# --------------------------------------------------------------------------- text statistics

def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Share of distinct word n-grams among all n-grams of the texts (1.0 = no repetition).

    Low values mean the profiles repeat each other (template collapse).

    >>> distinct_n(["likes red shoes", "likes red hats"])   # 4 bigrams, 3 distinct
    0.75
    >>> distinct_n(["a"])
    0.0
    """
    grams = [tuple(words[i:i + n]) for words in (t.lower().split() for t in texts)
             for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def mean_words(texts: Sequence[str]) -> float:
    """Mean number of whitespace-separated words per text.

    >>> mean_words(["two words", "three words here"])
    2.5
    """
    return sum(len(t.split()) for t in texts) / len(texts) if texts else 0.0


def completion_texts(completions: Sequence[Any]) -> list[str]:
    """Plain text of TRL completions (strings, or [{"role": "assistant", "content": ...}])."""
    out = []
    for c in completions:
        if isinstance(c, list):
            out.append(" ".join(str(m.get("content", "")) for m in c if isinstance(m, dict)))
        else:
            out.append(str(c))
    return out


# --------------------------------------------------------------------------- JSONL helpers

def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy/torch scalars -> Python numbers."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def append_jsonl(path: str | Path, records: Sequence[dict]) -> None:
    """Append records, one JSON object per line, flushed to disk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for record in records:
            f.write(json.dumps(_clean(record)) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | Path) -> list[dict]:
    """All records of a JSONL file ([] when missing); a torn last line (crash) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def earlier_wall_time(records: list[dict]) -> float:
    """Wall seconds that the processes before the last one spent on the steps they kept.

    elapsed_s restarts at 0 in each process, so a drop marks a resume; each earlier process counts
    with its last kept log line. This covers a process that was killed and so wrote no run.json.
    """
    total, last = 0.0, None
    for record in records:
        elapsed = record.get("elapsed_s")
        if elapsed is None:
            continue
        if last is not None and elapsed < last:
            total += last
        last = elapsed
    return total


def keep_until_step(path: str | Path, step: int) -> None:
    """Rewrite a JSONL file (atomically) without records after `step`: the tail a resume redoes."""
    path = Path(path)
    records = read_jsonl(path)
    kept = [r for r in records if r.get("step", 0) <= step]
    if len(kept) == len(records) and path.exists() and _ends_cleanly(path):
        return
    write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def _ends_cleanly(path: Path) -> bool:
    data = path.read_bytes()
    return not data or data.endswith(b"\n")


# --------------------------------------------------------------------------- reward wrapper

class TimedReward:
    """Wrap a TRL reward callable: add its call time to `timings[name]`; optionally log stats.

    With log_stats=True it also logs the step's completion diversity through TRL's log_metric
    hook (TRL >= 1.16 passes it): completions/distinct_2 and completions/mean_words. The
    wrapper keeps the reward's __name__, so TRL's log names (rewards/<name>/mean) don't change.

    >>> timings = {}
    >>> def brevity(completions, **kw): return [-len(c) for c in completions]
    >>> timed = TimedReward(brevity, timings)
    >>> timed(completions=["ab", "a"]), timed.__name__, timings["brevity"] >= 0
    ([-2, -1], 'brevity', True)
    """

    def __init__(self, func: Callable, timings: dict | None = None, log_stats: bool = False):
        self.func = func
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        self.timings = timings if timings is not None else defaultdict(float)
        self.log_stats = log_stats

    def __call__(self, **kwargs):
        start = time.perf_counter()
        out = self.func(**kwargs)
        self.timings[self.__name__] = self.timings.get(self.__name__, 0.0) + (
            time.perf_counter() - start)
        log_metric = kwargs.get("log_metric")
        if self.log_stats and callable(log_metric):
            texts = completion_texts(kwargs.get("completions") or [])
            log_metric("completions/distinct_2", distinct_n(texts, 2))
            log_metric("completions/mean_words", mean_words(texts))
        return out
