"""The one in-memory form every reader produces and every later stage consumes.

interactions: one row per (user, item) event
    user_id: str, item_id: str, rating: float, timestamp: int (Unix ms),
    review_title: str ("" when absent), review_text: str ("" when absent)
items: one row per item, item_id unique
    item_id: str, title: str, category: str (main category / first category),
    description: str, features: list[str], categories: list[str],
    store: str (brand / store), price: float (NaN when unknown), address: str ("" for Amazon),
    average_rating: float (the metadata's average star rating; NaN when unknown)
examples (what splits produce; the same columns as the Amazon benchmark CSVs):
    user_id: str, item_id: str (the target), rating: float, timestamp: int,
    history: list[str] (item ids before the target, oldest first, truncated)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from bluekit.errors import KitError

INTERACTION_COLUMNS = ["user_id", "item_id", "rating", "timestamp", "review_title", "review_text"]
ITEM_COLUMNS = ["item_id", "title", "category", "description", "features", "categories",
                "store", "price", "address", "average_rating"]
EXAMPLE_COLUMNS = ["user_id", "item_id", "rating", "timestamp", "history"]
# The same columns as Arrow types: what the batch readers yield and the Parquet spills hold.
INTERACTION_SCHEMA = pa.schema([("user_id", pa.string()), ("item_id", pa.string()),
                                ("rating", pa.float64()), ("timestamp", pa.int64()),
                                ("review_title", pa.string()), ("review_text", pa.string())])
ITEM_SCHEMA = pa.schema([("item_id", pa.string()), ("title", pa.string()),
                         ("category", pa.string()), ("description", pa.string()),
                         ("features", pa.list_(pa.string())), ("categories", pa.list_(pa.string())),
                         ("store", pa.string()), ("price", pa.float64()), ("address", pa.string()),
                         ("average_rating", pa.float64())])


class DataError(KitError, ValueError):
    """Bad input data; the message names the file and line, or the field, or the filter."""


@dataclass
class LoadReport:
    """What a reader or a filter did: nothing is dropped without a count here."""
    source: str
    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count

    def drop(self, reason: str, count: int = 1) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count

    def __str__(self) -> str:
        drops = ", ".join(f"{k}: {v}" for k, v in self.dropped.items()) or "none dropped"
        return f"{self.source}: {self.rows_in} in, {self.rows_out} out ({drops})"


@dataclass
class Domain:
    """One dataset domain (an Amazon category, a Google Local state, a demo domain)."""
    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    reports: list[LoadReport] = field(default_factory=list)
