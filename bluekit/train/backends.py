"""Load the policy (the profiler being trained): plain TRL + PEFT, or Unsloth on a GPU.

    policy = load_policy(cfg.profiler, cfg.train)
    policy.model, policy.tokenizer, policy.peft_config, policy.backend

backend "auto" picks Unsloth when CUDA is available AND the `unsloth` package is installed
(requirements-gpu.txt), else plain TRL + PEFT. `import unsloth` happens only inside
`_load_unsloth`: every module of the kit imports on a CPU-only machine.

Unsloth's keywords come from the config (unsloth_kwargs, testable without unsloth): the
profiler, dtype, train.full_finetune (Unsloth's full_finetuning), train.lora (get_peft_model),
train.seed, vLLM only with train.grpo.use_vllm, and `train.unsloth.from_pretrained` /
`train.unsloth.get_peft_model` laid over them (names checked against the installed Unsloth).

Caveat (Unsloth): Unsloth patches transformers and TRL when it is imported, and warns when they
were imported first; it also replaces the Llama/Gemma/Qwen forward for the whole process. Best
is to import it first thing in the process; on the GPU path run `python -m bluekit train ...`,
which reaches `load_policy` before anything imports trl. The quiz reward's default reader is
the policy itself with its adapter disabled (bluekit.llm.PolicyReader), so no second,
plain-transformers model meets Unsloth's patched classes; a separate reader model is loaded
through Unsloth in such a process (bluekit.llm.load_reader).
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

    from bluekit.hardware import resolve_bf16
    bf16 = resolve_bf16(train_cfg.grpo.get("bf16", False))  # "auto": measured on this machine
    model, tokenizer = load_profiler(profiler_cfg, "bfloat16" if bf16 else None)

    model.train()
    set_pad_token(model, tokenizer)
    peft_config = None if train_cfg.full_finetune else lora_config(train_cfg)
    return Policy(model, tokenizer, peft_config, "trl")


# Pad tokens distinct from eos, in the order Unsloth's loader tries them (unsloth_zoo/pad_token.py:
# POSSIBLE_RESERVED_TOKENS); SmolLM2's converted tokenizer pads with its eos, <|im_end|>.
PAD_CANDIDATES = ("<|finetune_right_pad_id|>", "<|finetune_right_pad|>", "<pad>", "[PAD]", "<PAD>",
                  "<|endoftext|>")


def set_pad_token(model, tokenizer) -> str:
    """Set the policy's pad token explicitly, the same way on both backends: the tokenizer's own
    when it differs from eos, else the first of PAD_CANDIDATES in the vocabulary (what Unsloth's
    loader picks on its own: <|endoftext|> for SmolLM2), else eos. Written to the tokenizer, the
    model config and the generation config; returns the token."""
    vocab = tokenizer.get_vocab()
    eos = tokenizer.eos_token
    pad = tokenizer.pad_token
    if pad is None or pad == eos:
        pad = next((t for t in PAD_CANDIDATES if t in vocab and t != eos), eos)
    tokenizer.pad_token = pad
    pad_id = tokenizer.convert_tokens_to_ids(pad)
    model.config.pad_token_id = pad_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = pad_id
    return pad


# Keywords of the pinned Unsloth (2026.10.9) that the kit itself sets; train.unsloth adds any other.
UNSLOTH_PINNED = "2026.10.9"


def unsloth_kwargs(profiler_cfg: ProfilerConfig, train_cfg: TrainConfig
                   ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The keywords for FastLanguageModel.from_pretrained and .get_peft_model (None with
    train.full_finetune), built from the config without importing unsloth.

    Derived: the model (the offline SmolLM2 folder for "smollm2-135m"), max_seq_length (prompt
    budget + 256 template tokens + completion length), dtype (bf16/fp16 as train.grpo trains,
    else profiler.dtype; None = Unsloth picks), load_in_4bit False (16-bit LoRA: a 1B profiler
    fits one GPU), full_finetuning = train.full_finetune, fast_inference = train.grpo.use_vllm,
    max_lora_rank = train.lora.r, random_state = train.seed; vLLM's gpu_memory_utilization only
    when train.grpo.vllm_gpu_memory_utilization is set (Unsloth's default, 0.5, otherwise).
    get_peft_model gets train.lora (LoraConfig's names, which Unsloth forwards to LoraConfig;
    task_type left out: Unsloth sets it) plus use_gradient_checkpointing "unsloth".
    train.unsloth.from_pretrained / .get_peft_model are laid over both and win.
    """
    from bluekit.llm import SMOLLM2_SPEC, TINY_SPEC, smollm2_checkpoint

    if profiler_cfg.model == TINY_SPEC:
        raise RuntimeError("the tiny test model is built in memory; use backend 'trl' for it")
    grpo, lora, extra = train_cfg.grpo, train_cfg.lora, train_cfg.unsloth
    model_name = (str(smollm2_checkpoint(profiler_cfg.cache_dir))
                  if profiler_cfg.model == SMOLLM2_SPEC else profiler_cfg.model)
    from bluekit.hardware import resolve_bf16, resolve_dtype
    if resolve_bf16(grpo.get("bf16", False)):
        dtype = "bfloat16"
    elif grpo.get("fp16"):
        dtype = "float16"
    else:
        dtype = resolve_dtype(profiler_cfg.dtype)
        dtype = None if dtype == "float32" else dtype
    use_vllm = bool(grpo.get("use_vllm"))
    load = dict(model_name=model_name,
                max_seq_length=profiler_cfg.prompt_token_budget + 256 + int(grpo["max_completion_length"]),
                dtype=dtype, load_in_4bit=False, full_finetuning=bool(train_cfg.full_finetune),
                fast_inference=use_vllm, max_lora_rank=int(lora["r"]), random_state=train_cfg.seed)
    if use_vllm and grpo.get("vllm_gpu_memory_utilization") is not None:
        load["gpu_memory_utilization"] = float(grpo["vllm_gpu_memory_utilization"])
    load.update(extra.get("from_pretrained", {}))
    if train_cfg.full_finetune:
        return load, None
    peft = {k: v for k, v in lora.items() if k != "task_type"}
    peft["target_modules"] = list(peft["target_modules"]) if not isinstance(
        peft["target_modules"], str) else peft["target_modules"]
    peft.update(r=int(lora["r"]), use_gradient_checkpointing="unsloth", random_state=train_cfg.seed)
    peft.update(extra.get("get_peft_model", {}))
    return load, peft


