"""Reference points for profile evaluation: what any profile has to beat.

Every function takes the same keywords, so one dict serves them all:

    kw = dict(items=items, item_index=item_index, item_vecs=item_vecs, embedder=embedder,
              ks=(5, 10, 20), exclude_history=False)
    results = run_baselines(test_examples, train_interactions=train, **kw)
    results.append(bluekit.evaluate.evaluate_texts("my profiles", profiles_by_user, test_examples, **kw))

- random: seeded random scores (the floor).
- popularity: interaction counts in the training interactions; items with the same count
  are ordered by catalogue row (earlier first), so it is one fixed list for everybody.
- last item: the query is the last history item's vector.
- mean history: the query is the mean of the history item vectors, renormalised.
- raw history text: the history's titles as text ("Purchased: A; B; C", most recent last),
  embedded as a query: the paper's "raw history" baseline.
- SASRec (:func:`sasrec`, eval.id_baseline): an ID-based sequential model trained on the
  training interactions, NOT zero-shot; a reference row, not in run_baselines.

Users with no usable history (empty, or no item in the catalogue) get a zero query: every item ties at score 0 and, since ties count
against the target, the target ranks last. They are counted in the summary
(`n_empty_query`), not dropped, so every method is scored on the same users.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from bluekit.evaluate import (DEFAULT_KS, MethodResult, evaluate_queries, evaluate_texts,
                              history_indices, result_from_ranks, target_indices,
                              target_ranks_from_scores)

DEFAULT_HISTORY_ITEMS = 20
DEFAULT_HISTORY_PREFIX = "Purchased: "


def random_baseline(examples: pd.DataFrame, *, item_index: Mapping[str, int], item_vecs: np.ndarray | None = None,
                    ks: Sequence[int] = DEFAULT_KS, exclude_history: bool = False, seed: int = 0,
                    batch_size: int = 1024, name: str = "random", **_unused) -> MethodResult:
    """Uniform random scores, seeded per example row (the same whatever the batch size)."""
    n_items = _catalogue_size(item_index, item_vecs)

    def scores(rows: np.ndarray) -> np.ndarray:
        return np.stack([np.random.default_rng([seed, int(r)]).random(n_items, dtype=np.float32) for r in rows])

    return _score_based(name, scores, examples, item_index, ks, exclude_history, batch_size)


def item_popularity(train_interactions: pd.DataFrame, item_index: Mapping[str, int], n_items: int) -> np.ndarray:
    """Popularity scores: n_items for the most frequent training item down to 1 for the least.

    Items with the same count are ordered by catalogue row (earlier first), so every item
    has its own score (float32 holds these integers exactly).

    >>> train = pd.DataFrame({"item_id": ["b", "a", "b", "c", "a"]})
    >>> item_popularity(train, {"a": 0, "b": 1, "c": 2, "d": 3}, 4).tolist()
    [4.0, 3.0, 2.0, 1.0]
    """
    counts = np.zeros(n_items, dtype=np.int64)
    rows = [item_index[i] for i in train_interactions["item_id"] if i in item_index]
    np.add.at(counts, np.asarray(rows, dtype=np.int64), 1)
    order = np.lexsort((np.arange(n_items), -counts))  # by count desc, then row asc
    scores = np.empty(n_items, dtype=np.float32)
    scores[order] = np.arange(n_items, 0, -1, dtype=np.float32)
    return scores


def popularity(examples: pd.DataFrame, *, item_index: Mapping[str, int], train_interactions: pd.DataFrame,
               item_vecs: np.ndarray | None = None, ks: Sequence[int] = DEFAULT_KS,
               exclude_history: bool = False, batch_size: int = 1024, name: str = "popularity",
               **_unused) -> MethodResult:
    """Rank items by how often they occur in the TRAINING interactions (no test leakage)."""
    pop = item_popularity(train_interactions, item_index, _catalogue_size(item_index, item_vecs))
    return _score_based(name, lambda rows: np.broadcast_to(pop, (len(rows), len(pop))),
                        examples, item_index, ks, exclude_history, batch_size)


def last_item(examples: pd.DataFrame, *, item_index: Mapping[str, int], item_vecs: np.ndarray,
              ks: Sequence[int] = DEFAULT_KS, exclude_history: bool = False, batch_size: int = 1024,
              name: str = "last item", **_unused) -> MethodResult:
    """Query = the vector of the most recent history item in the catalogue."""
    history = history_indices(examples, item_index)
    queries = np.zeros((len(examples), item_vecs.shape[1]), dtype=np.float32)
    for row, items in enumerate(history):
        if len(items):
            queries[row] = item_vecs[items[-1]]
    return _vector_based(name, queries, history, examples, item_index, item_vecs, ks, exclude_history, batch_size)


def mean_history(examples: pd.DataFrame, *, item_index: Mapping[str, int], item_vecs: np.ndarray,
                 max_items: int | None = None, ks: Sequence[int] = DEFAULT_KS, exclude_history: bool = False,
                 batch_size: int = 1024, name: str = "mean history", **_unused) -> MethodResult:
    """Query = the mean of the (most recent `max_items`, default all) history vectors, renormalised."""
    history = history_indices(examples, item_index)
    queries = np.zeros((len(examples), item_vecs.shape[1]), dtype=np.float32)
    for row, items in enumerate(history):
        items = items[-max_items:] if max_items else items
        if len(items):
            queries[row] = normalize_rows(item_vecs[items].mean(axis=0, keepdims=True))[0]
    return _vector_based(name, queries, history, examples, item_index, item_vecs, ks, exclude_history, batch_size)


def history_text(titles: Sequence[str], max_items: int = DEFAULT_HISTORY_ITEMS,
                 prefix: str = DEFAULT_HISTORY_PREFIX) -> str:
    """The most recent `max_items` titles, oldest first / most recent last; "" for none.

    >>> history_text(["Tent", "Boots", "Map"], max_items=2)
    'Purchased: Boots; Map'
    """
    titles = [str(t).strip() for t in titles][-max_items:] if max_items else list(titles)
    titles = [t for t in titles if t]
    return prefix + "; ".join(titles) if titles else ""


def history_texts(examples: pd.DataFrame, items: pd.DataFrame, item_index: Mapping[str, int],
                  max_items: int = DEFAULT_HISTORY_ITEMS, prefix: str = DEFAULT_HISTORY_PREFIX) -> list[str]:
    """Each example's history as the raw-history baseline's text (:func:`history_text`)."""
    title_of = dict(zip(items["item_id"].astype(str), items["title"].fillna("").astype(str)))
    return [history_text([title_of.get(i, "") for i in (h if h is not None else []) if i in item_index],
                         max_items, prefix) for h in examples["history"]]


def raw_history_text(examples: pd.DataFrame, *, items: pd.DataFrame, item_index: Mapping[str, int],
                     item_vecs: np.ndarray, embedder, max_items: int = DEFAULT_HISTORY_ITEMS,
                     prefix: str = DEFAULT_HISTORY_PREFIX, ks: Sequence[int] = DEFAULT_KS,
                     exclude_history: bool = False, batch_size: int = 1024,
                     name: str = "raw history text", **_unused) -> MethodResult:
    """Query = the history's item titles rendered as one text and embedded as a query."""
    texts = history_texts(examples, items, item_index, max_items, prefix)
    return evaluate_texts(name, texts, examples, item_index=item_index, item_vecs=item_vecs,
                          embedder=embedder, ks=ks, exclude_history=exclude_history, batch_size=batch_size)



