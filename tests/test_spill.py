"""The streaming prep (batches + spill) against the per-line reader and in-memory prep it replaces."""
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bluekit.config import DataConfig
from bluekit.data import amazon, batches, google_local, jsonl, load_prepared, prep, spill
from bluekit.data.schema import (INTERACTION_COLUMNS, ITEM_COLUMNS, DataError, Domain,
                                 LoadReport)


@pytest.fixture(autouse=True)
def always_spill(monkeypatch):
    """The files here are small: spill them anyway (load_prepared keeps small ones in memory)."""
    monkeypatch.setattr(spill, "MIN_BYTES", 0)


def per_line_domain(cfg) -> Domain:
    """The domain as the kit read it before batches: jsonl.read_json_lines, one line at a time."""
    if cfg.source == "amazon":
        module, root = amazon, Path(cfg.raw_dir) / "amazon_2023" / "raw"
    elif cfg.domain == "Demo_City":
        module, root = google_local, Path(cfg.demo_dir) / "google_local"
    else:
        module, root = amazon, Path(cfg.demo_dir) / "amazon_2023" / "raw"
    if module is amazon:
        name, reviews, meta = amazon.find_files(root, cfg.domain)
    else:
        name, (reviews, meta) = cfg.domain, google_local.find_files(root, cfg.domain)
    kind = "amazon" if module is amazon else "google_local"
    review_report = LoadReport(f"{kind} reviews {reviews.name}")
    meta_report = LoadReport(f"{kind} metadata {meta.name}")
    columns = jsonl.read_json_lines(reviews, INTERACTION_COLUMNS, module._parse_review, review_report)
    meta_columns = jsonl.read_json_lines(meta, ITEM_COLUMNS, module.meta_reader(meta_report).parse_row,
                                         meta_report)
    items = jsonl.drop_duplicate_items(jsonl.items_frame(meta_columns), meta_report)
    return Domain(name, jsonl.interactions_frame(columns), items, [review_report, meta_report])


def assert_same_prepared(a, b):
    assert a.name == b.name
    for frame_a, frame_b in ((a.interactions, b.interactions), (a.items, b.items),
                             (a.splits.train, b.splits.train), (a.splits.valid, b.splits.valid),
                             (a.splits.test, b.splits.test)):
        pd.testing.assert_frame_equal(frame_a, frame_b)
    assert a.item_index == b.item_index
    assert [str(r) for r in a.reports] == [str(r) for r in b.reports]


@pytest.mark.parametrize("domain", ["Clothing_Shoes_and_Jewelry", "Demo_City"])
@pytest.mark.parametrize("split", ["last_out", "timestamp"])
def test_streaming_prep_equals_per_line_reader_on_demo_world(demo_dir, tmp_path, domain, split):
    cfg = DataConfig(source="demo", domain=domain, demo_dir=str(demo_dir), demo_users=120,
                     demo_items=300, seed=0, cache_dir=str(tmp_path / "cache"), split=split)
    expected = prep.prepare(per_line_domain(cfg), cfg)
    assert_same_prepared(load_prepared(cfg), expected)
    # A second run reads the spills, not the JSON, and gives the same.
    assert_same_prepared(load_prepared(cfg), expected)


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def review(n, **extra):
    return {"rating": float(1 + n % 5), "title": f"t{n}", "text": f"text {n} \u00e9", "images": [],
            "asin": f"A{n % 40}", "parent_asin": f"P{n % 40}", "user_id": f"U{n % 97}",
            "timestamp": 1600000000000 + n, "helpful_vote": 0, "verified_purchase": True, **extra}


QUIRKS = {  # line index -> a line the fast path must hand to the per-line reader
    10: {**{k: v for k, v in review(10).items() if k != "timestamp"},
         "sortTimestamp": 1600000000010},  # the camelCase spelling
    300: review(300, rating="4.0"),  # a numeric string
    301: review(301, timestamp=1.6e12),  # an integral float
    450: {k: v for k, v in review(450).items() if k != "parent_asin"},  # asin only
    451: review(451, parent_asin=""),
    600: review(600, text=["a", None, "b"]),  # a list of strings
    700: review(700, title=None, text=None),
    800: "",  # a blank line
    850: '{"user_id": "U1"} {"user_id": "U2"}',  # two objects on one line
    900: review(900, rating=None),
    901: "{not json",
    950: "[1, 2]",
}


def quirky_reviews(path, n=1200):
    return write_jsonl(path, [QUIRKS.get(i, review(i)) for i in range(n)])


