"""The demo world's model: latent users with known tastes, items, and what users pick when.

Every demo, notebook and test runs on this world (written to files by `demo_files`, read back
through the real readers). Its one job is to be a world where a *good profile helps*:

- 10 shared taste themes (trail, running, yoga, ...). Each domain maps a theme to four
  sub-categories (Clothing: hiking boots, rain jackets, ...; Sports: camping tents, ...;
  Books: genres; Demo_City: coffee shops, ramen shops, ...).
- A latent user has 1-3 themes, two liked sub-categories per theme and domain, a price
  tier, favourite brands (authors for Books, home neighbourhoods for Demo_City) and a
  *current focus* sub-category that drifts slowly (sticky Markov chain).
- The next item mostly comes from the current focus, from a favourite brand, in the user's
  tier; a few picks are off-taste explorations that get low ratings and grumpy reviews.

So the last item is predictable from the history, but only if one knows which part of the
history matters now. The words (themes, brands, sub-categories, names) are data, in
bluekit/data/demo_words/*.yaml; the numbers that set the headroom are the knobs below.

    users, worlds = build_world(n_users=400, n_items=1200, seed=0)   # nothing written
"""
from __future__ import annotations

import datetime as dt
import string
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .domains import resolve_domain as _resolve_domain

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
# timestamp split cut points (bluekit.config.AMAZON_TIMESTAMP_CUTS: 2021-08-11, 2022-07-16)
# fall inside many of them.
DAY_MS = 86_400_000
EARLIEST = dt.datetime(2018, 1, 1, tzinfo=dt.timezone.utc)
_END_FROM = dt.datetime(2021, 10, 1, tzinfo=dt.timezone.utc)
_END_TO = dt.datetime(2023, 9, 1, tzinfo=dt.timezone.utc)

# ----------------------------------------------------------------------------------------
# Vocabulary: the word tables in bluekit/data/demo_words/*.yaml (each file says its fields).
# Items and reviews are worded from phrases.yaml (read by demo_files).
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
TIER_PRICE_FACTOR = {"budget": 0.45, "mid": 1.0, "premium": 2.3}


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
DOMAIN_SEED = {name: i + 1 for i, name in enumerate(DEMO_DOMAINS)}


def resolve_domain(name: str) -> str:
    """A demo domain's file name from itself or an alias (bluekit.data.domains: any case, the
    paper's short names, "local", a unique prefix).

    >>> resolve_domain("Clothing"), resolve_domain("sports"), resolve_domain("local")
    ('Clothing_Shoes_and_Jewelry', 'Sports_and_Outdoors', 'Demo_City')
    """
    return _resolve_domain(name, DEMO_DOMAINS, local=DEMO_GOOGLE_STATE)


# ----------------------------------------------------------------------------------------
# Random ids in the datasets' formats
# ----------------------------------------------------------------------------------------
_UPPER_ALNUM = np.array(list(string.ascii_uppercase + string.digits))


def _amazon_user_id(rng: np.random.Generator) -> str:
    """28 upper-case letters and digits starting with A, like AFKZENTNBQ7A7V7UXW5JJI6UGRYQ."""
    return "A" + "".join(rng.choice(_UPPER_ALNUM, 27))


def random_asin(rng: np.random.Generator) -> str:
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
            variants = ([_unique(random_asin, rng, seen_ids) for _ in range(int(rng.integers(1, 4)))]
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
    return _unique(random_asin, rng, seen)


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
    end = unix_ms(_END_FROM) + int(rng.integers(0, unix_ms(_END_TO) - unix_ms(_END_FROM)))
    start = max(unix_ms(EARLIEST), end - int(rng.uniform(365, 1640) * DAY_MS))
    times = np.sort(rng.integers(start, end, n_events))
    times = times + np.arange(n_events) * 1000  # strictly increasing even on a tie
    return [int(t) for t in times]


def unix_ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


# ----------------------------------------------------------------------------------------
# The whole world
# ----------------------------------------------------------------------------------------
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
