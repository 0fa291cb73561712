"""The demo world as files: rows in the exact Amazon Reviews 2023 / Google Local schemas, the
truth file (each user's tastes and a ceiling profile written from them), and writing them.

    folders = write_demo_data("data/demo")            # domain -> folder for the real readers
    ensure_demo_data("data/demo", n_users=400)        # writes only when missing or changed
    ceiling = ceiling_profiles("data/demo", "Books")  # user_id -> profile text
    table = truth("data/demo", "local")               # latent tastes per user (DataFrame)

The rows carry the real files' quirks (camelCase review keys, prices as strings or missing,
details as a JSON string, empty texts) in small shares. Item and review wording comes from
bluekit/data/demo_words/phrases.yaml; the world itself from `demo_world`.
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from bluekit.atomic import atomic_path, write_text
from bluekit.config import AMAZON_TIMESTAMP_CUTS

from .demo_world import (BOOK_WORDS, COLORS, DAY_MS, DEMO_DOMAINS, DEMO_GOOGLE_STATE, DOMAIN_SEED,
                         EARLIEST, LAST_NAMES, LOCAL_NAME_PREFIXES, NEIGHBOURHOODS, THEMES,
                         DomainTastes, DomainWorld, Event, Item, LatentUser, build_world,
                         random_asin, read_words, resolve_domain, unix_ms)

GENERATOR_VERSION = "1.3"
MAIN_CATEGORY = {"Clothing_Shoes_and_Jewelry": "AMAZON FASHION",
                 "Sports_and_Outdoors": "Sports & Outdoors", "Books": "Books"}
CATEGORY_ROOT = {"Clothing_Shoes_and_Jewelry": "Clothing, Shoes & Jewelry",
                 "Sports_and_Outdoors": "Sports & Outdoors", "Books": "Books"}
GOOGLE_PRICE = {"budget": "$", "mid": "$$", "premium": "$$$"}

_PHRASES = read_words("phrases")
TIER_WORDS = _PHRASES["tiers"]  # how items say their tier, and how a profile says the user's
# sentiment ("pos", "mid", "neg") -> (title templates, text templates); Google reviews have no title
REVIEW_TEMPLATES = {s: (t["titles"], t["texts"]) for s, t in _PHRASES["reviews"].items()}
COMPLAINTS = _PHRASES["complaints"]
BOOK_REVIEW_TEMPLATES = {s: (t["titles"], t["texts"]) for s, t in _PHRASES["book_reviews"].items()}
BOOK_COMPLAINTS = _PHRASES["book_complaints"]
LOCAL_REVIEW_TEMPLATES = _PHRASES["local_reviews"]
LOCAL_COMPLAINTS = _PHRASES["local_complaints"]
OWNER_REPLIES = _PHRASES["owner_replies"]


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
               "Date First Available": _date_words(int(rng.integers(unix_ms(EARLIEST) - 900 * DAY_MS,
                                                                    unix_ms(EARLIEST) + 600 * DAY_MS)))}
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
    published = int(rng.integers(unix_ms(EARLIEST) - 3000 * DAY_MS, unix_ms(EARLIEST) + 500 * DAY_MS))
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
    pics = ([{"url": [f"https://lh5.googleusercontent.com/p/AF1Qip{random_asin(rng)}"]}]
            if rng.random() < 0.08 else None)
    resp = ({"time": event.time_ms + int(rng.integers(1, 30)) * DAY_MS,
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
    """The ceiling's wording: the focus, the favourite brands (authors, neighbourhoods), the tier.

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


def broad_text(domain: str, user: LatentUser, taste: DomainTastes) -> str:
    """The user's whole taste in one sentence: themes and liked sub-categories.

    >>> from bluekit.data.demo_world import domain_tastes, make_users
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
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            for row in rows:
                gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))


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
        write_text(out / "truth" / f"{domain}.jsonl",
                    "".join(json.dumps(row, ensure_ascii=False) + "\n"
                            for row in _truth_rows(domain, users, world)))
        folders[domain] = folder
    manifest = {**_settings(n_users, n_items, seed),
                "domains": {d: str(f.relative_to(out)) for d, f in folders.items()},
                "timestamp_cuts": list(AMAZON_TIMESTAMP_CUTS)}
    write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
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
