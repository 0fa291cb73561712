"""The GRPO training set and the snapshot panel: one row per user, prompt + what the rewards read.

Columns (docs/ARCHITECTURE.md; the rewards read all but `prompt` as keyword arguments):
    prompt    chat messages asking for a profile of the user's history (conversational, TRL style)
    user_id   the user
    positive  the target item id (the item the profile should land near)
    history   item ids before the target, oldest first (never contains the target)

Leakage rule: training users train on their VALID example (target = second-to-last item, history
before it), so no user's test item is ever a training target; held-out test users are never
trained on. The snapshot panel shows held-out users' TEST examples, i.e. generalisation.
The user split itself is bluekit.data.train_test_users.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from bluekit.config import Config

COLUMNS = ("prompt", "user_id", "positive", "history")


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
             "history": [str(h) for h in history]}
            for msgs, user, target, history in zip(messages, examples["user_id"],
                                                   examples["item_id"], examples["history"])]


def build_train_dataset(prepared, user_ids: Sequence[str], cfg: Config, tokenizer=None):
    """datasets.Dataset of the training users' VALID examples (see the module docstring)."""
    from datasets import Dataset

    examples = examples_for_users(prepared.splits.valid, user_ids)
    return Dataset.from_list(rows_for_examples(examples, prepared, cfg, tokenizer))


def build_panel(prepared, user_ids: Sequence[str], cfg: Config, tokenizer=None) -> list[dict]:
    """Rows for the snapshot panel: the given (held-out) users' TEST examples."""
    examples = examples_for_users(prepared.splits.test, user_ids)
    return rows_for_examples(examples, prepared, cfg, tokenizer)
