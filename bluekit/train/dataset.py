"""The GRPO training set and the snapshot panel: one row per user, prompt + what the rewards read.

Columns (docs/ARCHITECTURE.md; the rewards read all but `prompt` as keyword arguments):
    prompt    chat messages asking for a profile of the user's history (conversational, TRL style)
    user_id   the user
    positive  the target item id (the item the profile should land near)
    history   item ids before the target, oldest first (never contains the target)
    positive_<field>  the target item's metadata, one column per field of POSITIVE_FIELDS
              (positive_title, positive_category, positive_categories = its category path
              root first, positive_description, positive_features, positive_store,
              positive_price, positive_average_rating (NaN when unknown), positive_address);
              docs/REWARDS.md

Leakage rule: training users train on their VALID example (target = second-to-last item, history
before it), so no user's test item is ever a training target; held-out test users are never
trained on. The snapshot panel shows held-out users' TEST examples, i.e. generalisation.
The user split itself is bluekit.data.train_test_users.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from bluekit.config import Config

# The item-table fields (bluekit.data.schema.ITEM_COLUMNS) copied onto each row as
# positive_<field>: a plain TRL reward function then reads them as keyword arguments.
POSITIVE_FIELDS = ("title", "category", "categories", "description", "features", "store",
                   "price", "address", "average_rating")
NUMBER_FIELDS = ("price", "average_rating")  # NaN when unknown
COLUMNS = ("prompt", "user_id", "positive", "history") + tuple(f"positive_{f}"
                                                              for f in POSITIVE_FIELDS)


def examples_for_users(examples: pd.DataFrame, user_ids: Sequence[str]) -> pd.DataFrame:
    """The example rows of the given users, in the order of user_ids (one per user)."""
    wanted = [str(u) for u in user_ids]
    rows = examples.assign(user_id=examples["user_id"].astype(str)).drop_duplicates("user_id")
    rows = rows.set_index("user_id", drop=False)
    missing = [u for u in wanted if u not in rows.index]
    if missing:
        raise KeyError(f"{len(missing)} users have no example (e.g. {missing[:3]}); "
                       "were they filtered out by the k-core step?")
    return rows.loc[wanted].reset_index(drop=True)


def rows_for_examples(examples: pd.DataFrame, prepared, cfg: Config, tokenizer=None) -> list[dict]:
    """Dataset rows (COLUMNS) for example frames (user_id, item_id = target, history)."""
    from bluekit.prompts import profile_prompts

    messages = profile_prompts(examples, prepared.interactions, prepared.items, cfg.profiler,
                               tokenizer)
    return [{"prompt": msgs, "user_id": str(user), "positive": str(target),
             "history": [str(h) for h in history], **positive_fields(prepared, target)}
            for msgs, user, target, history in zip(messages, examples["user_id"],
                                                   examples["item_id"], examples["history"])]


def positive_fields(prepared, item_id) -> dict:
    """The positive_<field> columns of one row: the target item's metadata (POSITIVE_FIELDS)."""
    row = prepared.items.iloc[prepared.item_index[str(item_id)]]
    out = {}
    for name in POSITIVE_FIELDS:
        value = row.get(name, "")  # a field the table lacks is empty, never a missing keyword
        if isinstance(value, (list, tuple, np.ndarray)):
            value = [str(v) for v in value]  # plain lists: datasets/Arrow and rewards both read them
        elif name in NUMBER_FIELDS:
            value = float(value) if value is not None and value != "" else float("nan")
        else:
            value = "" if value is None else str(value)
        out[f"positive_{name}"] = value
    return out


def build_train_dataset(prepared, user_ids: Sequence[str], cfg: Config, tokenizer=None):
    """datasets.Dataset of the training users' VALID examples (see the module docstring)."""
    from datasets import Dataset

    examples = examples_for_users(prepared.splits.valid, user_ids)
    return Dataset.from_list(rows_for_examples(examples, prepared, cfg, tokenizer))


def build_panel(prepared, user_ids: Sequence[str], cfg: Config, tokenizer=None) -> list[dict]:
    """Rows for the snapshot panel: the given (held-out) users' TEST examples."""
    examples = examples_for_users(prepared.splits.test, user_ids)
    return rows_for_examples(examples, prepared, cfg, tokenizer)
