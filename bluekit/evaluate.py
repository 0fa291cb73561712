"""The paper's evaluation protocol: zero-shot sequential recommendation with full ranking.

For each test user a query vector (a profile's embedding, or a baseline's) scores EVERY
item by dot product (vectors are unit length, so this is cosine similarity); the held-out
next item is the target. No negative sampling. Per-user Recall@K, NDCG@K and MRR come from
the target's rank; methods are compared per user with a paired test.

Rank rule: rank = 1 + number of OTHER items whose score is >= the target's score, so ties
count against the target (a constant query, e.g. all zeros, ranks its target last). A target
missing from the catalogue gets rank inf (it scores 0 on every metric). With
exclude_history the user's history items leave the ranking, but never the target itself.

    ranks = target_ranks(query_vecs, item_vecs, target_index)
    result = evaluate_queries("last item", query_vecs, item_vecs, examples, item_index)
    results_table([result, other])
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from bluekit.atomic import write_text

DEFAULT_KS = (5, 10, 20)
# Users x items score cells held at once (float32 scores + a bool mask: about 1 GB): a block of
# batch_size users shrinks below this for a large catalogue (1M items: 200 users per block,
# measured as fast as 1024 by bench/bench_scale.py), so memory stays bounded at any size.
BLOCK_CELLS = 200_000_000


# ---------------------------------------------------------------- ranks

def target_ranks(query_vecs: np.ndarray, item_vecs: np.ndarray, target_index: Sequence[int],
                 exclude: Sequence[Sequence[int]] | None = None, batch_size: int = 1024,
                 show_progress: bool = False) -> np.ndarray:
    """1-based rank of each user's target among ALL items, by dot product.

    query_vecs (n_users, d), item_vecs (n_items, d); target_index[u] is the target's row in
    item_vecs, or -1 when the target is not in the catalogue (rank inf). Ties count against
    the target. exclude[u] (optional) lists item rows removed from user u's ranking (e.g. the
    history); the target itself is never removed, even when it appears in that list (the usual
    protocol: a repeat purchase still counts). Users are scored `batch_size` at a time (fewer
    when batch_size x n_items passes BLOCK_CELLS) into one reused block, so no users x items
    matrix is ever held.
    A query with a NaN or infinite value (a failed profile) ranks its target last; a non-finite
    item vector is a broken catalogue and raises, naming the rows.

    >>> items = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> target_ranks(np.array([[1.0, 0.0], [0.0, 1.0], [np.nan, 0.0]]), items, [2, 2, 2]).tolist()
    [2.0, 2.0, 3.0]
    """
    queries = np.array(query_vecs, dtype=np.float32)  # a copy: failed queries are zeroed below
    items = np.ascontiguousarray(item_vecs, dtype=np.float32)
    if queries.ndim != 2 or items.ndim != 2 or queries.shape[1] != items.shape[1]:
        raise ValueError(f"target_ranks: query shape {queries.shape} and item shape "
                         f"{items.shape} do not fit together")
    bad_items = np.flatnonzero(~np.isfinite(items).all(axis=1))
    if len(bad_items):
        raise ValueError(f"target_ranks: {len(bad_items)} item vectors hold NaN/inf (rows "
                         f"{bad_items[:5].tolist()}); rebuild the item-vector cache")
    # A zero query ties every item, and ties count against the target: it ranks last.
    queries[~np.isfinite(queries).all(axis=1)] = 0.0

    items_t = items.T
    batch_size = bounded_batch(batch_size, len(items))
    buffer = np.empty((min(batch_size, len(queries)), len(items)), dtype=np.float32)

    def scores_for(rows: np.ndarray) -> np.ndarray:
        # BLAS writes straight into the reused block: no fresh 100s-of-MB array per batch.
        return np.matmul(queries[rows[0]:rows[-1] + 1], items_t, out=buffer[:len(rows)])

    return _ranks_by_batches(scores_for, len(queries), len(items), target_index, exclude,
                             batch_size, show_progress)


def target_ranks_from_scores(score_fn: Callable[[np.ndarray], np.ndarray], n_users: int,
                             target_index: Sequence[int], exclude: Sequence[Sequence[int]] | None = None,
                             batch_size: int = 1024, show_progress: bool = False) -> np.ndarray:
    """Like `target_ranks`, for methods that score items directly (popularity, random).

    score_fn(user_rows) -> (len(user_rows), n_items) scores for those users (higher = better);
    user_rows is a consecutive block of indices into target_index.

    >>> counts = np.array([5.0, 9.0, 1.0])
    >>> target_ranks_from_scores(lambda rows: np.tile(counts, (len(rows), 1)), 2, [0, 2]).tolist()
    [2.0, 3.0]
    """
    def scores_for(rows: np.ndarray) -> np.ndarray:
        scores = np.asarray(score_fn(rows))
        dtype = scores.dtype if np.issubdtype(scores.dtype, np.floating) else np.float64
        return np.array(scores, dtype=dtype)  # a copy: masking writes -inf into it

    return _ranks_by_batches(scores_for, n_users, None, target_index, exclude, batch_size, show_progress)


def _ranks_by_batches(scores_for, n_users: int, n_items: int | None, target_index, exclude,
                      batch_size: int, show_progress: bool) -> np.ndarray:
    from tqdm.auto import tqdm

    targets = np.asarray(target_index, dtype=np.int64).reshape(-1)
    if len(targets) != n_users:
        raise ValueError(f"{n_users} query rows but {len(targets)} targets")
    if exclude is not None and len(exclude) != n_users:
        raise ValueError(f"{n_users} query rows but {len(exclude)} exclude lists")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if n_items is None and n_users:  # a score function: its first row tells the catalogue size
        first = np.shape(scores_for(np.arange(1)))
        batch_size = bounded_batch(batch_size, first[-1] if first else 1)
    elif n_items:
        batch_size = bounded_batch(batch_size, n_items)
    ranks = np.full(n_users, np.inf)
    mask = None  # reused (batch, n_items) boolean block
    for start in tqdm(range(0, n_users, batch_size), desc="ranking", disable=not show_progress):
        rows = np.arange(start, min(start + batch_size, n_users))
        scores = scores_for(rows)
        n_items = scores.shape[1] if n_items is None else n_items
        if scores.shape != (len(rows), n_items):
            raise ValueError(f"score block has shape {scores.shape}, expected {(len(rows), n_items)}")
        block_targets = targets[rows]
        if np.any(block_targets >= n_items):
            bad = int(block_targets[block_targets >= n_items][0])
            raise ValueError(f"target index {bad} is outside the catalogue of {n_items} items")
        if mask is None:
            mask = np.empty((min(batch_size, n_users), n_items), dtype=bool)
        block_exclude = None if exclude is None else [exclude[r] for r in rows]
        ranks[rows] = _block_ranks(scores, block_targets, block_exclude, mask[:len(rows)])
    return ranks


def bounded_batch(batch_size: int, n_items: int) -> int:
    """Users per block: batch_size, or fewer so that users x n_items stays within BLOCK_CELLS.

    >>> bounded_batch(1024, 300), bounded_batch(1024, 1_000_000)
    (1024, 200)
    """
    return max(1, min(batch_size, BLOCK_CELLS // max(n_items, 1)))


def _block_ranks(scores: np.ndarray, targets: np.ndarray, exclude: list | None,
                 mask: np.ndarray) -> np.ndarray:
    """Ranks for one (b, n_items) score block; `scores` is modified in place."""
    found = targets >= 0
    target_scores = scores[np.arange(len(targets)), np.where(found, targets, 0)]  # a copy
    if exclude is not None:
        rows, cols = _exclusion_pairs(exclude, targets)
        scores[rows, cols] = -np.inf
    # The target compares >= with itself, which supplies the "1 +" of the rank.
    np.greater_equal(scores, target_scores[:, None], out=mask)
    ranks = np.count_nonzero(mask, axis=1).astype(np.float64)
    ranks[~found] = np.inf
    return ranks


def _exclusion_pairs(exclude: list, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) pairs to mask: each user's excluded items except its own target."""
    rows, cols = [], []
    for r, items in enumerate(exclude):
        items = np.asarray(items if items is not None else [], dtype=np.int64).reshape(-1)
        items = items[(items >= 0) & (items != targets[r])]
        rows.append(np.full(len(items), r, dtype=np.int64))
        cols.append(items)
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


