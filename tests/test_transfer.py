"""Cross-domain transfer (bluekit.transfer) and the evaluation protocol's options: every transfer
cell is filled, profiles are cached per (run, domain), nothing is written into data/pretrained/,
source training users are left out unless asked, eval.users and history masking do what they say."""
import dataclasses

import numpy as np
import pytest
from fake_runs import fake_tiny_run, file_hashes


TARGETS = ("Sports", "Books", "local")


@pytest.fixture(scope="module", autouse=True)
def smoke_item_vectors(embedder):
    """The smoke world's target catalogues embedded once into the shared cache (as any smoke
    evaluation of them would), so each test's private cache starts from a copy of it."""
    from bluekit.config import load_config
    from bluekit.data import load_prepared
    from bluekit.embed import item_vectors

    for domain in TARGETS:
        cfg = load_config("smoke", {"data.domain": domain})
        items = load_prepared(cfg.data).items
        item_vectors(embedder, items.item_id.tolist(), items.text.tolist(), cfg.embed.cache_dir, show_progress=False)


def test_every_transfer_cell_is_filled_with_baselines_and_paired_tests(tmp_path, embedder):
    from bluekit.transfer import TRAINED, UNTRAINED, filled, run_embedders, transfer

    run = fake_tiny_run(tmp_path / "run", tmp_path / "cache")
    long, wide, cells = transfer([run], ["Sports", "local"], overrides={"eval.test_users": 12},
                                 embedders={"frozen": embedder}, out=tmp_path / "out")
    assert list(wide.index) == ["run (Clothing_Shoes_and_Jewelry)"]
    assert filled(wide, "frozen") and not filled(wide, "tuned")  # the tuned hook says none was given
    assert all("no tuned embedder" in v for v in wide.filter(like="(tuned)").iloc[0])
    assert run_embedders(run) == {"frozen": None}  # a run without embed.trainable
    for cell in cells:
        names = [r.name for r in cell.results]
        assert names == ["raw history text (8 items)", "raw history text (20 items)", "last item",
                         UNTRAINED, TRAINED]
        assert {r.summary["n"] for r in cell.results} == {cell.tests["mrr"]["n"]} and cell.tests["mrr"]["n"] > 0
    trained = long[long.method == TRAINED]
    assert set(trained.target) == {"Sports_and_Outdoors", "Demo_City"}
    assert trained[["p_mrr", "p_ndcg@10", "p_recall@10"]].notna().all().all()
    assert set(long.users) == {"held_out"} and set(long.history_masked) == {False}  # the protocol, stated
    assert np.allclose(trained.mrr_change, trained.mrr.to_numpy() - long[long.method == UNTRAINED].mrr.to_numpy())
    # readability beside rank in every cell, for both profilers (not for the baselines)
    profilers = long[long.method.isin([TRAINED, UNTRAINED])]
    assert profilers[["item_description", "repetitive", "history_coverage"]].notna().all().all()
    assert profilers.item_description.between(0, 1).all()
    assert long[long.method == "last item"].item_description.isna().all()
    assert all("item descr. " in v for v in wide.filter(like="(frozen)").iloc[0])
    for name in ("transfer.csv", "transfer.md", "transfer.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert len(list((tmp_path / "out" / "cells").glob("*.json"))) == 2
    # profiles are cached per (run, domain): one file per target, none in the run folder
    cached = sorted(p.name for p in (tmp_path / "cache" / "profiles").glob("run-*.json"))
    assert [n.split("-")[2] for n in cached] == sorted(["Demo_City", "Sports_and_Outdoors"])
    assert not (run / "test_profiles.json").exists()


def test_nothing_is_written_into_pretrained(tmp_path, monkeypatch, embedder):
    """A published run evaluated on its own domain with other users, and on another domain: its
    folder stays byte-identical; the profiles go to the embed cache."""
    from bluekit import pipeline
    from bluekit.train import pretrained
    from bluekit.transfer import target_config, transfer_cell

    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path / "pretrained")
    run = fake_tiny_run(tmp_path / "pretrained" / "tiny-long", tmp_path / "cache")
    before = file_hashes(run)
    ws = pipeline.workspace(target_config(run, "Clothing", {"eval.test_users": 6}), embedder)
    own = pipeline.test_profiles(ws, run, show_progress=False)  # its own domain, new users
    transfer_cell(run, "Books", embedder, overrides={"eval.test_users": 6})
    assert file_hashes(run) == before
    assert len(own) == 6 and pipeline.cached_test_profiles(ws, run) == own
    assert len(list((tmp_path / "cache" / "profiles").glob("run-tiny-long-*.json"))) == 2


