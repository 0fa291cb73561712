"""GRPO training: the config TRL gets, the training rows, logs, snapshots, resume, and learning.

A tiny hand-made world keeps it fast: 4 tastes (shoes, coffee, books, music) x 6 items, each user
buys within one taste. The profiler is the tiny random model (bluekit.llm.build_tiny_model).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from bluekit.config import ConfigError, DataConfig, load_config
from bluekit.data import prep
from bluekit.data.schema import Domain
from bluekit.rewards import HashingEmbedder
from bluekit.data import train_test_users
from bluekit.train import (build_grpo_config, build_panel, build_train_dataset, choose_backend,
                           grpo_kwargs, load_trained_profiler, train_profiler)
from bluekit.train.dataset import COLUMNS
from bluekit.train.grpo_config import accepted_keywords
from bluekit.train.records import read_jsonl

TASTES = {
    "shoes": ["comfortable running shoes", "soft leather shoes", "light hiking shoes",
              "classic black shoes", "warm winter shoes", "casual summer shoes"],
    "coffee": ["dark coffee beans", "coffee mug", "premium coffee", "cheap coffee",
               "coffee and tea", "classic coffee"],
    "books": ["mystery novel books", "fantasy story books", "cooking books", "kids books",
              "travel books", "classic books"],
    "music": ["music speaker", "music headphones", "vintage music", "music for kids",
              "modern music", "music cable"],
}
# A short prompt keeps the tiny model's steps fast (the default template is ~300 tokens).
SHORT_TEMPLATE = 'system: Profile the user.\ninstruction: "{history}"\nitem_line: "- {title}"\n'


def tiny_world(n_users: int = 40, per_user: int = 6, seed: int = 0):
    """Prepared data where user u buys `per_user` items of taste u % 4, one a second."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame([
        {"item_id": f"{taste}{j}", "title": title, "category": taste, "description": "",
         "features": [], "categories": [taste], "store": "", "price": float("nan"), "address": ""}
        for taste, titles in TASTES.items() for j, title in enumerate(titles)])
    tastes = list(TASTES)
    rows = []
    for u in range(n_users):
        taste = tastes[u % len(tastes)]
        for t, j in enumerate(rng.choice(len(TASTES[taste]), per_user, replace=False)):
            rows.append({"user_id": f"u{u:03d}", "item_id": f"{taste}{j}", "rating": 5.0,
                         "timestamp": 1_600_000_000_000 + 1000 * t, "review_title": "",
                         "review_text": f"love it, great {taste}"})
    return prep.prepare(Domain("tiny", pd.DataFrame(rows), items),
                        DataConfig(k_core=2, max_history=10))


@pytest.fixture(scope="module")
def world():
    return tiny_world()


@pytest.fixture(scope="module")
def hashing():
    return HashingEmbedder(64)


def tiny_cfg(tmp_path, **overrides):
    """The smoke preset pointed at tmp_path, on the tiny world's scale."""
    template = tmp_path / "short.yaml"
    template.write_text(SHORT_TEMPLATE)
    settings = {
        "train.output_dir": str(tmp_path / "run"), "train.train_users": None,
        "train.grpo.max_steps": 4, "train.grpo.save_steps": 1000, "train.snapshot_every": 2,
        "train.panel_users": 2, "train.grpo.max_completion_length": 8,
        "train.rewards": [{"name": "cosine", "weight": 1.0},
                          {"name": "length_format", "weight": 0.1}],
        "profiler.template": str(template), "profiler.max_history_items": 5,
        "eval.test_users": None,
    }
    settings.update(overrides)
    return load_config("smoke", settings)


def run(cfg, world, embedder, **kwargs):
    vecs = embedder.encode_documents(world.items["text"].tolist())
    return train_profiler(cfg, prepared=world, embedder=embedder, item_vecs=vecs,
                          progress=False, **kwargs)


# --------------------------------------------------------------------------- GRPOConfig

def test_every_keyword_the_kit_passes_is_accepted_by_installed_trl(tmp_path):
    accepted = accepted_keywords()
    for name in ("gpu-paper", "smoke", "cpu-demo", "cpu-long"):
        train_cfg = load_config(name, {"train.grpo.use_vllm": True}).train
        for use_cpu in (True, False):
            unknown = set(grpo_kwargs(train_cfg, str(tmp_path), use_cpu=use_cpu)) - accepted
            assert not unknown, f"the installed GRPOConfig rejects {sorted(unknown)}"