# ---------------------------------------------------------------- metrics

def metrics_from_ranks(ranks: Sequence[float], ks: Sequence[int] = DEFAULT_KS) -> pd.DataFrame:
    """Per-user metrics from 1-based ranks (one relevant item per user).

    recall@K = 1 if rank <= K; ndcg@K = 1/log2(rank + 1) if rank <= K (the ideal DCG of a
    single relevant item is 1); mrr = 1/rank; an inf rank scores 0 everywhere.

    >>> metrics_from_ranks([1, 3, float("inf")], ks=[2, 5]).round(3).to_dict("list")["ndcg@5"]
    [1.0, 0.5, 0.0]
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    columns: dict[str, np.ndarray] = {}
    for k in ks:
        columns[f"recall@{k}"] = (ranks <= k).astype(np.float64)
    for k in ks:
        columns[f"ndcg@{k}"] = np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)
    columns["mrr"] = 1.0 / ranks  # 1/inf = 0
    columns["rank"] = ranks
    return pd.DataFrame(columns)


@dataclass
class MethodResult:
    """One method's evaluation: per-user metrics (with user_id) and their summary."""
    name: str
    per_user: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in self.summary.items()}
        return f"MethodResult({self.name!r}, {shown})"


def summarize(per_user: pd.DataFrame) -> dict:
    """Mean of every metric column, the median rank and the number of users."""
    metric_cols = [c for c in per_user.columns if c.startswith(("recall@", "ndcg@")) or c == "mrr"]
    summary = {c: float(per_user[c].mean()) if len(per_user) else float("nan") for c in metric_cols}
    summary["median_rank"] = float(np.median(per_user["rank"])) if len(per_user) else float("nan")
    summary["n"] = int(len(per_user))
    return summary


