"""The trainable embedder: a round moves the weights and retrieves its pairs better; GRPO runs
with rounds, the rewards read the tuned vectors, and the run folder keeps the tuned embedder."""
import numpy as np
import pytest
import torch

from bluekit.config import load_config
from bluekit.embed import Embedder
from bluekit.config import EmbedConfig
from bluekit.embedder_training import (EMBEDDER_DIR, ROUND_FILE, add_lora, frozen_vs_tuned,
                                       load_tuned_embedder, loss_for, pair_retrieval_mrr,
                                       run_item_vectors, save_embedder, tune_embedder)

PROFILES = ["Buys gear for rainy mountain hikes", "Bakes bread every weekend", "Plays jazz in a band",
            "Trains for marathons", "Knits scarves and hats", "Shoots photos on old cameras",
            "Grows tomatoes on the balcony", "Builds plastic model airplanes"]
ITEMS = ["Gore-Tex trail boots", "Proofing basket and lame", "Hollow-body electric guitar",
         "Carbon-plated racing shoes", "Merino wool yarn bundle", "35mm rangefinder film camera",
         "Self-watering planter pots", "1:72 scale Spitfire kit"]
SHIFTED = ITEMS[3:] + ITEMS[:3]  # arbitrary pairs: the frozen model cannot already know them


def test_a_round_changes_the_weights_and_retrieves_its_pairs_better():
    embedder = Embedder(show_progress=False)  # its own copy: the weights change
    before_weights = {k: v.clone() for k, v in embedder.model.state_dict().items()}
    before = pair_retrieval_mrr(embedder, PROFILES, SHIFTED)
    stats = tune_embedder(embedder, PROFILES, SHIFTED, lr=1e-4, epochs=4, batch_size=4, seed=0)
    after = pair_retrieval_mrr(embedder, PROFILES, SHIFTED)
    changed = [k for k, v in embedder.model.state_dict().items()
               if not torch.equal(v, before_weights[k])]
    assert len(changed) > 10
    assert after > before + 0.2, (before, after)
    assert stats["pairs"] == 8 and stats["steps"] == 8  # 2 batches of 4 x 4 epochs
    assert embedder.name == f"all-MiniLM-L6-v2+tuned-{stats['version']}"  # a cache key per version
    with pytest.raises(ValueError, match="1 profiles but 2 item texts"):
        tune_embedder(embedder, ["a"], ["b", "c"])


def test_a_lora_round_trains_a_small_adapter_that_loads_back(tmp_path):
    embedder = Embedder(show_progress=False)
    add_lora(embedder, 8)
    params = dict(embedder.model.named_parameters())
    trainable = [k for k, v in params.items() if v.requires_grad]
    assert trainable and all("lora_" in k for k in trainable)  # the base weights stay frozen
    before = pair_retrieval_mrr(embedder, PROFILES, SHIFTED)
    tune_embedder(embedder, PROFILES, SHIFTED, lr=1e-3, epochs=4, batch_size=4, seed=0)
    assert pair_retrieval_mrr(embedder, PROFILES, SHIFTED) > before + 0.2

    folder = save_embedder(embedder, tmp_path, {"step": 0})
    saved = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert saved < 5_000_000 and not list(folder.rglob("model.safetensors"))  # the adapter only
    assert "site-packages" not in (folder / "lora" / "adapter_config.json").read_text()  # no local path
    merged = load_tuned_embedder(tmp_path, EmbedConfig())
    assert merged.name == embedder.name and not any("lora_" in k for k in merged.model.state_dict())
    np.testing.assert_allclose(merged.encode_queries(PROFILES), embedder.encode_queries(PROFILES), atol=1e-5)
    to_train = load_tuned_embedder(tmp_path, EmbedConfig(), merge=False)  # a resumed run trains on
    assert any(v.requires_grad and "lora_" in k for k, v in to_train.model.named_parameters())


def test_the_symmetric_option_is_the_librarys_two_direction_loss(embedder):
    assert loss_for(embedder.model).directions == ("query_to_doc",)
    symmetric = loss_for(embedder.model, symmetric=True, scale=10.0)
    assert symmetric.directions == ("query_to_doc", "doc_to_query") and symmetric.scale == 10.0


def test_grpo_with_embedder_rounds(tmp_path, ws, capsys):
    from bluekit.train import prepare_training, run_training, make_trainer, load_metrics

    cfg = load_config("smoke", {"train.output_dir": str(tmp_path / "run"), "embed.trainable": True,
                                "embed.round_steps": 2, "embed.contrastive_lr": 1e-4,
                                "train.grpo.max_steps": 4, "train.snapshot_every": 100})
    frozen_first = ws.embedder.encode_queries(["x"]).copy()
    setup = prepare_training(cfg, ws.prepared, ws.embedder, ws.item_vecs, progress=False)
    run_training(make_trainer(setup), setup, resume=False)

    rounds = load_metrics(setup.output_dir).dropna(subset=["embed/loss"])
    assert rounds["step"].tolist() == [0, 2]  # before step 0 (LangPTune's order), then every 2 steps
    assert (rounds["embed/pairs"] == len(setup.train_users)).all()  # every training user's profile
    np.testing.assert_array_equal(ws.embedder.encode_queries(["x"]), frozen_first)  # stays frozen
    tuned = load_tuned_embedder(setup.output_dir, cfg.embed)
    assert (setup.output_dir / EMBEDDER_DIR / ROUND_FILE).exists() and tuned.name == setup.ctx.embedder.name
    # the rewards read the tuned catalogue, the one evaluation reads
    np.testing.assert_allclose(setup.ctx.item_vecs,
                               run_item_vectors(tuned, ws.prepared.items, setup.output_dir), atol=1e-5)
    assert not np.allclose(setup.ctx.item_vecs, ws.item_vecs, atol=1e-3)

    results, tests = frozen_vs_tuned(ws, setup.output_dir)
    assert len(results) == 6 and set(tests["texts"]) == {"trained profiler", "untrained profiler",
                                                         "raw history text"}
    assert (tests["n"] == len(ws.test_examples)).all()  # the same users under both embedders
    frozen = next(r for r in results if r.name == "trained profiler | frozen embedder")
    tuned_result = next(r for r in results if r.name == "trained profiler | tuned embedder")
    assert frozen.per_user["rank"].tolist() != tuned_result.per_user["rank"].tolist()

    from bluekit import cli
    cli.main(["frozen-vs-tuned", str(setup.output_dir)])
    assert "frozen embedder" in capsys.readouterr().out
    assert (setup.output_dir / "frozen-vs-tuned-tests.csv").exists()