SASREC_NAME = "SASRec (ID-based, not zero-shot)"


def sasrec(examples: pd.DataFrame, *, item_index: Mapping[str, int], train_interactions: pd.DataFrame,
           ks: Sequence[int] = DEFAULT_KS, exclude_history: bool = False, batch_size: int = 1024,
           settings=None, valid_examples: pd.DataFrame | None = None, name: str = SASREC_NAME,
           **_unused) -> MethodResult:
    """The ID-based reference (bluekit.sasrec): SASRec trained on the split's TRAINING
    interactions, every user's (stopped on valid_examples' MRR when given), then each example's
    history scores every item. Not zero-shot: it has seen these users' histories and learns one
    vector per item id (no text)."""
    from bluekit.sasrec import sasrec_scores, train_sasrec

    model = train_sasrec(train_interactions, item_index, settings, valid_examples)
    scores = sasrec_scores(model, examples["history"].tolist(), item_index)
    return _score_based(name, lambda rows: scores[rows], examples, item_index, ks, exclude_history,
                        batch_size)


def run_baselines(examples: pd.DataFrame, items: pd.DataFrame, item_index: Mapping[str, int],
                  item_vecs: np.ndarray, embedder, train_interactions: pd.DataFrame,
                  ks: Sequence[int] = DEFAULT_KS, exclude_history: bool = False,
                  batch_size: int = 1024, seed: int = 0) -> list[MethodResult]:
    """The five baselines on the same examples, in the order of the results table."""
    kw = dict(items=items, item_index=item_index, item_vecs=item_vecs, embedder=embedder,
              train_interactions=train_interactions, ks=ks, exclude_history=exclude_history,
              batch_size=batch_size)
    return [random_baseline(examples, seed=seed, **kw), popularity(examples, **kw),
            last_item(examples, **kw), mean_history(examples, **kw), raw_history_text(examples, **kw)]


# ---------------------------------------------------------------- helpers

def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Unit-length rows; zero rows stay zero.

    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _catalogue_size(item_index: Mapping[str, int], item_vecs: np.ndarray | None) -> int:
    return len(item_vecs) if item_vecs is not None else (max(item_index.values()) + 1 if item_index else 0)


def _score_based(name, score_fn, examples, item_index, ks, exclude_history, batch_size) -> MethodResult:
    exclude = history_indices(examples, item_index) if exclude_history else None
    ranks = target_ranks_from_scores(score_fn, len(examples), target_indices(examples, item_index),
                                     exclude, batch_size)
    return result_from_ranks(name, ranks, examples, ks)


def _vector_based(name, queries, history, examples, item_index, item_vecs, ks, exclude_history,
                  batch_size) -> MethodResult:
    extra = {"n_empty_query": int(sum(len(h) == 0 for h in history))}
    return evaluate_queries(name, queries, item_vecs, examples, item_index, ks, exclude_history,
                            batch_size, extra_summary=extra)
