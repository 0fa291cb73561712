"""Google Local Reviews readers against tiny hand-made files in the 2021 schema."""
import gzip
import json
import math

import pytest

from bluekit.data import google_local, prep
from bluekit.data.schema import INTERACTION_COLUMNS, ITEM_COLUMNS, DataError, LoadReport

REVIEWS = [
    {"user_id": "101463350189962023774", "name": "Ann", "time": 1613245893123, "rating": 5,
     "text": "Great pizza", "pics": None, "resp": None, "gmap_id": "0x89c2:0x1"},
    {"user_id": "102000000000000000001", "name": "Bob", "time": 1613245899000, "rating": 2,
     "text": None, "pics": [{"url": ["https://x"]}], "resp": {"time": 1, "text": "Sorry"},
     "gmap_id": "0x89c2:0x2"},
]
META = [
    {"name": "Joe's Pizza", "address": "Joe's Pizza, 7 Carmine St, New York, NY 10014",
     "gmap_id": "0x89c2:0x1", "description": None, "latitude": 40.7, "longitude": -74.0,
     "category": ["Pizza restaurant", "Italian restaurant"], "avg_rating": 4.6,
     "num_of_reviews": 1000, "price": "$", "hours": [["Monday", "10AM-4AM"]],
     "MISC": {"Service options": ["Takeout"]}, "state": "Open", "relative_results": [],
     "url": "https://maps.google.com/?cid=1"},
    {"name": "Bagel <b>Place</b>", "address": None, "gmap_id": "0x89c2:0x2",
     "description": "Fresh bagels &amp; coffee", "category": None, "price": None},
    {"name": "Joe's Pizza (again)", "gmap_id": "0x89c2:0x1"},
]


def write_json_gz(path, rows, extra=""):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows) + extra)
    return path


def test_read_reviews(tmp_path):
    df = google_local.read_reviews(write_json_gz(tmp_path / "review-New_York.json.gz", REVIEWS))
    assert list(df.columns) == INTERACTION_COLUMNS
    assert df["user_id"].tolist() == ["101463350189962023774", "102000000000000000001"]
    assert df["item_id"].tolist() == ["0x89c2:0x1", "0x89c2:0x2"]
    assert df["rating"].tolist() == [5.0, 2.0] and df["rating"].dtype == "float64"
    assert df["timestamp"].tolist() == [1613245893123, 1613245899000]
    assert df["review_text"].tolist() == ["Great pizza", ""]
    assert df["review_title"].tolist() == ["", ""]


def test_read_metadata(tmp_path):
    report = LoadReport("m")
    items = google_local.read_metadata(write_json_gz(tmp_path / "meta.json.gz", META),
                                       report=report)
    assert list(items.columns) == ITEM_COLUMNS
    assert items["item_id"].tolist() == ["0x89c2:0x1", "0x89c2:0x2"]
    pizza, bagel = items.to_dict("records")
    assert pizza["title"] == "Joe's Pizza" and pizza["category"] == "Pizza restaurant"
    assert pizza["categories"] == ["Pizza restaurant", "Italian restaurant"]
    assert pizza["average_rating"] == 4.6 and math.isnan(bagel["average_rating"])
    assert pizza["description"] == "" and pizza["address"].startswith("Joe's Pizza, 7 Carmine")
    assert math.isnan(pizza["price"]) and pizza["store"] == "" and pizza["features"] == []
    assert bagel["category"] == "" and bagel["categories"] == [] and bagel["address"] == ""
    assert report.dropped == {"duplicate item_id (kept first)": 1}
    # The default item text for Google Local: name, categories, description, address.
    texts = prep.render_item_text(items)
    assert texts[0] == ("Joe's Pizza | Pizza restaurant, Italian restaurant | "
                        "Joe's Pizza, 7 Carmine St, New York, NY 10014")
    assert texts[1] == "Bagel Place | Fresh bagels & coffee"


def test_errors_and_lenient(tmp_path):
    no_time = {"user_id": "1", "rating": 4, "gmap_id": "g"}
    path = write_json_gz(tmp_path / "review-X.json.gz", REVIEWS + [no_time], "not json\n")
    with pytest.raises(DataError, match=r"review-X\.json\.gz, line 3: missing required field 'time'"):
        google_local.read_reviews(path)
    report = LoadReport("r")
    assert len(google_local.read_reviews(path, lenient=True, report=report)) == 2
    assert report.dropped == {"missing time": 1, "malformed json": 1}
    float_id = {"user_id": 1.0146335018996202e20, "time": 1, "rating": 4, "gmap_id": "g"}
    with pytest.raises(DataError, match="user_id"):
        google_local.read_reviews(write_json_gz(tmp_path / "f.json.gz", [float_id]))


def test_load_state(tmp_path):
    write_json_gz(tmp_path / "review-New_York.json.gz", REVIEWS)
    (tmp_path / "meta-New_York.json").write_text("".join(json.dumps(r) + "\n" for r in META))
    domain = google_local.load_state(tmp_path, "New_York")
    assert domain.name == "New_York"
    assert len(domain.interactions) == 2 and len(domain.items) == 2
    assert len(domain.reports) == 2
    with pytest.raises(DataError, match="python -m bluekit download google_local Texas"):
        google_local.load_state(tmp_path, "Texas")