def check_keywords(function, kwargs: dict[str, Any], where: str, user_keys=()) -> None:
    """Raise ConfigError for a keyword the user wrote (train.unsloth.<where>.<key>) that the
    installed function does not name. Unsloth forwards unnamed keywords to transformers / peft,
    so only the user's own keys are checked (a typo would otherwise reach them silently)."""
    import inspect

    from bluekit.config import ConfigError

    named = set(inspect.signature(function).parameters) - {"args", "kwargs", "self"}
    unknown = sorted(k for k in user_keys if k not in named and k in kwargs)
    if unknown:
        raise ConfigError(f"unknown key 'train.unsloth.{where}.{unknown[0]}': the installed "
                          f"Unsloth's FastLanguageModel.{where} has no such parameter")


def _load_unsloth(profiler_cfg: ProfilerConfig, train_cfg: TrainConfig) -> Policy:
    """GPU path, not exercised by CI (no GPU there): Unsloth's FastLanguageModel + its LoRA.

    Follows Unsloth's GRPO notebooks: from_pretrained(...) then get_peft_model(...) with the
    keywords of :func:`unsloth_kwargs`. The returned model is already a PEFT model, so
    GRPOTrainer gets no peft_config. With train.full_finetune, Unsloth's full_finetuning=True
    and no adapter.
    """
    import unsloth  # noqa: F401 - must come before trl/transformers patches; see module docstring
    from unsloth import FastLanguageModel

    load, peft = unsloth_kwargs(profiler_cfg, train_cfg)
    extra = train_cfg.unsloth
    check_keywords(FastLanguageModel.from_pretrained, load, "from_pretrained",
                   extra.get("from_pretrained", {}))
    model, tokenizer = FastLanguageModel.from_pretrained(**load)
    if peft is not None:
        check_keywords(FastLanguageModel.get_peft_model, peft, "get_peft_model",
                       extra.get("get_peft_model", {}))
        model = FastLanguageModel.get_peft_model(model, **peft)
    tokenizer.padding_side = "left"
    set_pad_token(model, tokenizer)  # after Unsloth's own choice, so both backends pad alike
    return Policy(model, tokenizer, None, "unsloth")
