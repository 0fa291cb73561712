"""The demo world: real schemas, determinism, sane timelines, k-core survival, and headroom
(a profile written from the true tastes retrieves the next item better than the raw history)."""
import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from bluekit import baselines
from bluekit.config import AMAZON_TIMESTAMP_CUTS, DataConfig
from bluekit.data import amazon, domains, google_local, load_domain, load_prepared, synth
from bluekit.data.prep import k_core
from bluekit.embed import item_vectors
from bluekit.evaluate import evaluate_texts

AMAZON_REVIEW_KEYS = {"rating", "title", "text", "images", "asin", "parent_asin", "user_id",
                      "timestamp", "helpful_vote", "verified_purchase"}
AMAZON_REVIEW_CAMEL = (AMAZON_REVIEW_KEYS - {"timestamp", "helpful_vote", "verified_purchase"}) | {
    "sortTimestamp", "helpfulVotes", "verifiedPurchase"}
AMAZON_META_KEYS = {"main_category", "title", "average_rating", "rating_number", "features",
                    "description", "price", "images", "videos", "store", "categories", "details",
                    "parent_asin", "bought_together"}
BOOK_EXTRA_KEYS = {"subtitle", "author"}
GOOGLE_REVIEW_KEYS = {"user_id", "name", "time", "rating", "text", "pics", "resp", "gmap_id"}
GOOGLE_META_KEYS = {"name", "address", "gmap_id", "description", "latitude", "longitude", "category",
                    "avg_rating", "num_of_reviews", "price", "hours", "MISC", "state",
                    "relative_results", "url"}
CUT_1, CUT_2 = AMAZON_TIMESTAMP_CUTS


