"""A researcher's own rewards, in their own file, named by dotted path in a config.

    # my_run.yaml (next to this file: `python -m bluekit train --config examples/my_run.yaml`
    # puts the config's folder on the Python path)
    base: cpu-demo
    train:
      rewards:   # replaces cpu-demo's list, so its two rewards (the ones that learn) come first
        - {name: rank_reward, weight: 1.0, params: {metric: mrr, candidates: all}}
        - {name: length_format, weight: 0.5, params: {min_words: 8, max_words: 30}}
        - {name: my_rewards.title_overlap, weight: 0.2}
        - {name: my_rewards.KeywordBonus, weight: 0.1, params: {keywords: [prefers, budget]}}

A reward is a plain TRL function (keyword arguments in, one float per completion out): the
dataset columns (positive, history, user_id, ...) arrive as keyword arguments, config ``params``
too, and a parameter named ``ctx`` gets the RewardContext (embedder, item ids, titles, vectors).
Subclass ``bluekit.rewards.Reward`` instead when you want input checks, plain-text completions
and the "never crash a run on odd text" guard for free.
"""
from __future__ import annotations

from bluekit.rewards import Reward, completion_text
from bluekit.rewards.core import words


def brevity(completions, **kwargs):
    """The two-line reward: shorter profiles score higher (-0.02 per word).

    >>> brevity(completions=[[{"role": "assistant", "content": "Loves boots."}]])
    [-0.04]
    """
    return [-len(completion_text(c).split()) / 50 for c in completions]


def title_overlap(completions, positive, ctx, **kwargs):
    """Share of the next item's title words that the profile mentions (a deliberately naive
    reward: see in notebook 03 how it differs from InfoNCE, and how it can be gamed).

    >>> from bluekit.rewards import toy_context
    >>> title_overlap(["Loves hiking boots.", "Cooks."], ["boots", "boots"], toy_context())
    [0.3333333333333333, 0.0]
    """
    scores = []
    for completion, item in zip(completions, positive):
        target = set(words(ctx.item_titles[ctx.item_row(item)])) - {"for", "and", "the"}
        scores.append(len(target & set(words(completion_text(completion)))) / max(1, len(target)))
    return scores


class KeywordBonus(Reward):
    """A Reward subclass with settings: share of ``keywords`` the profile uses, times ``bonus``.

    >>> KeywordBonus(keywords=["prefers", "budget"])(completions=["Prefers budget shoes.", "Shoes."])
    [1.0, 0.0]
    """

    def __init__(self, ctx=None, keywords=("prefers", "budget"), bonus: float = 1.0):
        super().__init__(ctx)
        self.keywords, self.bonus = {k.lower() for k in keywords}, float(bonus)

    def score(self, batch):
        return [self.bonus * len(self.keywords & set(words(text))) / len(self.keywords)
                for text in batch.texts]
