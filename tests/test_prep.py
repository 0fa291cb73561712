"""Preparation steps on small cases whose answers were worked out by hand."""
import gzip
import json

import numpy as np
import pandas as pd
import pytest

from bluekit.config import ConfigError, DataConfig
from bluekit.data import load_domain, load_prepared, prep
from bluekit.data.schema import EXAMPLE_COLUMNS, ITEM_COLUMNS, DataError, Domain, LoadReport


def interactions(rows):
    """rows: (user, item, timestamp[, text]) -> an interactions frame (rating 4.0)."""
    return pd.DataFrame({
        "user_id": [r[0] for r in rows], "item_id": [r[1] for r in rows],
        "rating": [4.0] * len(rows), "timestamp": np.array([r[2] for r in rows], dtype="int64"),
        "review_title": [""] * len(rows), "review_text": [r[3] if len(r) > 3 else "" for r in rows],
    })


def items(ids, **columns):
    frame = pd.DataFrame({"item_id": ids, "title": [f"title {i}" for i in ids],
                          "category": "", "description": "", "store": "", "address": "",
                          "price": np.nan, "average_rating": np.nan})
    frame["features"] = [[] for _ in ids]
    frame["categories"] = [[] for _ in ids]
    for name, values in columns.items():
        frame[name] = values
    return frame[ITEM_COLUMNS]


def test_dedupe_keeps_earliest():
    df = interactions([("u1", "a", 5, "late"), ("u1", "a", 2, "early"), ("u1", "b", 3),
                       ("u2", "a", 1), ("u1", "a", 2, "same time, later row")])
    report = LoadReport("dedupe")
    out = prep.dedupe(df, report)
    assert out[["user_id", "item_id", "timestamp", "review_text"]].values.tolist() == [
        ["u1", "a", 2, "early"], ["u1", "b", 3, ""], ["u2", "a", 1, ""]]
    assert (report.rows_in, report.rows_out) == (5, 3)
    assert report.dropped == {"repeated (user, item) pair": 2}
    assert len(df) == 5  # the input is not modified