def test_fast_path_agrees_with_the_per_line_reader_on_quirks(tmp_path):
    path = quirky_reviews(tmp_path / "r.jsonl")
    fast, slow = LoadReport("r"), LoadReport("r")
    reader = amazon.review_reader(5)
    table = batches.read_table(path, reader, fast, lenient=True)
    per_line = batches.read_table(path, batches.Reader(reader.schema, reader.parse_row), slow,
                                  lenient=True)
    assert table.equals(per_line)
    assert (fast.rows_in, fast.rows_out, fast.dropped) == (slow.rows_in, slow.rows_out,
                                                          slow.dropped)
    assert fast.dropped == {"malformed json": 3, "missing rating": 1}
    assert fast.rows_in == 1199 and table.num_rows == 1195  # the blank line is not a row
    rows = table.to_pylist()
    assert rows[10]["timestamp"] == 1600000000010 and rows[450]["item_id"] == "A10"
    assert rows[600]["review_text"] == "a b" and rows[0]["review_text"] == "text "


def test_errors_inside_a_large_block_name_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", [review(i) for i in range(700)] + ["{oops"]
                       + [review(i) for i in range(300)])
    with pytest.raises(DataError, match=r"r\.jsonl, line 701: malformed JSON"):
        amazon.read_reviews(path)
    rows = [review(i) for i in range(1000)]
    rows[499] = review(499, user_id=None)
    path = write_jsonl(tmp_path / "u.jsonl", rows)
    with pytest.raises(DataError, match=r"u\.jsonl, line 500: missing required field 'user_id'"):
        list(batches.read_batches(path, amazon.review_reader(), LoadReport("u")))


def test_metadata_fast_path_agrees_with_the_per_line_reader(tmp_path, monkeypatch):
    def meta(n, **extra):
        return {"main_category": "Fashion", "title": f"Item {n}", "average_rating": 4.5,
                "features": ["soft", "", None], "description": [f"d{n}", None, "more"],
                "price": 10.0 + n, "images": [{"large": "x"}], "store": f"S{n}",
                "categories": ["A", "B"], "details": {"Brand": f"B{n}", "n": [1]},
                "parent_asin": f"P{n}", **extra}
    quirks = {5: meta(5, store="", details={"Brand": "Acme"}), 6: meta(6, store=None, details=None),
              300: meta(300, price="$1,299.00"), 301: meta(301, price=None),
              302: meta(302, details='{"Brand": "Zed"}', store=""), 303: meta(303, details=[1]),
              400: meta(1), 500: meta(500, description="a plain string"),
              # prices as the real files give them: strings beside numbers, in the same block
              210: meta(210, price="None"), 211: meta(211, price="from $3 to $5"),
              212: meta(212, price=" $ 7.50 "), 213: meta(213, price=".5"), 214: meta(214, price=""),
              215: meta(215, price="USD 12"), 216: meta(216, price="\u0661\u0662"),
              217: meta(217, details={"price": "$9", "Brand": "B"}), 218: meta(218, price=12)}
    path = write_jsonl(tmp_path / "meta_X.jsonl", [quirks.get(i, meta(i)) for i in range(600)])
    fast, slow = LoadReport("m"), LoadReport("m")
    python_rows = batches._python_rows
    by_python = []
    def counted(path, lines, *args):
        lines = list(lines)
        by_python.extend(lines)
        return python_rows(path, lines, *args)
    monkeypatch.setattr(batches, "_python_rows", counted)
    items = amazon.read_metadata(path, report=fast)
    reference = jsonl.items_frame(jsonl.read_json_lines(
        path, ITEM_COLUMNS, amazon.meta_reader(slow).parse_row, slow))
    reference = jsonl.drop_duplicate_items(reference, slow)
    pd.testing.assert_frame_equal(items, reference)
    assert fast.dropped == slow.dropped == {
        "price null (NaN, row kept)": 1, "details unparseable (ignored, row kept)": 1,
        "price unparseable (NaN, row kept)": 3, "duplicate item_id (kept first)": 1}
    # String prices take the fast path; only the non-ASCII one (line 217) is re-read per line.
    assert {n for n, _ in by_python} & set(range(211, 220)) == {217}
    prices = items.set_index("item_id").price
    assert prices["P300"] == 1299.0 and prices["P212"] == 7.5 and prices["P213"] == 0.5
    assert prices["P215"] == 12.0 and prices["P216"] == 12.0 and prices["P218"] == 12.0
    by_id = items.set_index("item_id")
    assert by_id.loc["P5", "store"] == "Acme" and by_id.loc["P302", "store"] == "Zed"
    assert by_id.loc["P0", "features"] == ["soft"] and by_id.loc["P0", "description"] == "d0 more"