def test_source_training_users_are_left_out_unless_asked(tmp_path, embedder):
    from bluekit.transfer import source_users, target_config, transfer_cell

    run = fake_tiny_run(tmp_path / "run", tmp_path / "cache")
    real = target_config(run, "google_local:New_York").data  # a real state from an Amazon-like run
    assert (real.source, real.domain) == ("google_local", "New_York")
    seen = source_users(run)
    over = {"eval.users": "all", "eval.test_users": 10}  # the first 10 users of Sports, trainers too
    strict = transfer_cell(run, "Sports", embedder, overrides=over)
    loose = transfer_cell(run, "Sports", embedder, overrides=over, include_source_train_users=True)
    strict_users = set(strict.results[-1].per_user.user_id)
    assert strict.n_dropped > 0 and not strict_users & seen
    assert strict.n_dropped + len(strict_users) == 10 == len(loose.results[-1].per_user)
    assert loose.n_dropped == 0 and set(loose.results[-1].per_user.user_id) & seen


def test_eval_users_all_or_held_out(ws):
    from bluekit import pipeline
    from bluekit.config import ConfigError, load_config

    every = pipeline.evaluation_users(ws.prepared, load_config("smoke", {"eval.users": "all",
                                                                        "eval.test_users": None}), [])
    assert every == sorted(ws.prepared.splits.test.user_id.astype(str).unique())
    assert set(ws.test_users) < set(every) and set(ws.train_users) & set(every)
    assert pipeline.evaluation_users(ws.prepared, ws.cfg, ws.test_users) == ws.test_users  # the default
    with pytest.raises(ConfigError, match="eval.users"):
        load_config("smoke", {"eval.users": "everyone"})


def test_history_masking_removes_history_items_from_the_ranking(ws):
    """Off by default; on, the last-item baseline (whose query is a history item) can only rank
    its target higher, and does for some users; the target itself is never masked."""
    from bluekit import pipeline
    from bluekit.config import load_config

    assert load_config("smoke").eval.exclude_history is False
    masked_cfg = dataclasses.replace(ws.cfg, eval=dataclasses.replace(ws.cfg.eval, exclude_history=True))
    plain = pipeline.baseline_results(ws, with_ceiling=False)
    masked = pipeline.baseline_results(dataclasses.replace(ws, cfg=masked_cfg), with_ceiling=False)
    for a, b in zip(plain, masked):
        assert a.name == b.name and (b.per_user["rank"] <= a.per_user["rank"]).all(), a.name
    last_plain, last_masked = (next(r for r in rs if r.name == "last item") for rs in (plain, masked))
    assert (last_masked.per_user["rank"] < last_plain.per_user["rank"]).any()


def test_a_run_with_a_tuned_embedder_fills_the_tuned_columns(tmp_path, embedder):
    """The tuned hook: a run folder holding embedder/ (what embed.trainable saves) is also
    evaluated under it, on the same users as under the frozen one."""
    import copy

    from bluekit.embedder_training import save_embedder
    from bluekit.transfer import filled, transfer

    run = fake_tiny_run(tmp_path / "run", tmp_path / "cache")
    tuned = copy.copy(embedder)
    tuned.name = f"{embedder.base_name}+tuned-test"  # same weights, its own item-vector cache
    save_embedder(tuned, run, {"rounds": 1})
    long, wide, cells = transfer([run], ["Sports"], overrides={"eval.test_users": 8})
    assert [c.embedder for c in cells] == ["frozen", "tuned"]
    assert filled(wide, "frozen") and filled(wide, "tuned")
    assert cells[0].tests["mrr"]["n"] == cells[1].tests["mrr"]["n"] == 8
    assert set(long.embedder) == {"frozen", "tuned"}
