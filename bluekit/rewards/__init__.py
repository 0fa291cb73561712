"""Rewards for GRPO training of the profiler, as TRL-compatible callables, found by name.

Each reward is built by a factory ``factory(ctx, **params)`` and called the way TRL's
GRPOTrainer calls it: ``reward(prompts=..., completions=..., completion_ids=..., trainer_state=...,
**dataset_columns) -> list[float]``. The context (:class:`RewardContext`) holds the embedder and
the item catalogue (ids, normalised vectors, titles) and, for the text reward, a reader LLM.

    ctx = RewardContext(embedder, item_ids, item_vecs, item_titles, reader_factory=...)
    funcs, weights = build_reward_funcs(cfg.train.rewards, ctx)    # -> GRPOTrainer(reward_funcs=...)
    table = score_profiles(texts, rows, ctx, cfg.train.rewards)    # one column per reward + total

Modules: core (context, input checks, HashingEmbedder), embedding (infonce, items_to_profile,
bidirectional_infonce, cosine, rank_reward), text (next_item_mcq), format (length_format),
registry (register, resolve, build_reward_funcs, combined, score_profiles).
"""
from .core import (Batch, HashingEmbedder, Reward, RewardContext, RewardError, completion_text,
                   make_batch, prompt_text, toy_context)
from .embedding import (BidirectionalInfoNCE, Cosine, InfoNCE, ItemsToProfile, RankReward,
                        bidirectional_infonce, cosine, infonce, items_to_profile, rank_reward)
from .format import LengthFormat, length_format
from .registry import (CombinedReward, build_reward_funcs, combined, register, registered_names,
                       resolve, score_profiles)
from .text import NextItemMCQ, mcq_prompt, next_item_mcq, option_probabilities

__all__ = [
    "Batch", "HashingEmbedder", "Reward", "RewardContext", "RewardError", "completion_text",
    "make_batch", "prompt_text", "toy_context",
    "BidirectionalInfoNCE", "Cosine", "InfoNCE", "ItemsToProfile", "RankReward",
    "bidirectional_infonce", "cosine", "infonce", "items_to_profile", "rank_reward",
    "LengthFormat", "length_format",
    "CombinedReward", "build_reward_funcs", "combined", "register", "registered_names", "resolve",
    "score_profiles",
    "NextItemMCQ", "mcq_prompt", "next_item_mcq", "option_probabilities",
]