def test_hash_ids_depends_only_on_the_string():
    ids = ["U%027d" % i for i in range(1000)]
    short, odd = ["P1", "P22", ""], ["x" * 60, "gmap:" + "9" * 40]
    alone = batches.hash_ids(pa.array(ids))
    mixed = batches.hash_ids(pa.array(short + ids[:10] + odd))
    assert (mixed[3:13] == alone[:10]).all()
    assert (batches.hash_ids(pa.array(short)) == mixed[:3]).all()
    assert (batches.hash_ids(pa.array(odd)) == mixed[13:]).all()
    assert (batches.hash_ids(pa.array(ids).slice(500, 5)) == alone[500:505]).all()
    assert len(np.unique(np.r_[alone, mixed[:3], mixed[13:]])) == 1005


def amazon_files(root, reviews, metas):
    raw = root / "amazon_2023" / "raw"
    (raw / "review_categories").mkdir(parents=True)
    (raw / "meta_categories").mkdir(parents=True)
    write_jsonl(raw / "review_categories" / "Toys.jsonl", reviews)
    write_jsonl(raw / "meta_categories" / "meta_Toys.jsonl", metas)
    return raw


def toy_world():
    """8 users x 6 items with repeats (ties included), an item without metadata, a sparse user."""
    reviews = []
    for u in range(8):
        for i in range(6):
            if (u + i) % 4:
                reviews.append(review(0, user_id=f"U{u}", parent_asin=f"P{i}", asin=f"P{i}",
                                      timestamp=1000 * u + 10 * i))
    reviews += [review(0, user_id="U1", parent_asin="P2", timestamp=5),  # an earlier repeat
                review(0, user_id="U2", parent_asin="P1", timestamp=2010, title="tie"),
                review(0, user_id="U3", parent_asin="P9", timestamp=7),  # no metadata
                review(0, user_id="Z", parent_asin="P0", timestamp=9)]
    metas = [{"parent_asin": f"P{i}", "title": f"Item {i}", "main_category": "Toys",
              "price": 3.0, "store": "S", "features": [], "description": [], "categories": []}
             for i in range(6)]
    return reviews, metas + [metas[0]]


@pytest.mark.parametrize("k", [1, 4])
def test_dedupe_metadata_filter_and_k_core_match_in_memory_prep(tmp_path, k):
    amazon_files(tmp_path, *toy_world())
    cfg = DataConfig(source="amazon", domain="Toys", raw_dir=str(tmp_path), k_core=k,
                     cache_dir=str(tmp_path / "cache"))
    streamed = load_prepared(cfg)
    assert_same_prepared(streamed, prep.prepare(per_line_domain(cfg), cfg))
    dedupe = next(r for r in streamed.reports if r.source == "dedupe")
    assert dedupe.dropped == {"repeated (user, item) pair": 2}


def test_filters_that_leave_nothing_raise_as_in_memory(tmp_path):
    reviews, metas = toy_world()
    amazon_files(tmp_path, reviews, metas)
    cfg = DataConfig(source="amazon", domain="Toys", raw_dir=str(tmp_path), k_core=50,
                     cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"k_core\(k=50\) left nothing: 37 interactions, 9 users"):
        load_prepared(cfg)


def test_spill_is_keyed_by_file_and_settings(tmp_path, monkeypatch):
    raw = amazon_files(tmp_path, *toy_world())
    cfg = DataConfig(source="amazon", domain="Toys", raw_dir=str(tmp_path), k_core=1,
                     cache_dir=str(tmp_path / "cache"))
    first = load_prepared(cfg)
    spills = lambda: sorted(p.name for p in (tmp_path / "cache" / "prep").iterdir())  # noqa: E731
    assert len(spills()) == 2
    with monkeypatch.context() as m:  # reused: the JSON is not read again
        m.setattr(batches, "read_batches", lambda *a, **k: pytest.fail("read the JSON again"))
        assert_same_prepared(load_prepared(cfg), first)
    assert len(spills()) == 2
    cut = load_prepared(DataConfig(**{**cfg.__dict__, "max_review_chars": 2}))
    assert len(spills()) == 3 and set(cut.interactions["review_title"].str.len()) <= {0, 1, 2}
    path = raw / "review_categories" / "Toys.jsonl"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    load_prepared(cfg)
    assert len(spills()) == 4  # the file changed: read again


# ---- the official benchmark splits ----

def write_split(folder, name, part, rows, history=True):
    folder.mkdir(parents=True, exist_ok=True)
    header = "user_id,parent_asin,rating,timestamp" + (",history" if history else "")
    lines = [header] + [",".join(map(str, r if history else r[:4])) for r in rows]
    (folder / f"{name}.{part}.csv").write_text("\n".join(lines) + "\n")