def test_build_grpo_config_sets_the_cpu_recipe(tmp_path):
    cfg = load_config("smoke")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be dropped on the pinned TRL
        args = build_grpo_config(cfg.train, str(tmp_path), use_cpu=True)
    assert args.use_cpu and not args.bf16 and not args.gradient_checkpointing
    assert args.num_generations == 4 and args.per_device_train_batch_size == 8
    assert args.max_completion_length == 16 and args.max_steps == 4
    assert args.reward_weights == [r.weight for r in cfg.train.rewards]
    assert args.save_strategy == "steps" and args.save_total_limit == 2
    assert args.remove_unused_columns is False and args.dataloader_num_workers == 0
    assert args.seed == args.data_seed == cfg.train.seed and args.output_dir == str(tmp_path)
    assert build_grpo_config(cfg.train, str(tmp_path), use_cpu=True, max_steps=7).max_steps == 7
    # GPU side (kwargs only: building them needs a GPU): checkpointing on, the preset's bf16 kept
    gpu = grpo_kwargs(load_config("gpu-paper").train, str(tmp_path), use_cpu=False)
    checkpointing = gpu.get("activation_checkpointing", gpu.get("gradient_checkpointing"))
    assert checkpointing and gpu["bf16"] and not gpu["use_cpu"]


def test_any_trl_option_passes_through_and_reaches_grpoconfig(tmp_path):
    cfg = load_config("smoke", {"train.grpo.num_iterations": 2, "train.grpo.epsilon": "0.3",
                                "train.grpo.mask_truncated_completions": True,
                                "train.grpo.gradient_checkpointing": True})
    args = build_grpo_config(cfg.train, str(tmp_path), use_cpu=True)
    assert args.num_iterations == 2 and args.epsilon == 0.3  # a string number is coerced
    assert args.mask_truncated_completions  # and the user's checkpointing beats the kit's CPU default
    assert getattr(args, "activation_checkpointing", None) or args.gradient_checkpointing
    path = tmp_path / "run.yaml"
    path.write_text("base: smoke\ntrain:\n  grpo:\n    learning_rate: 5e-4\n")
    args = build_grpo_config(load_config(path).train, str(tmp_path), use_cpu=True)
    assert args.learning_rate == 5e-4 and args.max_steps == 4  # 5e-4 is a float; preset kept


def test_grpo_and_lora_typos_are_named_before_any_model_loads(tmp_path):
    from bluekit.train import validate_train_config
    with pytest.raises(ConfigError, match=r"train\.grpo\.max_stepz.*(similar: .*max_steps)"):
        validate_train_config(load_config("smoke", {"train.grpo.max_stepz": 3}).train)
    with pytest.raises(ConfigError, match=r"train\.lora\.rank"):
        validate_train_config(load_config("cpu-demo", {"train.lora.rank": 3}).train)
    with pytest.raises(ConfigError, match=r"train\.grpo\.seed: set train\.seed"):
        load_config("smoke", {"train.grpo.seed": 3})
    with pytest.raises(ConfigError, match=r"train\.grpo\.report_to.*tensorboard"):
        if importlib.util.find_spec("tensorboard") is not None:
            pytest.skip("tensorboard is installed here")
        validate_train_config(load_config("gpu-paper").train)


def test_kit_defaults_an_older_trl_lacks_are_dropped_with_a_warning(tmp_path):
    from trl import GRPOConfig

    @dataclasses.dataclass
    class OlderGRPOConfig(GRPOConfig):  # stands in for an older TRL without one field
        pass

    fields = accepted_keywords(OlderGRPOConfig) - {"log_completions"}
    from unittest import mock
    with mock.patch("bluekit.train.grpo_config.accepted_keywords", return_value=fields):
        with pytest.warns(UserWarning, match="log_completions"):
            args = build_grpo_config(load_config("smoke").train, str(tmp_path), use_cpu=True,
                                     config_cls=OlderGRPOConfig)
        assert isinstance(args, OlderGRPOConfig)
        with pytest.raises(ConfigError, match="train.grpo.log_completions"):  # the user's own key
            build_grpo_config(load_config("smoke", {"train.grpo.log_completions": True}).train,
                              str(tmp_path), use_cpu=True, config_cls=OlderGRPOConfig)


def test_bad_configs_fail_before_any_model_loads(tmp_path, monkeypatch, world, hashing):
    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the config was checked")
    monkeypatch.setattr("bluekit.train.run.load_policy", no_model)
    monkeypatch.setattr("bluekit.llm.load_causal_lm", no_model)

    cfg = tiny_cfg(tmp_path, **{"train.grpo.per_device_train_batch_size": 6})
    with pytest.raises(ConfigError, match=r"per_device_train_batch_size \(6\).*num_generations \(4\)"):
        train_profiler(cfg)  # not even the data is loaded
    cfg = tiny_cfg(tmp_path, **{"train.rewards": [{"name": "cosine"}, {"name": "infonse"}]})
    with pytest.raises(ConfigError, match=r"train\.rewards\[1\]\.name.*'infonse'"):
        train_profiler(cfg)
    cfg = tiny_cfg(tmp_path, **{"train.grpo.num_generations": 1, "train.grpo.per_device_train_batch_size": 1})
    with pytest.raises(ConfigError, match="num_generations must be at least 2"):
        build_grpo_config(cfg.train, str(tmp_path))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallback")