def target_indices(examples: pd.DataFrame, item_index: Mapping[str, int]) -> np.ndarray:
    """Each example's target row in the catalogue, -1 when the item is not there."""
    return np.array([item_index.get(i, -1) for i in examples["item_id"]], dtype=np.int64)


def history_indices(examples: pd.DataFrame, item_index: Mapping[str, int]) -> list[np.ndarray]:
    """Each example's history as catalogue rows (items not in the catalogue are skipped)."""
    return [np.array([item_index[i] for i in (h if h is not None else []) if i in item_index], dtype=np.int64)
            for h in examples["history"]]


def result_from_ranks(name: str, ranks: np.ndarray, examples: pd.DataFrame,
                      ks: Sequence[int] = DEFAULT_KS, extra_summary: dict | None = None) -> MethodResult:
    """Wrap ranks into a MethodResult (per_user has user_id and the target item_id first)."""
    per_user = metrics_from_ranks(ranks, ks)
    per_user.insert(0, "item_id", examples["item_id"].astype(str).to_numpy())
    per_user.insert(0, "user_id", examples["user_id"].astype(str).to_numpy())
    summary = summarize(per_user)
    summary["n_target_missing"] = int(np.isinf(ranks).sum())
    summary.update(extra_summary or {})
    return MethodResult(name, per_user, summary)


def evaluate_queries(name: str, query_vecs: np.ndarray, item_vecs: np.ndarray, examples: pd.DataFrame,
                     item_index: Mapping[str, int], ks: Sequence[int] = DEFAULT_KS,
                     exclude_history: bool = False, batch_size: int = 1024,
                     extra_summary: dict | None = None) -> MethodResult:
    """Full-ranking evaluation of one query vector per example row.

    examples: columns user_id, item_id (the target), history (item ids, oldest first);
    item_index: item_id -> row of item_vecs. exclude_history removes each user's history
    items from their ranking (never the target itself).
    """
    if len(query_vecs) != len(examples):
        raise ValueError(f"{name}: {len(query_vecs)} query vectors for {len(examples)} examples")
    exclude = history_indices(examples, item_index) if exclude_history else None
    ranks = target_ranks(query_vecs, item_vecs, target_indices(examples, item_index), exclude, batch_size)
    return result_from_ranks(name, ranks, examples, ks, extra_summary)


# ---------------------------------------------------------------- tables and files

def evaluate_texts(name: str, texts_by_user: Mapping[str, str] | Sequence[str], examples: pd.DataFrame, *,
                   item_index: Mapping[str, int], item_vecs: np.ndarray, embedder,
                   ks: Sequence[int] = DEFAULT_KS, exclude_history: bool = False, batch_size: int = 1024,
                   show_progress: bool | None = None, **_unused) -> MethodResult:
    """Embed one text per example (a profile, a ceiling text...) as a query and evaluate it.

    texts_by_user: {user_id: text} (a user missing from it gets "") or a sequence aligned
    with the example rows. Empty texts get a zero query (their target ranks last).
    """
    texts = _texts_for_examples(texts_by_user, examples)
    queries = query_vectors(texts, embedder, item_vecs.shape[1], show_progress)
    extra = {"n_empty_query": sum(not t.strip() for t in texts)}
    return evaluate_queries(name, queries, item_vecs, examples, item_index, ks, exclude_history,
                            batch_size, extra_summary=extra)


