"""Load the policy (the profiler being trained): plain TRL + PEFT, or Unsloth on a GPU.

    policy = load_policy(cfg.profiler, cfg.train)
    policy.model, policy.tokenizer, policy.peft_config, policy.backend

backend "auto" picks Unsloth when CUDA is available AND the `unsloth` package is installed
(requirements-gpu.txt), else plain TRL + PEFT. `import unsloth` happens only inside
`_load_unsloth`: every module of the kit imports on a CPU-only machine.

Caveat (Unsloth): Unsloth patches transformers and TRL when it is imported, and warns when they
were imported first. Best is to import it first thing in the process; on the GPU path run
`python -m bluekit train ...`, which reaches `load_policy` before anything imports trl.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from bluekit.config import ProfilerConfig, TrainConfig
from bluekit.train.grpo_config import cuda_available


@dataclass
class Policy:
    model: Any
    tokenizer: Any
    peft_config: Any  # a peft.LoraConfig for GRPOTrainer(peft_config=...), or None
    backend: str  # "trl" or "unsloth"


def choose_backend(train_cfg: TrainConfig) -> str:
    """"trl" or "unsloth" for train.backend (auto | trl | unsloth)."""
    has_unsloth = importlib.util.find_spec("unsloth") is not None
    if train_cfg.backend == "auto":
        return "unsloth" if cuda_available() and has_unsloth else "trl"
    if train_cfg.backend == "unsloth":
        if not cuda_available():
            raise RuntimeError("train.backend is 'unsloth' but no CUDA GPU is visible; use "
                               "backend 'trl' (or 'auto') on a CPU")
        if not has_unsloth:
            raise RuntimeError("train.backend is 'unsloth' but the package is not installed: "
                               "pip install -r requirements-gpu.txt")
    return train_cfg.backend


def lora_config(train_cfg: TrainConfig):
    """peft.LoraConfig from train.lora (laid over the kit's defaults, checked by name)."""
    from peft import LoraConfig

    from bluekit.train.grpo_config import lora_settings
    return LoraConfig(**lora_settings(train_cfg))


def load_policy(profiler_cfg: ProfilerConfig, train_cfg: TrainConfig) -> Policy:
    """The model GRPO trains, its tokenizer, and the LoRA config (None when not needed)."""
    backend = choose_backend(train_cfg)
    if backend == "unsloth":
        return _load_unsloth(profiler_cfg, train_cfg)
    return _load_plain(profiler_cfg, train_cfg)


def _load_plain(profiler_cfg: ProfilerConfig, train_cfg: TrainConfig) -> Policy:
    """bluekit.llm.load_profiler + a LoRA config that GRPOTrainer applies (or all weights)."""
    from bluekit.llm import load_profiler

    model, tokenizer = load_profiler(profiler_cfg, "bfloat16" if train_cfg.grpo.get("bf16") else None)

    model.train()
    peft_config = None if train_cfg.full_finetune else lora_config(train_cfg)
    return Policy(model, tokenizer, peft_config, "trl")


def _load_unsloth(profiler_cfg: ProfilerConfig, train_cfg: TrainConfig) -> Policy:
    """GPU path, not exercised by CI (no GPU there): Unsloth's FastLanguageModel + its LoRA.

    Follows Unsloth's GRPO notebooks: from_pretrained(model_name, max_seq_length,
    load_in_4bit, fast_inference = vLLM generation, max_lora_rank) then get_peft_model(r,
    target_modules, lora_alpha, use_gradient_checkpointing="unsloth"). The returned model is
    already a PEFT model, so GRPOTrainer gets no peft_config. 16-bit LoRA (load_in_4bit=False):
    the paper's 1B profiler fits one GPU without quantisation.
    """
    import unsloth  # noqa: F401 - must come before trl/transformers patches; see module docstring
    from unsloth import FastLanguageModel

    from bluekit.llm import SMOLLM2_SPEC, TINY_SPEC, smollm2_checkpoint

    if profiler_cfg.model == TINY_SPEC:
        raise RuntimeError("the tiny test model is built in memory; use backend 'trl' for it")
    model_name = (str(smollm2_checkpoint(profiler_cfg.cache_dir))
                  if profiler_cfg.model == SMOLLM2_SPEC else profiler_cfg.model)
    grpo, lora = train_cfg.grpo, train_cfg.lora
    use_vllm = bool(grpo.get("use_vllm"))
    max_seq_length = profiler_cfg.prompt_token_budget + 256 + int(grpo["max_completion_length"])
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=model_name, max_seq_length=max_seq_length,
        load_in_4bit=False, fast_inference=use_vllm, max_lora_rank=int(lora["r"]),
        **({"gpu_memory_utilization": grpo.get("vllm_gpu_memory_utilization", 0.6)}
           if use_vllm else {}))
    if train_cfg.full_finetune:
        return Policy(model, tokenizer, None, "unsloth")
    model = FastLanguageModel.get_peft_model(
        model, r=int(lora["r"]), target_modules=list(lora["target_modules"]),
        lora_alpha=lora["lora_alpha"], lora_dropout=lora.get("lora_dropout", 0.0),
        bias=lora.get("bias", "none"), use_gradient_checkpointing="unsloth",
        random_state=train_cfg.seed)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Policy(model, tokenizer, None, "unsloth")