def test_auto_backend_is_plain_trl_without_a_gpu():
    cfg = load_config("smoke")
    assert choose_backend(cfg.train) == "trl"
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        choose_backend(dataclasses.replace(cfg.train, backend="unsloth"))


# --------------------------------------------------------------------------- training rows

def test_training_rows_use_valid_examples_and_never_the_test_item(tmp_path, world):
    cfg = tiny_cfg(tmp_path)
    train_users, test_users = train_test_users(world, cfg)
    assert not set(train_users) & set(test_users)
    assert len(test_users) == round(0.3 * 40)
    ds = build_train_dataset(world, train_users, cfg)
    assert set(ds.column_names) == set(COLUMNS)
    assert ds["user_id"] == train_users
    titles = dict(zip(world.items.item_id, world.items.title))
    test_items = dict(zip(world.splits.test.user_id, world.splits.test.item_id))
    for row in ds:
        events = world.interactions[world.interactions.user_id == row["user_id"]]
        ordered = events.sort_values("timestamp").item_id.tolist()
        assert row["positive"] == ordered[-2]  # second-to-last item: the valid target
        assert row["history"] == ordered[:-2]
        assert row["positive"] != test_items[row["user_id"]]
        prompt = row["prompt"][-1]["content"]
        assert titles[row["positive"]] not in prompt and titles[row["history"][-1]] in prompt
        # the positive's metadata rides along, for rewards that read it (docs/REWARDS.md)
        item = world.items.set_index("item_id").loc[row["positive"]]
        assert row["positive_title"] == item.title
        assert row["positive_categories"] == list(item.categories)
        assert row["positive_category"] == item.category and np.isnan(row["positive_price"])
        assert np.isnan(row["positive_average_rating"])  # this tiny world's items have none
    panel = build_panel(world, test_users[:2], cfg)
    assert [r["positive"] for r in panel] == [test_items[u] for u in test_users[:2]]
    assert panel[0]["positive_title"] == titles[panel[0]["positive"]]


# --------------------------------------------------------------------------- a short run

def test_short_run_trains_logs_and_snapshots(tmp_path, world, hashing):
    from bluekit.llm import build_tiny_model

    result = run(tiny_cfg(tmp_path), world, hashing, resume=False)
    out = result.output_dir
    assert result.global_step == 4 and len(result.train_users) == 28

    trained, _ = load_trained_profiler(out)
    initial, _ = build_tiny_model(seed=0)
    changed = [n for n, p in trained.named_parameters()
               if not torch.equal(p, dict(initial.named_parameters())[n])]
    assert changed, "full fine-tuning left every weight unchanged"

    logs = [r for r in read_jsonl(out / "metrics.jsonl") if "reward" in r]
    assert [r["step"] for r in logs] == [1, 2, 3, 4]
    assert all("rewards/cosine/mean" in r and "rewards/length_format/mean" in r for r in logs)
    assert all(0.0 <= r["completions/distinct_2"] <= 1.0 for r in logs)
    panel_logs = [r for r in read_jsonl(out / "metrics.jsonl") if "panel/distinct_2" in r]
    assert [r["step"] for r in panel_logs] == [0, 2, 4]

    snaps = pd.DataFrame(read_jsonl(out / "snapshots.jsonl"))
    assert snaps.groupby("step").user_id.apply(list).to_dict() == {
        s: result.test_users[:2] for s in (0, 2, 4)}
    first = snaps.iloc[0]
    assert len(first.embedding) == 64 and set(first.rewards) == {"cosine", "length_format", "total"}
    assert first.positive == world.splits.test.set_index("user_id").item_id[first.user_id]
    # the snapshot embedding is the embedder's vector of the snapshot text
    np.testing.assert_allclose(first.embedding, hashing.encode_queries([first.text])[0], atol=1e-5)

    info = json.loads((out / "run.json").read_text())
    assert info["global_step"] == 4 and info["seed"] == 0 and info["versions"]["trl"]
    assert set(info["reward_time_s"]) == {"cosine", "length_format"}
    assert (out / "config.yaml").exists()


