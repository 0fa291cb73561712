"""Amazon Reviews 2023 readers against tiny hand-made files with the documented quirks."""
import gzip
import json
import math

import pandas as pd
import pytest

from bluekit.data import amazon
from bluekit.data.schema import EXAMPLE_COLUMNS, INTERACTION_COLUMNS, ITEM_COLUMNS, DataError, LoadReport

REVIEWS = [
    {"rating": 5.0, "title": "Great", "text": "Love it", "images": [], "asin": "B01",
     "parent_asin": "P1", "user_id": "U1", "timestamp": 1588687728923, "helpful_vote": 2,
     "verified_purchase": True},
    # camelCase spellings from the documentation, text null, timestamp as a string
    {"rating": 3, "title": "Meh", "text": None, "asin": "B02", "parentAsin": "P2",
     "userId": "U2", "sortTimestamp": "1588687728000", "helpfulVotes": 0,
     "verifiedPurchase": False},
    # no parent_asin at all: asin is the fallback item id; no title key
    {"rating": 4.0, "text": "ok", "asin": "B03", "user_id": "U1", "timestamp": 1600000000000},
]

META = [
    {"main_category": "AMAZON FASHION", "title": "Tee", "average_rating": 4.2,
     "rating_number": 10, "features": ["cotton", "blue"], "description": ["Soft", "tee."],
     "price": 12.5, "store": "Acme", "categories": ["Clothing", "Men"],
     "details": {"Brand": "Other"}, "parent_asin": "P1", "bought_together": None},
    # camelCase; price as a dollar string; store empty -> brand from details given as JSON text
    {"mainCategory": "AMAZON FASHION", "title": "Hat", "features": [], "description": [],
     "price": "$1,299.99", "store": "", "categories": [], "details": "{\"Brand\": \"HatCo\"}",
     "parentAsin": "P2", "boughtTogether": None, "averageRating": 4.0, "ratingNumber": 3},
    # price null, description absent, features null
    {"main_category": None, "title": "Sock", "features": None, "price": None, "store": None,
     "categories": None, "details": None, "parent_asin": "P3"},
    # price an unparseable string (the real files hold "—" for some items)
    {"main_category": "AMAZON FASHION", "title": "Belt", "price": "—", "parent_asin": "B03"},
    # a repeated item: the first row wins
    {"title": "Tee again", "parent_asin": "P1"},
]


def write_jsonl(path, rows, extra_lines=()):
    text = "".join(json.dumps(r) + "\n" for r in rows) + "".join(extra_lines)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["reviews.jsonl", "reviews.jsonl.gz"])
def test_read_reviews_plain_and_gz_with_camel_case(tmp_path, name):
    report = LoadReport("r")
    df = amazon.read_reviews(write_jsonl(tmp_path / name, REVIEWS), report=report)
    assert list(df.columns) == INTERACTION_COLUMNS
    assert df["user_id"].tolist() == ["U1", "U2", "U1"]
    assert df["item_id"].tolist() == ["P1", "P2", "B03"]  # parent_asin, asin only as fallback
    assert df["rating"].tolist() == [5.0, 3.0, 4.0]
    assert df["timestamp"].tolist() == [1588687728923, 1588687728000, 1600000000000]
    assert df["timestamp"].dtype == "int64" and df["rating"].dtype == "float64"
    assert df["review_title"].tolist() == ["Great", "Meh", ""]
    assert df["review_text"].tolist() == ["Love it", "", "ok"]
    assert (report.rows_in, report.rows_out, report.dropped) == (3, 3, {})


