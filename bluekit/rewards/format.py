"""Length/format reward: a penalty in [-1, 0] for profiles that are empty, cut off, too short or
too long, repetitive, or copied from the history in the prompt (0 = a clean profile).
"""
from __future__ import annotations

from typing import Sequence

from .core import Batch, Reward, RewardContext, prompt_text, words
from .registry import register

TERMINAL = tuple('.!?…"\')]*')
EMPTY_PENALTY = -1.0
MAX_OTHER_PENALTY = 0.9  # every non-empty profile scores above an empty one


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def repeated_share(tokens: Sequence[str], n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier one (0 = none repeat).

    >>> repeated_share("a b c a b c a b c".split(), 3)
    0.5714285714285714
    """
    grams = _ngrams(tokens, n)
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def copied_share(tokens: Sequence[str], source: Sequence[str], n: int = 5) -> float:
    """Share of the text's word n-grams that also occur in the source (0 = nothing copied)."""
    grams = _ngrams(tokens, n)
    if not grams:
        return 0.0
    source_grams = set(_ngrams(source, n))
    return sum(g in source_grams for g in grams) / len(grams)


def copy_sources(batch: Batch, ctx: RewardContext | None) -> list[str]:
    """The text a profile must not copy: the prompt, plus history titles when known."""
    sources = [prompt_text(p) for p in batch.prompts] if batch.prompts else [""] * len(batch)
    if ctx is not None and "history" in batch.columns:
        for i, history in enumerate(batch.columns["history"]):
            sources[i] += "\n" + "\n".join(ctx.titles_of(history or []))
    return sources


@register("length_format")
class LengthFormat(Reward):
    """Penalty in [-1, 0] for badly formed profiles; 0 means clean.

    An empty profile (no words) scores -1, the strongest penalty. Otherwise the score is
    -(cutoff_weight * cutoff + length_weight * length + repeat_weight * repetition
    + copy_weight * copying), each term in [0, 1] (see :meth:`LengthFormat.terms`), floored at
    -0.9 so any non-empty text beats an empty one. Range: [-1, 0]. Only profiles that hit the
    token cap (per ``completion_ids``) count as cut off: the cap is ``max_completion_tokens``, by
    default the trainer's ``max_completion_length`` (``ctx.max_completion_length``).

    >>> reward = LengthFormat(min_words=5)
    >>> reward(completions=["Loves waterproof hiking boots and long trail walks.",
    ...                     "Loves waterproof hiking boots and long trail walks and",
    ...                     "boots boots boots boots boots boots boots.", ""])
    [0.0, -0.3, -0.24, -1.0]
    """
    floor = EMPTY_PENALTY

    def __init__(self, ctx: RewardContext | None = None, min_words: int = 8, max_words: int = 150,
                 max_completion_tokens: int | None = None, repeat_ngram: int = 3,
                 copy_ngram: int = 5, cutoff_weight: float = 0.3, length_weight: float = 0.3,
                 repeat_weight: float = 0.3, copy_weight: float = 0.3):
        super().__init__(ctx)
        self.min_words, self.max_words = int(min_words), int(max_words)
        if max_completion_tokens is None and ctx is not None:
            max_completion_tokens = ctx.max_completion_length
        self.max_completion_tokens = max_completion_tokens
        self.repeat_ngram, self.copy_ngram = int(repeat_ngram), int(copy_ngram)
        self.weights = {"cutoff": cutoff_weight, "length": length_weight,
                        "repetition": repeat_weight, "copying": copy_weight}

    def terms(self, text: str, source: str = "", num_tokens: int | None = None) -> dict[str, float]:
        """Each penalty term in [0, 1] (before weighting), for one profile.

        cutoff: 1 when the text does not end in terminal punctuation AND it hit the token cap
        (``num_tokens >= max_completion_tokens``; when either is unknown, missing punctuation
        alone counts). length: the missing share of ``min_words``, or the excess over
        ``max_words`` relative to it (capped at 1). repetition: :func:`repeated_share` of word
        ``repeat_ngram``-grams. copying: :func:`copied_share` of ``copy_ngram``-grams found in
        the prompt (the rendered history) or the history item titles.
        """
        tokens = words(text)
        hit_cap = (self.max_completion_tokens is None or num_tokens is None
                   or num_tokens >= self.max_completion_tokens)
        n = len(tokens)
        if n < self.min_words:
            length = (self.min_words - n) / self.min_words
        elif n > self.max_words:
            length = min(1.0, (n - self.max_words) / self.max_words)
        else:
            length = 0.0
        return {
            "cutoff": float(hit_cap and not text.rstrip().endswith(TERMINAL)),
            "length": length,
            "repetition": repeated_share(tokens, self.repeat_ngram),
            "copying": copied_share(tokens, words(source), self.copy_ngram),
        }

    def penalty(self, text: str, source: str = "", num_tokens: int | None = None) -> float:
        if not words(text):
            return EMPTY_PENALTY
        terms = self.terms(text, source, num_tokens)
        return 0.0 - min(MAX_OTHER_PENALTY, sum(self.weights[k] * v for k, v in terms.items()))

    def score(self, batch: Batch) -> list[float]:
        ids = batch.completion_ids or [None] * len(batch)
        return [self.penalty(text, source, None if tokens is None else len(tokens))
                for text, source, tokens in zip(batch.texts, copy_sources(batch, self.ctx), ids)]


@register("user_profile")
class UserProfile(Reward):
    """Readability term: 1 when the profile is about the user, 0 when it describes a product
    (:func:`bluekit.readability.describes_item`), is repetitive (a content word 3+ times, a
    3-gram twice: :func:`bluekit.readability.repetitive`), or copies the history (more than
    ``max_copied`` of its word 4-grams stand in the prompt or a history title: "The user enjoys
    both Zenmotion Women's High-Waisted Buttery Soft Yoga Leggings and ..."); 0 for an empty
    text. Range: [0, 1]. Beside a rank reward it keeps "The user prefers ..." from turning into
    "This knit sweater is knit ..." (the collapse of the rank-only cpu-long run).

    >>> UserProfile()(completions=["The user prefers light trail shoes and wool socks.",
    ...                            "This knit beanie is a unique wool knit knit.", ""])
    [1.0, 0.0, 0.0]
    >>> UserProfile()(completions=["The user enjoys Zenmotion Women's High-Waisted Soft Yoga Leggings."],
    ...               prompts=["- Zenmotion Women's High-Waisted Soft Yoga Leggings (5/5)"])
    [0.0]
    """
    floor = 0.0

    def __init__(self, ctx: RewardContext | None = None, repetition: bool = True,
                 copying: bool = True, max_copied: float = 0.2, copy_ngram: int = 4):
        super().__init__(ctx)
        self.repetition, self.copying = bool(repetition), bool(copying)
        self.max_copied, self.copy_ngram = float(max_copied), int(copy_ngram)

    def score(self, batch: Batch) -> list[float]:
        from bluekit.readability import describes_item, repetitive
        sources = copy_sources(batch, self.ctx) if self.copying else [""] * len(batch)
        return [float(bool(words(t)) and not describes_item(t)
                      and not (self.repetition and repetitive(t))
                      and not (self.copying and copied_share(words(t), words(source),
                                                             self.copy_ngram) > self.max_copied))
                for t, source in zip(batch.texts, sources)]