def test_k_core_is_iterative():
    # k=2. u4 has one interaction -> dropped; that leaves item c with one (u3) -> dropped;
    # that leaves u3 with one (b) -> dropped. A single pass would have kept u3 and c.
    df = interactions([("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 3), ("u2", "b", 4),
                       ("u3", "b", 5), ("u3", "c", 6), ("u4", "c", 7)])
    report = LoadReport("k")
    out = prep.k_core(df, 2, report)
    assert sorted(zip(out["user_id"], out["item_id"])) == [
        ("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b")]
    assert report.dropped == {"users removed": 2, "items removed": 1,
                              "interaction outside the 2-core": 3}
    assert len(prep.k_core(df, 1)) == len(df)  # k <= 1: no-op
    assert len(prep.k_core(df, 0)) == len(df)


def test_filters_that_leave_nothing_name_filter_and_counts():
    df = interactions([("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 3), ("u2", "b", 4)])
    with pytest.raises(DataError, match=r"k_core\(k=5\) left nothing: 4 interactions, "
                                        r"2 users, 2 items before; 0 after"):
        prep.k_core(df, 5)
    with pytest.raises(DataError, match=r"drop_items_without_metadata left nothing: "
                                        r"4 interactions on 2 items before, 0 after"):
        prep.drop_items_without_metadata(df, items(["x", "y"]))


def test_drop_items_without_metadata_counts():
    df = interactions([("u1", "a", 1), ("u1", "zz", 2), ("u2", "zz", 3), ("u2", "b", 4)])
    report = LoadReport("meta")
    out = prep.drop_items_without_metadata(df, items(["a", "b"]), report)
    assert out["item_id"].tolist() == ["a", "b"]
    assert report.dropped == {"items without metadata": 1,
                              "interaction with an item lacking metadata": 2}


def test_split_last_out_known_answer():
    # u1: a b c d e (d and e share a timestamp; row order breaks the tie), shuffled input.
    df = interactions([("u1", "c", 3), ("u2", "p", 1), ("u1", "a", 1), ("u3", "z", 9),
                       ("u1", "d", 4), ("u1", "e", 4), ("u3", "x", 7), ("u1", "b", 2),
                       ("u2", "q", 2), ("u3", "y", 8)])
    report = LoadReport("split")
    splits = prep.split_last_out(df, max_history=50, report=report)
    assert list(splits.test.columns) == EXAMPLE_COLUMNS
    assert splits.test[["user_id", "item_id"]].values.tolist() == [["u1", "e"], ["u3", "z"]]
    assert splits.test["history"].tolist() == [["a", "b", "c", "d"], ["x", "y"]]
    assert splits.valid[["user_id", "item_id"]].values.tolist() == [["u1", "d"], ["u3", "y"]]
    assert splits.valid["history"].tolist() == [["a", "b", "c"], ["x"]]
    # u2 has only 2 interactions: both are train rows, and it gives no examples.
    assert sorted(zip(splits.train["user_id"], splits.train["item_id"])) == [
        ("u1", "a"), ("u1", "b"), ("u1", "c"), ("u2", "p"), ("u2", "q"), ("u3", "x")]
    assert report.dropped == {"users with < 3 interactions (train rows only, no examples)": 1}
    assert splits.test["timestamp"].dtype == "int64"


def test_history_truncation_keeps_most_recent():
    df = interactions([("u1", f"i{t}", t) for t in range(10)])
    splits = prep.split_last_out(df, max_history=3)
    assert splits.test["history"].tolist() == [["i6", "i7", "i8"]]
    assert splits.valid["history"].tolist() == [["i5", "i6", "i7"]]
    assert prep.split_last_out(df, max_history=None).test["history"][0] == [
        f"i{t}" for t in range(9)]


def test_split_timestamp_known_answer():
    df = interactions([("u2", "f", 21), ("u1", "d", 30), ("u1", "a", 5), ("u1", "c", 25),
                       ("u1", "b", 12), ("u2", "e", 15)])
    splits = prep.split_timestamp(df, cuts=(10, 20), max_history=2)
    assert splits.train[["user_id", "item_id"]].values.tolist() == [["u1", "a"]]
    assert splits.valid[["user_id", "item_id"]].values.tolist() == [["u1", "b"], ["u2", "e"]]
    assert splits.valid["history"].tolist() == [["a"], []]
    assert splits.test[["user_id", "item_id"]].values.tolist() == [
        ["u1", "c"], ["u1", "d"], ["u2", "f"]]
    # history reaches back into earlier splits, then keeps the 2 most recent
    assert splits.test["history"].tolist() == [["a", "b"], ["b", "c"], ["e"]]
    # t == cut belongs to the later split
    at_cut = prep.split_timestamp(interactions([("u", "x", 10), ("u", "y", 20)]), cuts=(10, 20))
    assert at_cut.valid["item_id"].tolist() == ["x"] and at_cut.test["item_id"].tolist() == ["y"]
    assert prep.TIMESTAMP_CUTS == (1628643414042, 1658002729837)


def test_render_item_text_strips_html_and_caps():
    frame = items(["a", "b"], description=["<p>Hello&nbsp;<b>world</b> &amp; more</p>", ""],
                  features=[["soft", "warm"], []], store=["Acme", ""], price=[9.5, np.nan])
    texts = prep.render_item_text(frame)
    assert texts.tolist() == ["title a | soft, warm | Hello world & more", "title b"]
    capped = prep.render_item_text(frame, max_chars=12)
    assert capped.tolist() == ["title a | so", "title b"]
    assert all(len(t) <= 12 for t in capped)
    custom = prep.render_item_text(frame, template="{store}: {title} ({price})")
    assert custom.tolist() == ["Acme: title a (9.50)", ": title b ()"]
    google = items(["g"], address=["1 Main St"], categories=[["Cafe", "Bakery"]])
    assert prep.render_item_text(google).tolist() == ["title g | Cafe, Bakery | 1 Main St"]
    assert prep.AMAZON_ITEM_TEMPLATE != prep.GOOGLE_ITEM_TEMPLATE


def small_domain():
    rows = []
    for user in range(6):  # 6 users x items i0..i3, plus noise that filters must remove
        rows += [(f"u{user}", f"i{(user + j) % 4}", 100 * user + j) for j in range(4)]
    rows += [("u0", "i0", 99999),        # repeated pair, later: removed by dedupe
             ("u1", "nometa", 5),        # item without metadata
             ("lonely", "i1", 7)]        # a user with 1 interaction: removed by the 2-core
    meta = items(["i3", "i0", "i1", "i2", "unused"])
    return Domain("toy", interactions(rows), meta, [LoadReport("reader")])


def test_prepare_end_to_end():
    cfg = DataConfig(k_core=2, split="last_out", max_history=2)
    prepared = prep.prepare(small_domain(), cfg)
    assert len(prepared.interactions) == 24
    # items keep metadata order, only those still interacted with, with a text column
    assert prepared.items["item_id"].tolist() == ["i3", "i0", "i1", "i2"]
    assert prepared.items.index.tolist() == [0, 1, 2, 3]
    assert prepared.item_index == {"i3": 0, "i0": 1, "i1": 2, "i2": 3}
    assert prepared.items["text"].tolist()[0] == "title i3"
    assert len(prepared.splits.test) == 6 and len(prepared.splits.valid) == 6
    assert len(prepared.splits.train) == 12
    assert prepared.splits.test["history"].map(len).tolist() == [2] * 6
    names = [r.source for r in prepared.reports]
    assert names == ["reader", "dedupe", "drop items without metadata", "k_core(k=2)",
                     "items kept (with interactions left)", "split last_out"]
    drops = {r.source: r.dropped for r in prepared.reports}
    assert drops["dedupe"] == {"repeated (user, item) pair": 1}
    assert drops["k_core(k=2)"]["users removed"] == 1
    assert drops["items kept (with interactions left)"] == {
        "items without interactions after filtering": 1}
    summary = prepared.summary()
    assert (summary["users"], summary["items"], summary["interactions"]) == (6, 4, 24)
    assert summary["density"] == pytest.approx(1.0)
    assert summary["mean_test_history"] == 2.0


def test_prepare_timestamp_split_and_bad_split_name():
    cfg = DataConfig(k_core=2, split="timestamp", timestamp_cuts=[300, 500])
    splits = prep.prepare(small_domain(), cfg).splits
    assert (splits.train["timestamp"] < 300).all()
    assert splits.valid["timestamp"].between(300, 499).all()
    assert (splits.test["timestamp"] >= 500).all()
    with pytest.raises(ValueError, match="data.split"):
        prep.prepare(small_domain(), DataConfig(k_core=2, split="random"))


def test_split_users_is_deterministic_and_disjoint():
    ex = pd.DataFrame({"user_id": [f"u{i:02d}" for i in range(20)] * 2})
    train, test = prep.split_users(ex, 0.25, seed=3)
    assert len(test) == 5 and len(train) == 15
    assert sorted(train + test) == sorted(set(ex["user_id"]))
    assert prep.split_users(ex, 0.25, seed=3) == (train, test)
    assert prep.split_users(ex, 0.25, seed=4)[1] != test
    assert prep.split_users(ex, 0.0, seed=0)[1] == []
    with pytest.raises(ValueError):
        prep.split_users(ex, 1.5, seed=0)


def write_gz(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))


def test_load_domain_amazon_and_google_layouts(tmp_path):
    reviews = [{"user_id": f"U{u}", "parent_asin": f"P{(u + j) % 3}", "rating": 5,
                "timestamp": 1000 * u + j, "title": "t", "text": "x"}
               for u in range(4) for j in range(3)]
    meta = [{"parent_asin": f"P{i}", "title": f"Item {i}"} for i in range(3)]
    amazon_root = tmp_path / "amazon_2023" / "raw"
    write_gz(amazon_root / "review_categories" / "All_Beauty.jsonl.gz", reviews)
    write_gz(amazon_root / "meta_categories" / "meta_All_Beauty.jsonl.gz", meta)
    cfg = DataConfig(source="amazon", domain="All_Beauty", raw_dir=str(tmp_path), k_core=3)
    domain = load_domain(cfg)
    assert (domain.name, len(domain.interactions), len(domain.items)) == ("All_Beauty", 12, 3)
    prepared = load_prepared(cfg)
    assert len(prepared.splits.test) == 4 and prepared.items["text"][0] == "Item 0"

    google = [{"user_id": str(10 ** 20 + u), "gmap_id": f"g{j}", "rating": 4, "time": u * 10 + j,
               "text": None} for u in range(3) for j in range(3)]
    write_gz(tmp_path / "google_local" / "review-Vermont.json.gz", google)
    write_gz(tmp_path / "google_local" / "meta-Vermont.json.gz",
             [{"gmap_id": f"g{j}", "name": f"Shop {j}", "address": "Main St"} for j in range(3)])
    cfg = DataConfig(source="google_local", domain="Vermont", raw_dir=str(tmp_path), k_core=0)
    assert len(load_domain(cfg).interactions) == 9

    with pytest.raises(ConfigError, match="data.source"):
        load_domain(DataConfig(source="yelp"))


def test_load_domain_demo_reads_generated_files_through_real_readers(tmp_path, monkeypatch):
    """The demo source asks the generator for its files, then reads them like real ones."""
    import sys
    import types

    import bluekit.data

    calls = []

    def ensure_demo_data(out_dir, n_users, n_items, seed):
        calls.append((str(out_dir), n_users, n_items, seed))
        root = tmp_path / "amazon_2023" / "raw"
        write_gz(root / "review_categories" / "Books.jsonl.gz",
                 [{"user_id": "U1", "parent_asin": "P1", "rating": 5, "timestamp": 1}])
        write_gz(root / "meta_categories" / "meta_Books.jsonl.gz", [{"parent_asin": "P1"}])
        write_gz(tmp_path / "google_local" / "review-Demo_State.json.gz",
                 [{"user_id": "1", "gmap_id": "g", "rating": 3, "time": 2}])
        write_gz(tmp_path / "google_local" / "meta-Demo_State.json.gz", [{"gmap_id": "g"}])

    fake = types.SimpleNamespace(ensure_demo_data=ensure_demo_data,
                                 DEMO_AMAZON_CATEGORIES=("Books",), DEMO_GOOGLE_STATE="Demo_State")
    monkeypatch.setitem(sys.modules, "bluekit.data.synth", fake)
    monkeypatch.setattr(bluekit.data, "synth", fake, raising=False)

    cfg = DataConfig(source="demo", domain="Books", demo_dir=str(tmp_path), demo_users=7,
                     demo_items=9, seed=3)
    books = load_domain(cfg)
    assert calls == [(str(tmp_path), 7, 9, 3)]
    assert books.items["item_id"].tolist() == ["P1"] and books.reports[0].rows_out == 1
    state = load_domain(DataConfig(source="demo", domain="Demo_State", demo_dir=str(tmp_path)))
    assert state.interactions["user_id"].tolist() == ["1"]
    with pytest.raises(ConfigError, match="not a demo domain"):
        load_domain(DataConfig(source="demo", domain="Garden", demo_dir=str(tmp_path)))


def test_demo_world_prepares_cleanly(demo_dir):
    """The generated demo files pass the real readers untouched and prepare into valid splits."""
    from bluekit.data import synth

    for domain in synth.DEMO_DOMAINS:
        cfg = DataConfig(source="demo", domain=domain, demo_dir=str(demo_dir), demo_users=120,
                         demo_items=300, seed=0, k_core=2)
        loaded = load_domain(cfg)
        assert all(r.rows_in == r.rows_out > 0 for r in loaded.reports), domain  # no row lost
        prepared = prep.prepare(loaded, cfg)
        test = prepared.splits.test
        assert len(test) > 0 and test["user_id"].is_unique
        assert set(test["item_id"]) <= prepared.item_index.keys()
        assert all(item not in h[-1:] for item, h in zip(test["item_id"], test["history"]))
        assert prepared.items["text"].str.len().gt(0).all()
    # the paper's short name reaches the same demo category
    short = DataConfig(source="demo", domain="Clothing", demo_dir=str(demo_dir), demo_users=120,
                       demo_items=300, seed=0)
    assert load_domain(short).name == "Clothing_Shoes_and_Jewelry"