def test_resume_continues_from_the_checkpoint_step(tmp_path, world, hashing):
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                control.should_training_stop = True

    class FirstStep(TrainerCallback):
        seen: list = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.seen.append(state.global_step)

    lora = {"train.full_finetune": False, "train.lora.r": 4, "train.lora.lora_alpha": 8,
            "train.lora.target_modules": ["q_proj", "v_proj"], "train.grpo.max_steps": 5,
            "train.grpo.save_steps": 3, "train.snapshot_every": 100}
    cfg = tiny_cfg(tmp_path, **lora)
    stopped = run(cfg, world, hashing, resume=False, extra_callbacks=[StopAt()])
    assert stopped.global_step == 3 and (stopped.output_dir / "checkpoint-3").is_dir()

    spy = FirstStep()
    resumed = run(cfg, world, hashing, resume=True, extra_callbacks=[spy])
    assert spy.seen[0] == 3 and resumed.global_step == 5  # steps 4 and 5 only, not from 0
    info = json.loads((resumed.output_dir / "run.json").read_text())
    assert info["resumed_from"].endswith("checkpoint-3")
    records = read_jsonl(resumed.output_dir / "metrics.jsonl")
    logged = [r["step"] for r in records if "reward" in r]
    assert logged == [1, 2, 3, 4, 5]  # one log line per step across both runs
    # the total counts the first process's time, read from its log lines
    first_process = max(r["elapsed_s"] for r in records if "elapsed_s" in r and r["step"] <= 3)
    assert info["total_wall_time_s"] == pytest.approx(first_process + info["wall_time_s"], abs=2e-3)
    snap_steps = sorted({r["step"] for r in read_jsonl(resumed.output_dir / "snapshots.jsonl")})
    assert snap_steps == [0, 3, 5]
    assert sorted(p.name for p in resumed.output_dir.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-5"]

    # the LoRA adapter moved the merged weights away from the base model
    from bluekit.llm import build_tiny_model
    trained, _ = load_trained_profiler(resumed.output_dir)
    base, _ = build_tiny_model(seed=0)
    q_trained = trained.model.layers[0].self_attn.q_proj.weight
    assert not torch.allclose(q_trained, base.model.layers[0].self_attn.q_proj.weight)
    assert torch.equal(trained.model.layers[0].mlp.up_proj.weight,
                       base.model.layers[0].mlp.up_proj.weight)  # not a LoRA target

    # starting over (resume=False) clears the old run's checkpoints and logs
    fresh = run(tiny_cfg(tmp_path, **{**lora, "train.grpo.max_steps": 1}), world, hashing, resume=False)
    assert [p.name for p in fresh.output_dir.glob("checkpoint-*")] == ["checkpoint-1"]
    assert [r["step"] for r in read_jsonl(fresh.output_dir / "metrics.jsonl") if "reward" in r] == [1]


# --------------------------------------------------------------------------- learning

def test_earlier_processes_time_is_read_from_the_log_even_after_a_kill():
    """elapsed_s restarts in each process: the processes before the last count with their last
    kept line (a killed one wrote no run.json); lines without elapsed_s are ignored."""
    from bluekit.train.records import earlier_wall_time

    killed_then_resumed = [{"step": 1, "elapsed_s": 10.0}, {"step": 2, "elapsed_s": 21.0},
                           {"step": 2, "panel/total": 0.3}, {"step": 3, "elapsed_s": 9.0},
                           {"step": 4, "elapsed_s": 18.0}, {"step": 5, "elapsed_s": 4.0}]
    assert earlier_wall_time(killed_then_resumed) == 21.0 + 18.0
    assert earlier_wall_time(killed_then_resumed[:2]) == 0.0  # one process: nothing earlier
    assert earlier_wall_time([]) == 0.0


def test_grpo_raises_the_embedding_reward(tmp_path, world, embedder):
    """From random weights, 150 seeded GRPO steps must lift the cosine reward far beyond noise.

    Measured on this seed: mean reward of steps 1-20 about 0.09, of steps 131-150 about 0.22,
    standard errors about 0.01 each.
    """
    cfg = tiny_cfg(tmp_path, **{"train.grpo.max_steps": 150, "train.grpo.learning_rate": 3e-3,
                                "train.grpo.max_completion_length": 16, "train.snapshot_every": 1000,
                                "train.rewards": [{"name": "cosine"}]})
    result = run(cfg, world, embedder, resume=False)
    rewards = result.metrics.dropna(subset=["reward"])["reward"].to_numpy()
    assert len(rewards) == 150
    first, last = rewards[:20], rewards[-20:]
    stderr = np.sqrt(first.var(ddof=1) / 20 + last.var(ddof=1) / 20)
    assert last.mean() - first.mean() > max(4 * stderr, 0.05), (first.mean(), last.mean(), stderr)
