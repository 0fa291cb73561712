"""Baselines on a hand-built toy catalogue with fake vectors, plus one real-MiniLM check."""
import numpy as np
import pandas as pd
import pytest

from bluekit import baselines
from bluekit.evaluate import evaluate_texts, results_table

# Six items on the unit circle at 0, 20, 40, 90, 180, 270 degrees: each item's nearest
# neighbour is the one next to it in angle, so "the next item is the last item's neighbour"
# is easy to set up.
ANGLES = np.deg2rad([0, 20, 40, 90, 180, 270])
VECS = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1).astype(np.float32)
ITEMS = pd.DataFrame({"item_id": [f"i{k}" for k in range(6)],
                      "title": ["Trail boots", "Hiking socks", "Rain jacket", "Cookbook", "Jazz CD", "Yarn"]})
INDEX = {item: row for row, item in enumerate(ITEMS.item_id)}


def examples(rows):
    return pd.DataFrame({"user_id": [f"u{n}" for n in range(len(rows))],
                         "item_id": [r[0] for r in rows], "rating": 5.0, "timestamp": 0,
                         "history": [r[1] for r in rows]})


class FakeEmbedder:
    """Maps a text to a vector by keyword, records what it was asked to embed."""
    dim = 2

    def __init__(self):
        self.seen = []

    def encode_queries(self, texts, show_progress=None):
        self.seen.extend(texts)
        return np.stack([VECS[3] if "Cookbook" in t else VECS[1] for t in texts]).astype(np.float32)


def kw(**extra):
    return dict(items=ITEMS, item_index=INDEX, item_vecs=VECS, embedder=FakeEmbedder(), ks=(1, 3), **extra)


def test_last_item_ranks_the_last_items_neighbour_first():
    ex = examples([("i1", ["i3", "i0"]),  # last i0 (0 deg): i0 itself, then its neighbour i1
                   ("i2", ["i5", "i3"])])  # last i3 (90 deg): i3 itself, then i2 (50 deg away)
    res = baselines.last_item(ex, **kw())
    assert res.per_user["rank"].tolist() == [2.0, 2.0]
    excl = baselines.last_item(ex, **kw(exclude_history=True))  # the history item itself goes
    assert excl.per_user["rank"].tolist() == [1.0, 1.0]
    assert res.name == "last item" and res.summary["n_empty_query"] == 0


def test_mean_history_points_between_the_history_items():
    ex = examples([("i1", ["i0", "i2"])])  # mean of 0 and 40 degrees points at 20 = i1
    assert baselines.mean_history(ex, **kw()).per_user["rank"].tolist() == [1.0]


def test_empty_history_gets_a_zero_query_and_ranks_last():
    ex = examples([("i1", []), ("i2", ["not-in-catalogue"])])
    for fn in (baselines.last_item, baselines.mean_history, baselines.raw_history_text):
        res = fn(ex, **kw())
        assert res.per_user["rank"].tolist() == [6.0, 6.0], fn.__name__
        assert res.summary["n_empty_query"] == 2


def test_popularity_ranks_by_training_count_with_row_order_for_ties():
    train = pd.DataFrame({"user_id": "x", "item_id": ["i4", "i4", "i4", "i2", "i2", "i5", "i5", "i0"]})
    # counts: i4 3, i2 2, i5 2, i0 1, i1 0, i3 0 -> order i4, i2, i5, i0, i1, i3
    ex = examples([("i4", []), ("i5", []), ("i3", []), ("i1", ["i4"])])
    res = baselines.popularity(ex, train_interactions=train, **kw())
    assert res.per_user["rank"].tolist() == [1.0, 3.0, 6.0, 5.0]
    excl = baselines.popularity(ex, train_interactions=train, **kw(exclude_history=True))
    assert excl.per_user["rank"].tolist() == [1.0, 3.0, 6.0, 4.0]


def test_random_is_seeded_and_independent_of_batch_size():
    ex = examples([(f"i{k % 6}", []) for k in range(30)])
    a = baselines.random_baseline(ex, seed=3, batch_size=4, **kw())
    b = baselines.random_baseline(ex, seed=3, batch_size=1024, **kw())
    c = baselines.random_baseline(ex, seed=4, **kw())
    assert a.per_user["rank"].tolist() == b.per_user["rank"].tolist()
    assert a.per_user["rank"].tolist() != c.per_user["rank"].tolist()
    assert set(a.per_user["rank"]) <= set(range(1, 7))


def test_raw_history_text_renders_titles_most_recent_last():
    emb = FakeEmbedder()
    ex = examples([("i3", ["i0", "i1", "i3"]), ("i1", ["i0"])])
    res = baselines.raw_history_text(ex, max_items=2, **{**kw(), "embedder": emb})
    assert emb.seen == ["Purchased: Hiking socks; Cookbook", "Purchased: Trail boots"]
    assert res.per_user["rank"].tolist() == [1.0, 1.0]  # fake embedder: Cookbook -> i3, else -> i1


def test_evaluate_texts_accepts_a_mapping_and_blank_texts():
    ex = examples([("i3", ["i0"]), ("i1", ["i0"]), ("i1", ["i0"])])
    texts = {"u0": "loves a good Cookbook", "u1": "hikes", "u2": "   "}
    res = evaluate_texts("profiles", texts, ex, **kw())
    assert res.per_user["rank"].tolist() == [1.0, 1.0, 6.0]
    assert res.summary["n_empty_query"] == 1
    with pytest.raises(ValueError, match="2 texts for 3 examples"):
        evaluate_texts("bad", ["a", "b"], ex, **kw())


def test_run_baselines_gives_five_methods_on_the_same_users():
    train = pd.DataFrame({"user_id": "x", "item_id": ["i0", "i1", "i1"]})
    ex = examples([("i1", ["i0"]), ("i2", ["i1"])])
    results = baselines.run_baselines(ex, ITEMS, INDEX, VECS, FakeEmbedder(), train, ks=(1, 3))
    table = results_table(results)
    assert list(table.index) == ["random", "popularity", "last item", "mean history", "raw history text"]
    assert (table["n"] == 2).all()


def test_real_embedder_ranks_hiking_boots_above_a_cookbook(embedder):
    items = pd.DataFrame({"item_id": ["boot", "cook", "jazz"],
                          "title": ["Waterproof leather hiking boots for trail walking",
                                    "The Italian kitchen: 100 pasta recipes cookbook",
                                    "Best of smooth jazz saxophone CD"]})
    index = {i: r for r, i in enumerate(items.item_id)}
    vecs = embedder.encode_documents(items.title.tolist())
    ex = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["boot", "cook"], "history": [[], []]})
    res = evaluate_texts("q", {"u": "waterproof hiking boots", "v": "Italian cooking recipes"},
                                   ex, item_index=index, item_vecs=vecs, embedder=embedder)
    assert res.per_user["rank"].tolist() == [1.0, 1.0]
