"""Full-ranking evaluation against values computed by hand."""
import math

import numpy as np
import pandas as pd
import pytest

from bluekit.evaluate import (MethodResult, evaluate_queries, load_results, metrics_from_ranks,
                              paired_test, result_from_ranks, results_table, save_results,
                              target_ranks, target_ranks_from_scores)

# Five unit items in 2-D. Query A = (1, 0) scores them 1, .8, .6, 0, -1;
# query B = (0, 1) scores them 0, .6, .8, 1, 0 (i0 and i4 tie at 0).
ITEMS = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
QUERIES = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
ITEM_INDEX = {f"i{k}": k for k in range(5)}


def test_ranks_by_hand_with_ties_counting_against_the_target():
    # A's target i2 has two items above it -> rank 3.
    # B's target i0 (score 0) has i1, i2, i3 above and i4 tied -> rank 5, not 4.
    assert target_ranks(QUERIES, ITEMS, [2, 0]).tolist() == [3.0, 5.0]


def test_missing_target_ranks_inf_and_scores_zero():
    ranks = target_ranks(QUERIES, ITEMS, [-1, 3])
    assert ranks[0] == math.inf and ranks[1] == 1.0
    m = metrics_from_ranks(ranks, ks=(5,))
    assert m.loc[0, ["recall@5", "ndcg@5", "mrr"]].tolist() == [0.0, 0.0, 0.0]
    assert m.loc[1, ["recall@5", "ndcg@5", "mrr"]].tolist() == [1.0, 1.0, 1.0]


def test_exclude_history_removes_items_but_never_the_target():
    # A: excluding i0 and i1 lifts i2 to the top. B: i4 (the tie) goes, the target i0 stays
    # even though it is in B's own exclude list -> rank 4.
    ranks = target_ranks(QUERIES, ITEMS, [2, 0], exclude=[[0, 1], [4, 0]])
    assert ranks.tolist() == [1.0, 4.0]


def test_target_outside_catalogue_is_an_error():
    with pytest.raises(ValueError, match="outside the catalogue"):
        target_ranks(QUERIES, ITEMS, [2, 5])


def test_metrics_by_hand():
    m = metrics_from_ranks([1, 3, 5], ks=(2, 10))
    assert m["recall@2"].tolist() == [1.0, 0.0, 0.0]
    assert m["recall@10"].tolist() == [1.0, 1.0, 1.0]  # K larger than the 5-item catalogue
    assert m["ndcg@10"].tolist() == pytest.approx([1.0, 0.5, 1 / math.log2(6)])
    assert m["ndcg@2"].tolist() == [1.0, 0.0, 0.0]
    assert m["mrr"].tolist() == pytest.approx([1.0, 1 / 3, 0.2])
    assert list(m.columns) == ["recall@2", "recall@10", "ndcg@2", "ndcg@10", "mrr", "rank"]


def test_batching_matches_one_user_at_a_time_and_brute_force():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(40, 8)).astype(np.float32)
    items[7] = items[3]  # an exact tie
    queries = rng.normal(size=(23, 8)).astype(np.float32)
    targets = rng.integers(0, 40, size=23)
    targets[:3] = [3, 7, -1]
    exclude = [rng.integers(0, 40, size=rng.integers(0, 6)) for _ in range(23)]
    queries[1], exclude[0], exclude[1] = queries[0], [], []  # same user asking for 3, then for 7
    one = target_ranks(queries, items, targets, exclude, batch_size=1)
    for bs in (4, 1024):
        np.testing.assert_array_equal(target_ranks(queries, items, targets, exclude, batch_size=bs), one)
    scores = queries @ items.T
    for u, t in enumerate(targets):
        if t < 0:
            assert one[u] == math.inf
            continue
        s = scores[u].copy()
        s[[i for i in exclude[u] if i != t]] = -np.inf
        assert one[u] == (s >= s[t]).sum()
    assert one[0] == one[1]  # items 3 and 7 are identical: each ranks behind the other


