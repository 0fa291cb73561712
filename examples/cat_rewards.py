"""A reward that reads item metadata: does the profile name the next item's category?

    # cat-demo.yaml, next to this file (the config's folder is put on the Python path)
    base: cpu-demo
    train:
      rewards:            # a derived list replaces the base list: repeat cpu-demo's rewards
        - ...             # (bluekit/presets/cpu-demo.yaml) and add this one
        - {name: cat_rewards.names_category, weight: 0.2}

Every training row carries the positive (next) item's metadata as positive_<field> columns
(positive_categories is its category path, root first); TRL passes each column to a reward
as a keyword argument. ``ctx.items`` holds the same table for every item in the catalogue.
docs/REWARDS.md lists every keyword a reward receives.
"""
from __future__ import annotations

from bluekit.rewards import completion_text
from bluekit.rewards.core import words

# Words that say nothing about a category ("Home & Kitchen" -> home, kitchen).
_FILLER = {"and", "for", "the", "men", "women", "other", "accessories"}


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word  # boots ~ boot


def category_words(categories) -> set[str]:
    """The content words of a category path's leaf (its last, most specific entry).

    >>> sorted(category_words(["Clothing, Shoes & Jewelry", "Men", "Shoes", "Hiking & Trekking"]))
    ['hiking', 'trekking']
    """
    leaf = list(categories)[-1] if len(categories) else ""
    return {_stem(w) for w in words(leaf) if len(w) > 2 and w not in _FILLER}


def names_category(completions, positive_categories, **kwargs):
    """1.0 when the profile names the positive item's category leaf (any of its content words,
    plurals folded), else 0.0; 0.0 when the item has no category path. Range: [0, 1].

    >>> names_category(["Loves hiking gear and trail boots.", "Cooks a lot."],
    ...                positive_categories=[["Sports & Outdoors", "Hiking", "Boots"]] * 2)
    [1.0, 0.0]
    """
    scores = []
    for completion, categories in zip(completions, positive_categories):
        leaf = category_words(categories)
        said = {_stem(w) for w in words(completion_text(completion))}
        scores.append(float(bool(leaf & said)))
    return scores