def test_read_metadata_quirks(tmp_path):
    report = LoadReport("m")
    items = amazon.read_metadata(write_jsonl(tmp_path / "meta.jsonl.gz", META), report=report)
    assert list(items.columns) == ITEM_COLUMNS
    assert items["item_id"].tolist() == ["P1", "P2", "P3", "B03"]
    tee, hat, sock, belt = items.to_dict("records")
    assert tee["title"] == "Tee" and tee["category"] == "AMAZON FASHION"
    assert tee["description"] == "Soft tee." and tee["features"] == ["cotton", "blue"]
    assert tee["categories"] == ["Clothing", "Men"] and tee["store"] == "Acme"  # store beats brand
    assert tee["average_rating"] == 4.2 and math.isnan(belt["average_rating"])  # kept for rewards
    assert tee["price"] == 12.5 and tee["address"] == ""
    assert hat["price"] == 1299.99 and hat["store"] == "HatCo"
    assert sock["features"] == [] and sock["categories"] == [] and sock["description"] == ""
    assert sock["category"] == "" and sock["store"] == ""
    assert math.isnan(sock["price"]) and math.isnan(belt["price"])
    assert report.rows_in == 5 and report.rows_out == 4
    assert report.dropped == {"price null (NaN, row kept)": 2,  # Sock and the repeated Tee
                              "price unparseable (NaN, row kept)": 1,
                              "duplicate item_id (kept first)": 1}


def test_parse_price_and_details():
    assert amazon.parse_price(7) == (7.0, None)
    assert amazon.parse_price("12.99") == (12.99, None)
    assert amazon.parse_price(" $ 3.50 ")[0] == 3.5
    assert math.isnan(amazon.parse_price("$10 - $20")[0])
    assert amazon.parse_details('{"Brand": "X"}') == ({"Brand": "X"}, None)
    assert amazon.parse_details({"a": 1}) == ({"a": 1}, None)
    assert amazon.parse_details("not json")[0] == {}
    assert amazon.parse_details("not json")[1] is not None


def test_malformed_line_names_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", REVIEWS[:2], ['{"rating": 5, "user_id": \n'])
    with pytest.raises(DataError, match=r"bad\.jsonl, line 3: malformed JSON"):
        amazon.read_reviews(path)


def test_missing_field_names_field_file_and_line(tmp_path):
    no_rating = {"parent_asin": "P9", "user_id": "U9", "timestamp": 1}
    path = write_jsonl(tmp_path / "r.jsonl", [REVIEWS[0], no_rating])
    with pytest.raises(DataError, match=r"r\.jsonl, line 2: missing required field 'rating'"):
        amazon.read_reviews(path)
    no_item = {"user_id": "U9", "timestamp": 1, "rating": 1}
    path = write_jsonl(tmp_path / "r2.jsonl", [no_item])
    with pytest.raises(DataError, match=r"line 1: missing required field 'parent_asin'"):
        amazon.read_reviews(path)
    bad_time = {"parent_asin": "P9", "user_id": "U9", "timestamp": "yesterday", "rating": 1}
    with pytest.raises(DataError, match=r"'timestamp' is not an integer"):
        amazon.read_reviews(write_jsonl(tmp_path / "r3.jsonl", [bad_time]))


def test_lenient_mode_skips_and_counts(tmp_path):
    rows = REVIEWS + [{"parent_asin": "P9", "timestamp": 1, "rating": 2},  # no user
                      {"parent_asin": "P9", "user_id": "U9", "rating": 2}]  # no time
    path = write_jsonl(tmp_path / "r.jsonl.gz", rows, ["{oops\n", "[1, 2]\n", "\n"])
    report = LoadReport("r")
    df = amazon.read_reviews(path, lenient=True, report=report)
    assert len(df) == 3
    assert report.rows_in == 7 and report.rows_out == 3  # the blank line is not a row
    assert report.dropped == {"missing user_id": 1, "missing timestamp": 1, "malformed json": 2}


