"""SASRec, the ID-based reference row: it learns a sequential pattern and ranks far above random."""
import numpy as np
import pandas as pd
import pytest

from bluekit import baselines
from bluekit.errors import KitError
from bluekit.sasrec import SASRecSettings, sasrec_scores, train_sasrec


def tiny_split(n_users=60, n_items=30, length=8, seed=0):
    """Each user walks the catalogue in steps of +1 from a random start: the next item follows
    from the last one, which only a sequential model can use (every item is equally popular)."""
    rng = np.random.default_rng(seed)
    items = [f"i{k}" for k in range(n_items)]
    train, valid, test = [], [], []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        walk = [items[(start + k) % n_items] for k in range(length + 2)]
        train += [{"user_id": f"u{u}", "item_id": i, "timestamp": t} for t, i in enumerate(walk[:-2])]
        valid.append({"user_id": f"u{u}", "item_id": walk[-2], "history": walk[:-2]})
        test.append({"user_id": f"u{u}", "item_id": walk[-1], "history": walk[:-1]})
    return pd.DataFrame(train), pd.DataFrame(test), {i: k for k, i in enumerate(items)}, pd.DataFrame(valid)


@pytest.mark.parametrize("loss", ["ce", "bce"])
def test_sasrec_learns_the_sequence_and_beats_random(loss):
    train, test, index, valid = tiny_split()
    settings = SASRecSettings(max_len=10, dim=32, epochs=40, batch_size=16, lr=5e-3, dropout=0.1, loss=loss)
    result = baselines.sasrec(test, item_index=index, train_interactions=train, ks=(1, 10),
                              settings=settings, valid_examples=valid)  # stopped on validation MRR
    floor = baselines.random_baseline(test, item_index=index, ks=(1, 10))
    assert result.name == "SASRec (ID-based, not zero-shot)" and result.summary["n"] == 60
    assert result.summary["recall@10"] > 0.8 > floor.summary["recall@10"] + 0.2
    assert result.summary["mrr"] > 3 * floor.summary["mrr"]


def test_an_empty_history_ranks_its_target_last_and_settings_are_checked():
    train, _, index, _ = tiny_split(n_users=8)
    model = train_sasrec(train, index, SASRecSettings(max_len=10, dim=16, epochs=1))
    scores = sasrec_scores(model, [[], ["i3", "unknown"]], index)
    assert scores.shape == (2, 30) and not scores[0].any() and scores[1].any()
    with pytest.raises(KitError, match="eval.sasrec.layers"):
        SASRecSettings.from_dict({"layers": 2})
    with pytest.raises(KitError, match="eval.sasrec.loss"):
        SASRecSettings.from_dict({"loss": "bpr"})


def test_eval_id_baseline_adds_the_row_to_the_baselines(ws):
    import dataclasses

    from bluekit import pipeline
    from bluekit.config import load_config

    cfg = load_config("smoke", {"eval.id_baseline": True, "eval.sasrec": {"epochs": 2, "dim": 16}})
    results = pipeline.baseline_results(dataclasses.replace(ws, cfg=cfg), with_ceiling=False)
    names = [r.name for r in results]
    assert names[-1] == baselines.SASREC_NAME and len(names) == 6
    assert results[-1].summary["n"] == len(ws.test_examples)  # the same held-out users