def read_lines(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def raw_files(out: Path, domain: str) -> tuple[Path, Path]:
    if domain == synth.DEMO_GOOGLE_STATE:
        return (out / "google_local" / f"review-{domain}.json.gz",
                out / "google_local" / f"meta-{domain}.json.gz")
    root = out / "amazon_2023" / "raw"
    return (root / "review_categories" / f"{domain}.jsonl.gz",
            root / "meta_categories" / f"meta_{domain}.jsonl.gz")


def user_events(reviews: list[dict]) -> dict[str, list[tuple[int, str]]]:
    """user -> [(time, item)] in file order."""
    events = defaultdict(list)
    for r in reviews:
        time = r.get("timestamp", r.get("sortTimestamp", r.get("time")))
        events[r["user_id"]].append((time, r.get("parent_asin") or r.get("gmap_id")))
    return events


def test_layout_manifest_and_returned_folders(demo_dir):
    manifest = json.loads((demo_dir / "manifest.json").read_text())
    assert manifest["n_users"] == 120 and manifest["n_items"] == 300 and manifest["seed"] == 0
    assert manifest["generator_version"] == synth.GENERATOR_VERSION
    assert len(synth.DEMO_AMAZON_CATEGORIES) in (2, 3)
    for domain in synth.DEMO_DOMAINS:
        reviews, meta = raw_files(demo_dir, domain)
        assert reviews.exists() and meta.exists()
        assert (demo_dir / "truth" / f"{domain}.jsonl").exists()
        assert (demo_dir / manifest["domains"][domain]) == reviews.parent.parent or \
            (demo_dir / manifest["domains"][domain]) == reviews.parent


def test_amazon_files_have_the_documented_keys_and_types(demo_dir):
    for domain in synth.DEMO_AMAZON_CATEGORIES:
        reviews_path, meta_path = raw_files(demo_dir, domain)
        reviews, metas = read_lines(reviews_path), read_lines(meta_path)
        assert len(metas) == 300
        camel = [r for r in reviews if "sortTimestamp" in r]
        assert 0 < len(camel) < 0.1 * len(reviews)  # the documented quirk, in a small share
        for r in reviews:
            assert set(r) in (AMAZON_REVIEW_KEYS, AMAZON_REVIEW_CAMEL), set(r)
            assert isinstance(r["rating"], float) and 1.0 <= r["rating"] <= 5.0
            assert re.fullmatch(r"A[A-Z0-9]{27}", r["user_id"])
            assert isinstance(r.get("timestamp", r.get("sortTimestamp")), int)
            assert isinstance(r.get("helpful_vote", r.get("helpfulVotes")), int)
            assert isinstance(r.get("verified_purchase", r.get("verifiedPurchase")), bool)
            assert r["images"] == [] and isinstance(r["text"], str) and r["title"]
        assert any(r["text"] == "" for r in reviews)
        items = {m["parent_asin"] for m in metas}
        assert {r["parent_asin"] for r in reviews} <= items
        for m in metas:
            extra = set(m) - AMAZON_META_KEYS
            assert AMAZON_META_KEYS <= set(m) and extra <= (BOOK_EXTRA_KEYS if domain == "Books" else set())
            assert m["price"] is None or isinstance(m["price"], (float, str))
            assert isinstance(m["details"], (dict, str))
            assert isinstance(m["features"], list) and isinstance(m["categories"], list)
            assert m["bought_together"] is None and m["images"] == [] and m["videos"] == []
        prices = [m["price"] for m in metas]
        assert any(p is None for p in prices) and any(isinstance(p, str) for p in prices)
        assert any(isinstance(m["details"], str) for m in metas)
        assert all(isinstance(json.loads(m["details"]), dict) for m in metas
                   if isinstance(m["details"], str))
        assert all(re.fullmatch(r"\$[\d,]+\.\d\d", p) for p in prices if isinstance(p, str))


def test_google_files_have_the_documented_keys_and_types(demo_dir):
    reviews_path, meta_path = raw_files(demo_dir, synth.DEMO_GOOGLE_STATE)
    reviews, metas = read_lines(reviews_path), read_lines(meta_path)
    for r in reviews:
        assert set(r) == GOOGLE_REVIEW_KEYS
        assert re.fullmatch(r"\d{21}", r["user_id"]) and isinstance(r["rating"], int)
        assert r["text"] is None or isinstance(r["text"], str)
        assert r["resp"] is None or set(r["resp"]) == {"time", "text"}
        assert re.fullmatch(r"0x[0-9a-f]{16}:0x[0-9a-f]{16}", r["gmap_id"])
    assert any(r["text"] is None for r in reviews) and any(r["resp"] for r in reviews)
    for m in metas:
        assert set(m) == GOOGLE_META_KEYS
        assert m["price"] in ("$", "$$", "$$$", None)
        assert isinstance(m["category"], list) and all(len(h) == 2 for h in m["hours"])
        assert set(m["relative_results"]) <= {x["gmap_id"] for x in metas}


def test_the_real_readers_read_every_line(demo_dir):
    for domain in synth.DEMO_DOMAINS:
        reviews_path, meta_path = raw_files(demo_dir, domain)
        if domain == synth.DEMO_GOOGLE_STATE:
            loaded = google_local.load_state(reviews_path.parent, domain)
        else:
            loaded = amazon.load_category(reviews_path.parent.parent, domain)
        assert len(loaded.interactions) == len(read_lines(reviews_path))
        assert len(loaded.items) == len(read_lines(meta_path))
        assert loaded.interactions["timestamp"].min() > 1514764800000  # 2018-01-01


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = synth.write_demo_data(tmp_path / "a", n_users=30, n_items=160, seed=3)
    synth.write_demo_data(tmp_path / "b", n_users=30, n_items=160, seed=3)
    synth.write_demo_data(tmp_path / "c", n_users=30, n_items=160, seed=4)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 4 * 3 + 1
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    for domain in synth.DEMO_DOMAINS:
        rel = raw_files(tmp_path / "a", domain)[0].relative_to(tmp_path / "a")
        assert (tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes()
    assert set(a) == set(synth.DEMO_DOMAINS)
    assert not list(tmp_path.rglob("*.tmp*"))  # atomic writes leave no temporary files


def test_ensure_demo_data_writes_only_when_settings_change(tmp_path):
    synth.ensure_demo_data(tmp_path, n_users=20, n_items=160, seed=0)
    review = raw_files(tmp_path, "Books")[0]
    before = review.stat().st_mtime_ns
    review.touch()  # a rewrite would replace the file and change this
    touched = review.stat().st_mtime_ns
    folders = synth.ensure_demo_data(tmp_path, n_users=20, n_items=160, seed=0)
    assert review.stat().st_mtime_ns == touched and folders["Books"] == review.parent.parent
    synth.ensure_demo_data(tmp_path, n_users=21, n_items=160, seed=0)
    assert json.loads((tmp_path / "manifest.json").read_text())["n_users"] == 21
    assert len(user_events(read_lines(review))) == 21 and before > 0


def test_timelines_increase_and_straddle_the_official_cut_points(demo_dir):
    for domain in synth.DEMO_DOMAINS:
        events = user_events(read_lines(raw_files(demo_dir, domain)[0]))
        assert len(events) == 120
        parts = {"train": 0, "valid": 0, "test": 0}
        for user, rows in events.items():
            times = sorted(t for t, _ in rows)
            assert len(set(times)) == len(times), f"{domain}: {user} has two events at one time"
            assert synth.MIN_EVENTS <= len(rows) <= synth.MAX_EVENTS
            assert len({i for _, i in rows}) == len(rows)  # nobody buys the same item twice
            assert 1514764800000 <= times[0] and times[-1] < 1696118400000  # 2018 .. 2023-10
            parts["train"] += times[0] < CUT_1
            parts["valid"] += any(CUT_1 <= t < CUT_2 for t in times)
            parts["test"] += times[-1] >= CUT_2
        assert min(parts.values()) >= 30, (domain, parts)


def test_users_are_shared_across_domains_and_mapped_for_local(demo_dir):
    truths = {d: synth.truth(demo_dir, d) for d in synth.DEMO_DOMAINS}
    clothing = truths["Clothing_Shoes_and_Jewelry"]
    for domain in synth.DEMO_AMAZON_CATEGORIES:
        assert list(truths[domain]["user_id"]) == list(clothing["user_id"])
        assert list(truths[domain]["tier"]) == list(clothing["tier"])
    local = truths[synth.DEMO_GOOGLE_STATE]
    assert list(local["amazon_user_id"]) == list(clothing["user_id"])
    assert local["user_id"].str.fullmatch(r"\d{21}").all()
    local_reviews = read_lines(raw_files(demo_dir, synth.DEMO_GOOGLE_STATE)[0])
    assert set(local["user_id"]) == {r["user_id"] for r in local_reviews}
    assert {"themes", "top_theme", "tier", "liked", "favourites", "focus", "ceiling"} <= set(clothing)


def test_ceiling_names_the_focus_and_the_last_item_mostly_matches_it(demo_dir):
    domain = "Sports_and_Outdoors"
    ceiling = synth.ceiling_profiles(demo_dir, "Sports")  # short alias works too
    table = synth.truth(demo_dir, domain).set_index("user_id")
    reviews_path, meta_path = raw_files(demo_dir, domain)
    category = {m["parent_asin"]: m["categories"][-1] for m in read_lines(meta_path)}
    subcategory_leaf = {s.plural: s.path[-1] for s in synth.SUBCATEGORIES[domain]}
    hits = 0
    for user, rows in user_events(read_lines(reviews_path)).items():
        focus = table.loc[user, "focus"]
        assert focus in ceiling[user] and table.loc[user, "tier"] in synth.TIERS
        last_item = max(rows)[1]
        hits += category[last_item] == subcategory_leaf[focus]
    assert hits >= 0.75 * len(table)  # the target usually comes from the current focus


def test_domain_aliases_mean_the_same_in_the_loader_and_the_truth_lookups(demo_dir):
    for name, full in (("Clothing", "Clothing_Shoes_and_Jewelry"), ("sports", "Sports_and_Outdoors"),
                       ("books", "Books"), ("local", synth.DEMO_GOOGLE_STATE)):
        cfg = DataConfig(source="demo", domain=name, demo_dir=str(demo_dir), demo_users=120,
                         demo_items=300, seed=0)  # the demo_dir fixture's settings: no rewrite
        loaded = load_domain(cfg)
        assert loaded.name == synth.resolve_domain(name) == full
        assert set(synth.ceiling_profiles(demo_dir, name)) == set(loaded.interactions["user_id"])
    assert domains.amazon_category("clothing") == domains.amazon_category("Clothing") == \
        "Clothing_Shoes_and_Jewelry"  # what the downloader and the Amazon reader use
    with pytest.raises(KeyError, match="Garden"):
        synth.resolve_domain("Garden")


def test_ratings_follow_the_match_with_taste(demo_dir):
    users, worlds = synth.build_world(n_users=60, n_items=160, seed=1)
    ratings = pd.DataFrame([(e.rating, e.explore) for e in worlds["Books"].events],
                           columns=["rating", "explore"])
    means = ratings.groupby("explore")["rating"].mean()
    assert means[False] >= 4.0 and means[True] <= 3.0


def test_worlds_survive_k_core_filtering(demo_dir):
    for domain in synth.DEMO_DOMAINS:
        rows = read_lines(raw_files(demo_dir, domain)[0])
        pairs = pd.DataFrame({"user_id": [r["user_id"] for r in rows],
                              "item_id": [r.get("parent_asin") or r.get("gmap_id") for r in rows]})
        for k, min_items in ((2, 0.95), (5, 0.6)):
            core = k_core(pairs, k)
            assert core.user_id.nunique() >= 0.95 * 120, (domain, k)
            assert core.item_id.nunique() >= min_items * 300, (domain, k, core.item_id.nunique())


def test_too_few_items_is_refused(tmp_path):
    with pytest.raises(ValueError, match="n_items"):
        synth.write_demo_data(tmp_path, n_users=5, n_items=50)


@pytest.mark.slow
def test_ceiling_beats_raw_history_which_beats_random(tmp_path, embedder):
    """The world has headroom, measured by the kit's own pipeline (load_prepared -> item
    vectors -> baselines): true tastes retrieve the next item better than the history."""
    synth.write_demo_data(tmp_path, n_users=80, n_items=160, seed=0)
    cfg = DataConfig(source="demo", domain="Clothing", demo_dir=str(tmp_path), demo_users=80,
                     demo_items=160, seed=0, k_core=2)
    prepared = load_prepared(cfg)
    items, test = prepared.items, prepared.splits.test
    vecs = item_vectors(embedder, items["item_id"].tolist(), items["text"].tolist(),
                        tmp_path / "cache", show_progress=False)
    kw = dict(items=items, item_index=prepared.item_index, item_vecs=vecs, embedder=embedder,
              ks=(10,), exclude_history=True)
    results = {"random": baselines.random_baseline(test, **kw),
               "last_item": baselines.last_item(test, **kw),
               "mean_history": baselines.mean_history(test, **kw),
               "raw_history": baselines.raw_history_text(test, **kw),
               "ceiling": evaluate_texts(
                   "ceiling", synth.ceiling_profiles(tmp_path, "Clothing"), test, **kw)}
    recall = {name: r.summary["recall@10"] for name, r in results.items()}
    mrr = {name: r.summary["mrr"] for name, r in results.items()}
    assert results["ceiling"].summary["n"] == len(test) == 80
    # Measured for seeds 0-3 (80 test users, 151-155 items after the 2-core, history excluded
    # from the ranking): Recall@10 ceiling 0.825-0.975, last item 0.613-0.675, raw history text
    # 0.400-0.588, random 0.025-0.087. (The default 5-core would keep only 65-94 items of a
    # world this small, and shrink every gap.)
    assert recall["ceiling"] >= 1.4 * recall["raw_history"]
    assert recall["ceiling"] > recall["last_item"]
    assert recall["raw_history"] >= 2 * recall["random"]
    assert mrr["ceiling"] > mrr["raw_history"] > mrr["random"]
    assert mrr["mean_history"] > mrr["random"]
