"""Domain names and their aliases, typed once: the demo loader, the downloader, the Amazon
reader and the demo truth/ceiling lookups all resolve names here, so "Clothing", "sports"
or "local" mean the same everywhere.

    amazon_category("Clothing")                      # -> "Clothing_Shoes_and_Jewelry"
    resolve_domain("local", known, local="Demo_City")  # -> "Demo_City"
"""
from __future__ import annotations

from collections.abc import Sequence

# The paper's short names -> the Amazon Reviews 2023 file names (matched in any case).
SHORT_NAMES = {
    "Clothing": "Clothing_Shoes_and_Jewelry",
    "Sports": "Sports_and_Outdoors",
}
# Names for "the Google Local domain" where a world has exactly one (the demo's Demo_City).
LOCAL_NAMES = ("local", "google_local", "google")

_SHORT_LOWER = {short.lower(): full for short, full in SHORT_NAMES.items()}


def amazon_category(name: str) -> str:
    """An Amazon category's file name from a paper short name (any case); other names unchanged.

    >>> amazon_category("Clothing"), amazon_category("sports"), amazon_category("All_Beauty")
    ('Clothing_Shoes_and_Jewelry', 'Sports_and_Outdoors', 'All_Beauty')
    """
    return _SHORT_LOWER.get(name.lower(), name)


def resolve_domain(name: str, known: Sequence[str], local: str | None = None) -> str:
    """The one of `known` that `name` means: itself, a paper short name, one of LOCAL_NAMES
    (when `local` names the Google Local domain), or a unique prefix; all in any case.
    Raises KeyError naming the choices otherwise.

    >>> demo = ("Clothing_Shoes_and_Jewelry", "Sports_and_Outdoors", "Books", "Demo_City")
    >>> [resolve_domain(n, demo, local="Demo_City") for n in ("Clothing", "sports", "local", "demo_city")]
    ['Clothing_Shoes_and_Jewelry', 'Sports_and_Outdoors', 'Demo_City', 'Demo_City']
    """
    if name in known:
        return name
    lowered = name.lower()
    full = amazon_category(name)
    if full in known:
        return full
    if local is not None and lowered in LOCAL_NAMES:
        return local
    matches = [k for k in known if k.lower().startswith(lowered)] if lowered else []
    if len(matches) != 1:
        raise KeyError(f"{name!r} is not a known domain; choose one of {list(known)}")
    return matches[0]
