"""The GRPO training set and the snapshot panel: one row per user, prompt + what the rewards read.

Columns (docs/ARCHITECTURE.md; the rewards read all but `prompt` as keyword arguments):
    prompt    chat messages asking for a profile of the user's history (conversational, TRL style)
    user_id   the user
    positive  the target item id (the item the profile should land near)
    history   item ids the prompt shows, oldest first (never contains the target)
    choices   choices_k item ids for the multiple-choice reward, the positive among them
    answer    index of the positive in choices

Leakage rule: training users train on their VALID example (target = second-to-last item, history
before it), so no user's test item is ever a training target; held-out test users are never
trained on. The snapshot panel shows held-out users' TEST examples, i.e. generalisation.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from bluekit.config import Config, ProfilerConfig

COLUMNS = ("prompt", "user_id", "positive", "history", "choices", "answer")


def profiler_template(profiler_cfg: ProfilerConfig):
    """The prompt template named in the config, with the config's history size and review length."""
    from bluekit import prompts
    return prompts.with_overrides(prompts.get_template(profiler_cfg.template),
                                  max_items=profiler_cfg.max_history_items,
                                  review_chars=profiler_cfg.review_chars)


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


def mcq_choices(positive: str, history: Sequence[str], catalogue: np.ndarray, k: int,
                rng: np.random.Generator) -> tuple[list[str], int]:
    """k item ids: the positive plus k-1 random items the user hasn't seen, shuffled.

    >>> rng = np.random.default_rng(0)
    >>> choices, answer = mcq_choices("a", ["b"], np.array(list("abcdef")), 3, rng)
    >>> len(choices), choices[answer], "b" in choices
    (3, 'a', False)
    """
    seen = set(history) | {positive}
    distractors: list[str] = []
    for idx in rng.permutation(len(catalogue)):
        item = str(catalogue[idx])
        if item not in seen:
            distractors.append(item)
            if len(distractors) == k - 1:
                break
    choices = [positive, *distractors]
    order = rng.permutation(len(choices))
    choices = [choices[i] for i in order]
    return choices, choices.index(positive)


def rows_for_examples(examples: pd.DataFrame, prepared, cfg: Config, tokenizer=None,
                      choices_k: int = 4, seed: int = 0) -> list[dict]:
    """Dataset rows (COLUMNS) for example frames (user_id, item_id = target, history)."""
    from bluekit import prompts
    from bluekit.profiler import supports_system_role

    # Chat templates without a system role (Gemma) get the system text in the user turn.
    merge_system = tokenizer is not None and not supports_system_role(tokenizer)
    messages = prompts.messages_for_examples(
        examples, prepared.interactions, prepared.items, profiler_template(cfg.profiler),
        tokenizer, cfg.profiler.prompt_token_budget, merge_system=merge_system)
    catalogue = prepared.items["item_id"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    rows = []
    for msgs, user, target, history in zip(messages, examples["user_id"], examples["item_id"],
                                           examples["history"]):
        history = [str(h) for h in history]
        choices, answer = mcq_choices(str(target), history, catalogue, choices_k, rng)
        rows.append({"prompt": msgs, "user_id": str(user), "positive": str(target),
                     "history": history, "choices": choices, "answer": int(answer)})
    return rows


def build_train_dataset(prepared, user_ids: Sequence[str], cfg: Config, tokenizer=None,
                        choices_k: int = 4, seed: int = 0):
    """datasets.Dataset of the training users' VALID examples (see the module docstring)."""
    from datasets import Dataset

    examples = examples_for_users(prepared.splits.valid, user_ids)
    rows = rows_for_examples(examples, prepared, cfg, tokenizer, choices_k, seed)
    return Dataset.from_list(rows)


def build_panel(prepared, user_ids: Sequence[str], cfg: Config, tokenizer=None,
                choices_k: int = 4, seed: int = 0) -> list[dict]:
    """Rows for the snapshot panel: the given (held-out) users' TEST examples."""
    examples = examples_for_users(prepared.splits.test, user_ids)
    return rows_for_examples(examples, prepared, cfg, tokenizer, choices_k, seed)


def split_train_test_users(prepared, cfg: Config) -> tuple[list[str], list[str]]:
    """The user-level zero-shot split the whole kit uses (same as bluekit.pipeline.workspace).

    Training users are capped at cfg.train.train_users (a seeded sample, sorted), held-out test
    users at cfg.eval.test_users (the first ones in sorted order, as the evaluation does).
    """
    from bluekit.data import prep

    train, test = prep.split_users(prepared.splits.test, cfg.eval.test_user_fraction,
                                   cfg.data.seed)
    valid_users = set(prepared.splits.valid["user_id"].astype(str))
    train = [u for u in train if u in valid_users]  # users with a second-to-last item
    if cfg.train.train_users is not None and len(train) > cfg.train.train_users:
        picks = np.random.default_rng(cfg.train.seed).choice(len(train), cfg.train.train_users,
                                                             replace=False)
        train = sorted(train[i] for i in picks)
    test = sorted(test)[: cfg.eval.test_users] if cfg.eval.test_users else sorted(test)
    return train, test