def test_benchmark_csv_with_and_without_history(tmp_path):
    with_history = tmp_path / "train.csv"
    with_history.write_text("user_id,parent_asin,rating,timestamp,history\n"
                            "U1,P3,5.0,1600000000003,P1 P2\n"
                            "U2,P1,4.0,1600000000001,\n")
    df = amazon.read_benchmark_csv(with_history)
    assert list(df.columns) == EXAMPLE_COLUMNS
    assert df["history"].tolist() == [["P1", "P2"], []]
    assert df["item_id"].tolist() == ["P3", "P1"] and df["rating"].tolist() == [5.0, 4.0]
    assert df["timestamp"].tolist() == [1600000000003, 1600000000001]

    plain = tmp_path / "plain.csv"
    plain.write_text("user_id,parent_asin,rating,timestamp\n007,P1,1,5\n")
    df = amazon.read_benchmark_csv(plain)
    assert df["user_id"].tolist() == ["007"]  # ids stay strings (leading zeros kept)
    assert df["history"].tolist() == [[]]

    broken = tmp_path / "broken.csv"
    broken.write_text("user_id,rating,timestamp\nU1,1,5\n")
    with pytest.raises(DataError, match=r"broken\.csv: missing column\(s\) \['parent_asin'\]"):
        amazon.read_benchmark_csv(broken)
    bad_time = tmp_path / "bad_time.csv"
    bad_time.write_text("user_id,parent_asin,rating,timestamp\nU1,P1,1,soon\n")
    with pytest.raises(DataError, match=r"bad_time\.csv: column 'timestamp' is not numeric"):
        amazon.read_benchmark_csv(bad_time)


def test_load_category_reads_both_files_and_reports(tmp_path):
    root = tmp_path / "raw"
    (root / "review_categories").mkdir(parents=True)
    (root / "meta_categories").mkdir()
    write_jsonl(root / "review_categories" / "All_Beauty.jsonl.gz", REVIEWS)
    write_jsonl(root / "meta_categories" / "meta_All_Beauty.jsonl", META)  # plain works too
    domain = amazon.load_category(root, "All_Beauty")
    assert domain.name == "All_Beauty"
    assert len(domain.interactions) == 3 and len(domain.items) == 4
    assert [r.rows_out for r in domain.reports] == [3, 4]


def test_load_category_short_paper_name_falls_back(tmp_path):
    root = tmp_path / "raw"
    (root / "review_categories").mkdir(parents=True)
    (root / "meta_categories").mkdir()
    write_jsonl(root / "review_categories" / "Sports_and_Outdoors.jsonl.gz", REVIEWS)
    write_jsonl(root / "meta_categories" / "meta_Sports_and_Outdoors.jsonl.gz", META)
    assert amazon.load_category(root, "Sports").name == "Sports_and_Outdoors"


def test_load_category_missing_files_says_how_to_download(tmp_path):
    with pytest.raises(DataError) as err:
        amazon.load_category(tmp_path, "Books")
    message = str(err.value)
    assert "review_categories/Books.jsonl" in message and "Books.jsonl.gz" in message
    assert "python -m bluekit download amazon Books" in message


def test_empty_file_gives_typed_empty_frames(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    df = amazon.read_reviews(tmp_path / "e.jsonl")
    assert list(df.columns) == INTERACTION_COLUMNS and len(df) == 0
    assert df["timestamp"].dtype == "int64"
    items = amazon.read_metadata(tmp_path / "e.jsonl")
    assert list(items.columns) == ITEM_COLUMNS and len(items) == 0
    assert isinstance(items, pd.DataFrame)


def test_metadata_missing_item_id(tmp_path):
    rows = [META[0], {"title": "no id"}]
    path = write_jsonl(tmp_path / "meta_X.jsonl", rows)
    with pytest.raises(DataError, match=r"meta_X\.jsonl, line 2: missing required field 'parent_asin'"):
        amazon.read_metadata(path)
    report = LoadReport("m")
    assert amazon.read_metadata(path, lenient=True, report=report)["item_id"].tolist() == ["P1"]
    assert report.dropped == {"missing parent_asin": 1}


def test_truncated_gz_is_named(tmp_path):
    full = write_jsonl(tmp_path / "full.jsonl.gz", REVIEWS * 50).read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match=r"cut\.jsonl\.gz, after line \d+: .*truncated or corrupt"):
        amazon.read_reviews(cut)


def test_max_text_chars_cuts_while_reading(tmp_path):
    df = amazon.read_reviews(write_jsonl(tmp_path / "r.jsonl", REVIEWS), max_text_chars=3)
    assert df["review_text"].tolist() == ["Lov", "", "ok"]
    assert df["review_title"].tolist() == ["Gre", "Meh", ""]
