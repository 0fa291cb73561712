"""A researcher's own reward, in their own file, named by dotted path in the config.

Put this file's folder on the Python path (run from here, or `export PYTHONPATH=examples`) and
list it next to the kit's rewards:

    train:
      rewards:
        - {name: infonce, weight: 1.0}
        - {name: my_reward.keyword_bonus, weight: 0.2, params: {keywords: [prefers, budget]}}

A factory takes the RewardContext first and returns a callable; subclassing
bluekit.rewards.Reward gives TRL's call signature, input checks, a stable __name__ for the logs
and the "never crash on odd text" guard for free: write `score(batch)` and you are done.
"""
from __future__ import annotations

from bluekit.rewards import Batch, Reward, RewardContext
from bluekit.rewards.core import words


class KeywordBonus(Reward):
    """Share of the keywords the profile mentions, times ``bonus``."""

    def __init__(self, ctx: RewardContext | None, keywords: list[str], bonus: float):
        super().__init__(ctx, name="keyword_bonus")
        self.keywords = {k.lower() for k in keywords}
        self.bonus = bonus

    def score(self, batch: Batch) -> list[float]:
        return [self.bonus * len(self.keywords & set(words(text))) / len(self.keywords)
                for text in batch.texts]


def keyword_bonus(ctx: RewardContext | None, keywords: list[str] = ("prefers", "budget"),
                  bonus: float = 1.0) -> KeywordBonus:
    """Reward profiles that use the words you care about (e.g. stated preferences).

    >>> reward = keyword_bonus(None, keywords=["prefers", "budget"])
    >>> reward(completions=["Prefers budget running shoes.", "Likes shoes."])
    [1.0, 0.0]
    """
    return KeywordBonus(ctx, list(keywords), bonus)