def query_vectors(texts: Sequence[str], embedder, dim: int, show_progress: bool | None = None) -> np.ndarray:
    """Each text embedded as a query; an empty text gets a zero vector (its target ranks last)."""
    queries = np.zeros((len(texts), dim), dtype=np.float32)
    filled = [i for i, t in enumerate(texts) if t.strip()]
    if filled:
        queries[filled] = embedder.encode_queries([texts[i] for i in filled], show_progress=show_progress)
    return queries


def _texts_for_examples(texts_by_user, examples: pd.DataFrame) -> list[str]:
    if isinstance(texts_by_user, Mapping):
        texts = [texts_by_user.get(u, "") for u in examples["user_id"]]
    elif isinstance(texts_by_user, pd.Series) and not isinstance(texts_by_user.index, pd.RangeIndex):
        texts = [texts_by_user.get(u, "") for u in examples["user_id"]]
    else:
        texts = list(texts_by_user)
        if len(texts) != len(examples):
            raise ValueError(f"{len(texts)} texts for {len(examples)} examples; pass a "
                             f"{{user_id: text}} mapping or one text per example row")
    return ["" if t is None or (isinstance(t, float) and t != t) else str(t) for t in texts]


def results_table(results: Sequence[MethodResult]) -> pd.DataFrame:
    """One row per method (index "method"): metric means, median rank, n, then any extras."""
    rows = {r.name: r.summary for r in results}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    first = [c for c in table.columns if c.startswith("recall@")] + \
            [c for c in table.columns if c.startswith("ndcg@")] + \
            [c for c in ("mrr", "median_rank", "n") if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def save_results(results: Sequence[MethodResult], path: str | Path) -> Path:
    """Write summaries and per-user columns as JSON, atomically (inf ranks stored as null)."""
    path = Path(path)
    payload = {"methods": [{"name": r.name, "summary": _jsonable(r.summary),
                            "per_user": {c: _jsonable(r.per_user[c].tolist()) for c in r.per_user.columns}}
                           for r in results]}
    return write_text(path, json.dumps(payload, allow_nan=False))


def load_results(path: str | Path) -> list[MethodResult]:
    """Read what `save_results` wrote (null ranks come back as inf)."""
    try:
        payload = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a results file ({err})") from err
    results = []
    for m in payload["methods"]:
        per_user = pd.DataFrame(m["per_user"])
        if "rank" in per_user:
            per_user["rank"] = per_user["rank"].astype("float64").fillna(np.inf)
        # null was a non-finite float: an inf median rank (most users' targets missing), else nan
        summary = {k: (v if v is not None else float("inf") if k == "median_rank" and len(per_user)
                       else float("nan")) for k, v in m["summary"].items()}
        results.append(MethodResult(m["name"], per_user, summary))
    return results


def _jsonable(value):
    """Non-finite floats -> None (strict JSON), numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------- significance

def bootstrap_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95):
    """Seeded percentile bootstrap CI of a mean (non-finite values left out): the CI of every mean
    the kit reports beside a metric or a readability measure.

    >>> lo, hi = bootstrap_ci(np.array([0.0, 1.0] * 50))
    >>> 0.35 < lo < 0.5 < hi < 0.65
    True
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def paired_test(a: MethodResult, b: MethodResult, metric: str = "ndcg@10", n_boot: int = 2000,
                seed: int = 0, confidence: float = 0.95) -> dict:
    """Is method a different from method b on `metric`, user by user?

    Users are aligned by user_id (a user with several examples is matched occurrence by
    occurrence). Wilcoxon signed-rank test (zero_method="zsplit"; p = 1 when every difference
    is 0) and a seeded paired bootstrap confidence interval of the mean difference a - b.
    A pair where either value is NaN (a readability measure undefined for an empty profile, such
    as fluency) is left out; n counts the pairs used.
    """
    from scipy.stats import wilcoxon

    merged = _align(a.per_user, b.per_user, metric)
    merged = merged[merged[f"{metric}_a"].notna() & merged[f"{metric}_b"].notna()]
    if merged.empty:
        raise ValueError(f"paired_test: {a.name!r} and {b.name!r} share no user_id with {metric!r} defined")
    x, y = merged[f"{metric}_a"].to_numpy(float), merged[f"{metric}_b"].to_numpy(float)
    diff = x - y
    if np.all(diff == 0):
        p_value = 1.0
    else:
        p_value = float(wilcoxon(x, y, zero_method="zsplit").pvalue)
    rng = np.random.default_rng(seed)
    boot = diff[rng.integers(0, len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    tail = (1 - confidence) / 2
    return {"a": a.name, "b": b.name, "metric": metric,
            "mean_a": float(x.mean()), "mean_b": float(y.mean()),
            "mean_diff": float(diff.mean()), "p_value": p_value, "n": int(len(diff)),
            "ci_low": float(np.quantile(boot, tail)), "ci_high": float(np.quantile(boot, 1 - tail)),
            "confidence": confidence,
            "test": "wilcoxon signed-rank (zsplit) + paired bootstrap CI"}


def describe_test(test: dict) -> str:
    """One readable line for a paired_test result (b's change over a, so + means b is better).

    >>> describe_test({"a": "untrained", "b": "trained", "metric": "mrr", "mean_a": 0.0188,
    ...                "mean_b": 0.0294, "mean_diff": -0.0106, "ci_low": -0.019, "ci_high": -0.0013,
    ...                "p_value": 3.57e-05, "n": 240})
    'mrr: untrained 0.0188 -> trained 0.0294 (change +0.0106, 95% CI [+0.0013, +0.019]), Wilcoxon p = 3.57e-05, n = 240'
    """
    return (f"{test['metric']}: {test['a']} {test['mean_a']:.3g} -> {test['b']} {test['mean_b']:.3g} "
            f"(change {-test['mean_diff']:+.3g}, {test.get('confidence', 0.95):.0%} CI [{-test['ci_high']:+.3g}, {-test['ci_low']:+.3g}]), "
            f"Wilcoxon p = {test['p_value']:.3g}, n = {test['n']}")


def _align(pa: pd.DataFrame, pb: pd.DataFrame, metric: str) -> pd.DataFrame:
    for name, frame in (("a", pa), ("b", pb)):
        if metric not in frame or "user_id" not in frame:
            raise KeyError(f"paired_test: result {name} has no {metric!r} / user_id column "
                           f"(columns: {list(frame.columns)})")
    left = pa[["user_id", metric]].assign(_occ=pa.groupby("user_id").cumcount())
    right = pb[["user_id", metric]].assign(_occ=pb.groupby("user_id").cumcount())
    return left.merge(right, on=["user_id", "_occ"], suffixes=("_a", "_b"))


# ---------------------------------------------------------------- faithfulness of profile text

_PERSON = re.compile(
    r"\b\d+[- ]year[- ]old\b|\byears? old\b|\b(?:he|she|his|her|him)\b|\b(?:student|teacher|mother|"
    r"father|mom|dad|wife|husband|nurse|engineer|doctor|retired|retiree|sailor|grandmother|"
    r"grandfather|college|teenager)\b", re.IGNORECASE)


def faithfulness(texts_by_user: Mapping[str, str], examples: pd.DataFrame,
                 items: pd.DataFrame) -> dict:
    """How often profiles copy the history or invent details, against what the prompt showed.

    Per profile: `copies_title` = it contains a whole title of one of the user's history items;
    `invents_brand` = it names a brand (an item's `store`) that none of the user's history items
    has; `invents_person` = it states personal facts the data never gives (an age, a gender
    pronoun, an occupation or family role). Returns the share of profiles with each, and n.

    >>> items = pd.DataFrame({"item_id": ["a", "b"], "title": ["Red Boot", "Blue Hat"],
    ...                       "store": ["Acme", "Zed"]})
    >>> ex = pd.DataFrame({"user_id": ["u", "v"], "history": [["a"], ["a"]]})
    >>> faithfulness({"u": "Loves the Red Boot.", "v": "She likes Zed hats."}, ex, items)
    {'copies_title': 0.5, 'invents_brand': 0.5, 'invents_person': 0.5, 'n': 2}
    """
    title_of = dict(zip(items["item_id"].astype(str), items["title"].fillna("").astype(str)))
    store_of = dict(zip(items["item_id"].astype(str), items.get("store", pd.Series(
        [""] * len(items))).fillna("").astype(str)))
    brands = {s for s in store_of.values() if len(s) > 2}
    flags = {"copies_title": [], "invents_brand": [], "invents_person": []}
    for user, history in zip(examples["user_id"], examples["history"]):
        text = str(texts_by_user.get(user, "") or "")
        lower = text.lower()
        history = [str(h) for h in (history if history is not None else [])]
        titles = [title_of.get(h, "").lower() for h in history]
        own = {store_of.get(h, "") for h in history}
        named = {b for b in brands if re.search(rf"\b{re.escape(b)}\b", text)}
        flags["copies_title"].append(any(t and t in lower for t in titles))
        flags["invents_brand"].append(bool(named - own))
        flags["invents_person"].append(bool(_PERSON.search(text)))
    n = len(examples)
    return {**{k: float(np.mean(v)) if n else float("nan") for k, v in flags.items()}, "n": n}