def test_a_large_catalogue_is_ranked_in_smaller_blocks_with_the_same_ranks(monkeypatch):
    from bluekit import evaluate
    rng = np.random.default_rng(1)
    items = rng.normal(size=(50, 4)).astype(np.float32)
    queries = rng.normal(size=(30, 4)).astype(np.float32)
    targets = rng.integers(0, 50, size=30)
    free = target_ranks(queries, items, targets, batch_size=1024)
    seen = []
    matmul = np.matmul

    def recording(a, b, out=None):
        seen.append(len(a))
        return matmul(a, b, out=out)
    monkeypatch.setattr(evaluate, "BLOCK_CELLS", 7 * 50)  # room for 7 users x 50 items at once
    monkeypatch.setattr(evaluate.np, "matmul", recording)
    np.testing.assert_array_equal(target_ranks(queries, items, targets, batch_size=1024), free)
    assert max(seen) == 7  # never a bigger score block, whatever batch_size asked
    by_scores = target_ranks_from_scores(lambda rows: queries[rows] @ items.T, 30, targets,
                                         batch_size=1024)
    np.testing.assert_array_equal(by_scores, free)


def test_ranks_from_scores_popularity_style():
    counts = np.array([3, 9, 1, 9, 0])  # integer scores are fine
    ranks = target_ranks_from_scores(lambda rows: np.tile(counts, (len(rows), 1)), 3, [0, 1, 4],
                                     exclude=[[], [3], [1, 3]], batch_size=2)
    # user 0: 9, 9 above 3 -> 3; user 1: 9 ties with item 3 -> 2, but item 3 is excluded -> 1;
    # user 2: scores 3 and 1 still above 0 -> 3.
    assert ranks.tolist() == [3.0, 1.0, 3.0]


def examples_frame():
    return pd.DataFrame({"user_id": ["A", "B"], "item_id": ["i2", "i0"], "rating": [5.0, 4.0],
                         "timestamp": [1, 2], "history": [["i0", "i1"], ["i4", "unknown"]]})


def test_evaluate_queries_summary_and_exclusion():
    res = evaluate_queries("hand", QUERIES, ITEMS, examples_frame(), ITEM_INDEX, ks=(1, 5))
    assert res.per_user["user_id"].tolist() == ["A", "B"]
    assert res.per_user["rank"].tolist() == [3.0, 5.0]
    assert res.summary["recall@5"] == 1.0 and res.summary["recall@1"] == 0.0
    assert res.summary["ndcg@5"] == pytest.approx((0.5 + 1 / math.log2(6)) / 2)
    assert res.summary["mrr"] == pytest.approx((1 / 3 + 1 / 5) / 2)
    assert res.summary["median_rank"] == 4.0 and res.summary["n"] == 2
    excl = evaluate_queries("hand", QUERIES, ITEMS, examples_frame(), ITEM_INDEX, ks=(1, 5),
                            exclude_history=True)
    assert excl.per_user["rank"].tolist() == [1.0, 4.0]  # unknown history ids are ignored


def test_results_table_and_json_round_trip(tmp_path):
    a = evaluate_queries("a", QUERIES, ITEMS, examples_frame(), ITEM_INDEX)
    b = result_from_ranks("b", np.array([1.0, math.inf]), examples_frame())
    table = results_table([a, b])
    assert list(table.index) == ["a", "b"]
    assert list(table.columns[:8]) == ["recall@5", "recall@10", "recall@20", "ndcg@5", "ndcg@10",
                                       "ndcg@20", "mrr", "median_rank"]
    assert table.loc["b", "mrr"] == 0.5 and table.loc["b", "median_rank"] == math.inf
    path = save_results([a, b], tmp_path / "out" / "results.json")
    assert "Infinity" not in path.read_text()  # strict JSON
    back = load_results(path)
    assert [r.name for r in back] == ["a", "b"]
    pd.testing.assert_frame_equal(back[1].per_user, b.per_user)
    assert back[0].summary == a.summary
    assert back[1].summary == b.summary  # the inf median rank survives as null -> inf