def official_world(tmp_path, split):
    reviews, metas = toy_world()
    raw = amazon_files(tmp_path, reviews, metas)
    folder = amazon.benchmark_folder(raw, split)
    # The exact format of the benchmark files: history = space-separated parent_asin, oldest first.
    write_split(folder, "Toys", "train", [("U1", "P1", 5.0, 1010, ""), ("U1", "P2", 4.0, 1020, "P1"),
                                          ("U2", "P1", 3.0, 2010, "")])
    write_split(folder, "Toys", "valid", [("U1", "P3", 5.0, 1030, "P1 P2"),
                                          ("U2", "P2", 4.0, 2020, "")])
    write_split(folder, "Toys", "test", [("U1", "P5", 2.0, 1050, "P1 P2 P3"),
                                         ("U2", "P9", 1.0, 2030, "P1 P2"),  # no item row
                                         ("U2", "P3", 1.0, 2040, "P9 P1 P2")])
    return raw


def test_official_last_out_files_are_used_when_present(tmp_path):
    official_world(tmp_path, "last_out")
    cfg = DataConfig(source="amazon", domain="Toys", raw_dir=str(tmp_path), max_history=2,
                     cache_dir=str(tmp_path / "cache"))
    prepared = load_prepared(cfg)
    splits = prepared.splits
    assert splits.train[["user_id", "item_id"]].values.tolist() == [["U1", "P1"], ["U1", "P2"],
                                                                    ["U2", "P1"]]
    # review text joined from the reviews file (U2's repeat of P1, titled "tie", was deduped)
    assert splits.train["review_text"].tolist() == ["text 0 \u00e9"] * 3
    assert splits.valid["history"].tolist() == [["P1", "P2"], []]  # last_out keeps empty ones
    assert splits.test[["item_id", "history"]].values.tolist() == [["P5", ["P2", "P3"]],
                                                                   ["P3", ["P1", "P2"]]]
    # the interactions kept are the official users' reviews of the official items
    assert sorted(map(tuple, prepared.interactions[["user_id", "item_id"]].values)) == [
        ("U1", "P1"), ("U1", "P2"), ("U1", "P5"), ("U2", "P1"), ("U2", "P3"), ("U2", "P5")]
    assert sorted(prepared.items["item_id"]) == ["P1", "P2", "P3", "P5"]
    report = next(r for r in prepared.reports if r.source == "official split last_out")
    assert report.dropped == {"test example whose target has no item row": 1,
                              "test history item with no item row": 1}
    # official_splits=False: the kit's own k-core and split instead
    own = load_prepared(DataConfig(**{**cfg.__dict__, "official_splits": False, "k_core": 2}))
    assert any(r.source.startswith("k_core") for r in own.reports)


def test_official_timestamp_split_drops_empty_histories(tmp_path):
    official_world(tmp_path, "timestamp")
    cfg = DataConfig(source="amazon", domain="Toys", raw_dir=str(tmp_path), split="timestamp",
                     cache_dir=str(tmp_path / "cache"))
    prepared = load_prepared(cfg)
    assert prepared.splits.valid[["user_id", "item_id"]].values.tolist() == [["U1", "P3"]]
    report = next(r for r in prepared.reports if r.source == "official split timestamp")
    assert report.dropped["valid example with an empty history (timestamp split)"] == 1
    # the last_out files are not there: nothing of them is used
    assert amazon.benchmark_files(tmp_path / "amazon_2023" / "raw", "Toys", "last_out") is None


def test_official_split_files_must_come_in_threes(tmp_path):
    raw = official_world(tmp_path, "last_out")
    (amazon.benchmark_folder(raw, "last_out") / "Toys.valid.csv").unlink()
    cfg = DataConfig(source="amazon", domain="Toys", raw_dir=str(tmp_path),
                     cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"last_out_w_his: the official last_out split of Toys "
                                        r"lacks its valid file.*download amazon Toys --splits"):
        load_prepared(cfg)


def test_small_files_are_prepared_in_memory_without_a_spill(tmp_path, monkeypatch):
    amazon_files(tmp_path, *toy_world())
    cfg = DataConfig(source="amazon", domain="Toys", raw_dir=str(tmp_path), k_core=1,
                     cache_dir=str(tmp_path / "cache"))
    monkeypatch.setattr(spill, "MIN_BYTES", 1 << 20)
    assert_same_prepared(load_prepared(cfg), prep.prepare(per_line_domain(cfg), cfg))
    assert not (tmp_path / "cache").exists()
