"""Unsloth's GRPOConfig rebuilt on a CPU from its source, to check without a GPU that the kit's
GRPO settings come out the same under plain TRL and under Unsloth.

`import unsloth` makes UnslothGRPOConfig at run time from the installed trl.GRPOConfig
(unsloth 2026.10.9, unsloth/models/rl.py, _patch_trl_rl_trainers) and puts it in TRL's place:
it rewrites the defaults of __init__ (`replacements`), adds a few fields, runs some lines
before TRL's __init__ (loss_type/beta, DAPO, batch size) and one after it (reentrant
checkpointing). `unsloth_config_class()` does the same to the installed trl.GRPOConfig. Used by
the tests and by the smoke run's dry run (backend "unsloth-sim"); never for training on a GPU,
where the real class is used and its settings are saved and compared the same way.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any

UNSLOTH_VERSION = "2026.10.9"
# rl.py `replacements` (every RL trainer; warmup_steps since transformers 5, warmup_ratio before)
DEFAULT_REPLACEMENTS: dict[str, Any] = {
    "output_dir": None, "logging_nan_inf_filter": False, "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 2, "weight_decay": 0.001, "seed": 3407, "optim": "adamw_8bit",
    "learning_rate": 5e-05, "per_device_eval_batch_size": 4, "eval_accumulation_steps": 2,
    "torch_empty_cache_steps": 250, "logging_steps": 1, "max_seq_length": None,
    "num_generations": 8, "vllm_mode": "colocate", "generation_kwargs": {}, "bf16": False,
    "fp16": False, "report_to": "none", "include_tokens_per_second": False,
    "include_num_input_tokens_seen": False, "auto_find_batch_size": False,
    "dataloader_pin_memory": True, "padding_free": None, "warmup_steps": 0.1,
}
# rl.py, the grpo_trainer `replacements` (None = unset, resolved before TRL's __init__)
GRPO_REPLACEMENTS: dict[str, Any] = {
    "loss_type": None, "beta": None, "auto_find_batch_size": False,
    "vllm_importance_sampling_correction": False, "router_aux_loss_coef": 0.0,
    "mask_truncated_completions": None,
}
# Fields UnslothGRPOConfig adds to TRL's (rl.py: the class template; context parallelism for
# dpo/grpo), with their defaults
ADDED_FIELDS: dict[str, Any] = {
    "vllm_sampling_params": None, "unsloth_num_chunks": -1, "unsloth_logit_chunk_multiplier": None,
    "unsloth_grpo_mini_batch": None, "context_parallel_size": 1, "context_parallel_backend": "ulysses",
}


def _before_init(kw: dict[str, Any]) -> None:
    """The lines UnslothGRPOConfig.__init__ runs before TRL's (rl.py `extra_args` and
    rl_replacements.py RL_CONFIG_CHANGES['grpo_trainer']), on the keywords in place."""
    if kw.get("output_dir") is None and kw.get("save_strategy", "steps") == "steps" \
            and kw.get("save_steps", 500) == 500:
        kw["output_dir"], kw["save_strategy"] = "unsloth_training_checkpoints", "no"
    default_loss = kw.get("loss_type") is None
    if default_loss:
        kw["loss_type"] = "dapo"
    if kw.get("beta") is None:
        kw["beta"] = 0.0 if str(kw["loss_type"]).lower() in ("dapo", "dr_grpo") else 0.001
    loss = str(kw["loss_type"]).lower()
    if loss == "dr_grpo":
        if kw.get("scale_rewards") is None:
            kw["scale_rewards"] = True
        elif kw.get("scale_rewards") in (True, "group"):
            kw["scale_rewards"] = False
    elif loss == "dapo" and not default_loss:
        if kw.get("mask_truncated_completions") is None:
            kw["mask_truncated_completions"] = True
        if kw.get("epsilon_high") is None:
            kw["epsilon_high"] = 0.28
    elif loss == "cispo" and kw.get("epsilon_high") is None:
        kw["epsilon_high"] = 5.0
    if kw.get("mask_truncated_completions") is None:
        kw["mask_truncated_completions"] = False
    if kw.get("steps_per_generation") is None and kw.get("generation_batch_size") is None:
        batch = kw["per_device_train_batch_size"] * kw["gradient_accumulation_steps"]
        if batch % kw["num_generations"]:
            kw["per_device_train_batch_size"] = kw["num_generations"]
    if kw.get("use_vllm") and not kw.get("top_k"):
        kw["top_k"] = -1


def unsloth_config_class(base=None):
    """A GRPOConfig subclass that builds what Unsloth's would for the same keywords."""
    if base is None:
        from trl import GRPOConfig as base
    own = {f.name for f in dataclasses.fields(base) if f.init}

    @dataclasses.dataclass(init=False)
    class UnslothGRPOConfig(base):
        vllm_sampling_params: Any = None
        unsloth_num_chunks: Any = -1
        unsloth_logit_chunk_multiplier: Any = None
        unsloth_grpo_mini_batch: Any = None
        context_parallel_size: Any = 1
        context_parallel_backend: Any = "ulysses"

        def __init__(self, **kwargs):
            added = {k: kwargs.pop(k, v) for k, v in ADDED_FIELDS.items()}
            kw = {k: copy.deepcopy(v) for k, v in {**DEFAULT_REPLACEMENTS, **GRPO_REPLACEMENTS}.items()
                  if k in own}
            kw.update(kwargs)
            _before_init(kw)
            base.__init__(self, **{k: v for k, v in kw.items() if k in own})
            for key, value in added.items():
                setattr(self, key, value)
            if getattr(self, "gradient_checkpointing", False):  # rl.py RLConfig_post
                gc_kwargs = getattr(self, "gradient_checkpointing_kwargs", None) or {}
                if gc_kwargs.get("context_fn") is None and not gc_kwargs.get("debug", False):
                    gc_kwargs["use_reentrant"] = True
                    self.gradient_checkpointing_kwargs = gc_kwargs

    UnslothGRPOConfig.__name__ = UnslothGRPOConfig.__qualname__ = "UnslothGRPOConfig"
    return UnslothGRPOConfig