def test_paired_test_identical_and_shifted():
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(40)], "item_id": ["x"] * 40})
    rng = np.random.default_rng(1)
    ranks = rng.integers(2, 30, size=40).astype(float)
    a = result_from_ranks("a", ranks, users)
    same = paired_test(a, result_from_ranks("a2", ranks.copy(), users))
    assert same["p_value"] == 1.0 and same["mean_diff"] == 0.0
    assert same["ci_low"] == same["ci_high"] == 0.0
    better = result_from_ranks("best", np.ones(40), users)  # every target first
    shifted = paired_test(better, a, metric="mrr")
    assert shifted["p_value"] < 1e-6 and shifted["mean_diff"] > 0 and shifted["ci_low"] > 0
    assert shifted["n"] == 40 and shifted["mean_a"] == 1.0


def test_paired_test_aligns_users_by_id():
    users = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "item_id": ["x"] * 3})
    a = result_from_ranks("a", np.array([1.0, 2.0, 3.0]), users)
    b_rev = MethodResult("b", a.per_user.iloc[::-1].reset_index(drop=True), {})
    out = paired_test(a, b_rev, metric="mrr")
    assert out["mean_diff"] == 0.0 and out["p_value"] == 1.0 and out["n"] == 3


def test_paired_test_leaves_out_pairs_with_a_nan():  # fluency of an empty profile is NaN
    a = MethodResult("a", pd.DataFrame({"user_id": list("abcdef"), "fluency": [1, 2, 3, np.nan, 5, 6.0]}), {})
    b = MethodResult("b", pd.DataFrame({"user_id": list("abcdef"), "fluency": [2, 3, 4, 5, 6, 9.0]}), {})
    out = paired_test(a, b, metric="fluency")
    assert out["n"] == 5 and out["mean_a"] == 3.4 and np.isfinite(out["p_value"])
    empty = MethodResult("empty", b.per_user.assign(fluency=np.nan), {})
    with pytest.raises(ValueError, match="defined"):
        paired_test(a, empty, metric="fluency")


def test_a_non_finite_query_ranks_its_target_last_and_a_broken_item_raises():
    items = np.eye(4, dtype=np.float32)
    queries = np.array([[1, 0, 0, 0], [np.nan, 1, 0, 0], [np.inf, 0, 0, 0]], dtype=np.float32)
    ranks = target_ranks(queries, items, [0, 0, 0])
    assert ranks.tolist() == [1.0, 4.0, 4.0]  # not rank 0 (a "perfect hit" with NDCG inf)
    per_user = metrics_from_ranks(ranks)
    assert np.isfinite(per_user.to_numpy()).all() and per_user["ndcg@10"].max() <= 1.0
    items[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"item vectors hold NaN/inf \(rows \[2\]\)"):
        target_ranks(queries[:1], items, [0])


def test_faithfulness_flags_copied_titles_foreign_brands_and_personal_facts():
    from bluekit.evaluate import faithfulness
    items = pd.DataFrame({"item_id": ["a", "b", "c"],
                          "title": ["Northpeak Suede Hiking Boot", "Alpenglow Rain Jacket", "Wool Socks"],
                          "store": ["Northpeak", "Alpenglow", "Woolly"]})
    ex = pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"], "history": [["a"], ["a"], ["a", "b"], []]})
    texts = {"u1": "Bought the Northpeak Suede Hiking Boot last month.",   # copies a title
             "u2": "A fan of Alpenglow gear.",                              # a brand never bought
             "u3": "A 25-year-old hiker who likes Northpeak and Alpenglow.",  # own brands, an age
             "u4": ""}
    result = faithfulness(texts, ex, items)
    assert result == {"copies_title": 0.25, "invents_brand": 0.25, "invents_person": 0.25, "n": 4}
