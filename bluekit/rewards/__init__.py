"""Rewards for GRPO training of the profiler, as TRL-compatible callables, found by name.

Every reward is called the way TRL's GRPOTrainer calls it: ``reward(prompts=..., completions=...,
completion_ids=..., trainer_state=..., **dataset_columns) -> list[float]``. A reward is a plain
TRL function (two lines in your own file) or a :class:`Reward` subclass, named in a config by
registry name or dotted path; the context (:class:`RewardContext`) holds the embedder, the item
catalogue (ids, normalised vectors, titles) and, for the text reward, the reader LLMs.

    ctx = reward_context(cfg, prepared, embedder, item_vecs)        # or ws.reward_context()
    funcs, weights = build_reward_funcs(cfg.train.rewards, ctx)    # -> GRPOTrainer(reward_funcs=...)
    table = score_profiles(texts, rows, ctx, cfg.train.rewards)    # one column per reward + total

The built-ins, their ranges and parameters, and every keyword a reward receives are listed once,
in docs/REWARDS.md. Modules: core (context, Reward, input checks, HashingEmbedder), embedding,
text, format (length_format, user_profile), registry (register, resolve, build_reward_funcs,
score_profiles).
"""
from .core import (Batch, HashingEmbedder, Reward, RewardContext, RewardError, completion_text,
                   make_batch, prompt_text, reward_context, toy_context)
from .embedding import BidirectionalInfoNCE, Cosine, InfoNCE, ItemsToProfile, RankReward
from .format import LengthFormat, UserProfile
from .registry import (build_reward, build_reward_funcs, group_normalized, register,
                       registered_names, resolve, score_profiles)
from .text import NextItemMCQ, mcq_prompt, option_probabilities

__all__ = [
    "Batch", "HashingEmbedder", "Reward", "RewardContext", "RewardError", "completion_text",
    "make_batch", "prompt_text", "reward_context", "toy_context",
    "BidirectionalInfoNCE", "Cosine", "InfoNCE", "ItemsToProfile", "RankReward",
    "LengthFormat", "UserProfile", "NextItemMCQ", "mcq_prompt", "option_probabilities",
    "build_reward", "build_reward_funcs", "group_normalized", "register", "registered_names",
    "resolve", "score_profiles",
]
