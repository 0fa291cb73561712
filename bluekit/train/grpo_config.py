"""Build TRL's GRPOConfig in exactly one place, after checking the kit's train settings.

    args = build_grpo_config(cfg.train, "runs/demo/train")          # CPU or GPU picked for you
    args = build_grpo_config(cfg.train, out, max_steps=5)           # explicit overrides win

The GPU stack pins an older TRL (Unsloth caps trl<=1.15) than the CPU stack (1.16), so the
keywords are filtered to what the installed GRPOConfig accepts; a dropped key is WARNED about
by name, never silently lost. Bad settings fail here, before any model is loaded, with the
config key in the message.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
import warnings
from typing import Any

from bluekit.config import ConfigError, TrainConfig

BACKENDS = ("auto", "trl", "unsloth")
# Keywords renamed by newer transformers/TRL: old name -> new name. The kit writes the old name
# (what the GPU stack's older pins know) and passes the new one where the installed class has it.
RENAMED = {"gradient_checkpointing": "activation_checkpointing"}


def world_size() -> int:
    """Number of training processes (1 unless launched with accelerate/torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


def validate_train_config(train_cfg: TrainConfig, n_processes: int | None = None) -> None:
    """Raise ConfigError naming the key when the train settings can't work. Loads no model.

    TRL's rule (GRPOConfig.__post_init__ in 1.16): the generation batch,
    per_device_train_batch_size * world size * gradient_accumulation_steps, must hold whole
    groups of num_generations completions. So per_device_train_batch_size counts COMPLETIONS:
    8 with num_generations 4 is 2 prompts (users) per step.

    >>> validate_train_config(TrainConfig(per_device_train_batch_size=8, num_generations=4))
    >>> validate_train_config(TrainConfig(per_device_train_batch_size=6, num_generations=4))
    Traceback (most recent call last):
    ...
    bluekit.config.ConfigError: train.per_device_train_batch_size (6) * gradient_accumulation_steps (1) * world size (1) = 6 must be divisible by train.num_generations (4): each step scores whole groups of 4 completions per prompt
    """
    n_processes = n_processes or world_size()
    t = train_cfg
    if t.num_generations < 2:
        raise ConfigError(f"train.num_generations must be at least 2 (GRPO compares completions "
                          f"within a group), got {t.num_generations}")
    for key in ("per_device_train_batch_size", "gradient_accumulation_steps", "max_steps",
                "max_completion_length", "save_steps", "logging_steps"):
        if getattr(t, key) < 1:
            raise ConfigError(f"train.{key} must be at least 1, got {getattr(t, key)}")
    generation_batch = t.per_device_train_batch_size * t.gradient_accumulation_steps * n_processes
    if generation_batch % t.num_generations:
        raise ConfigError(
            f"train.per_device_train_batch_size ({t.per_device_train_batch_size}) * "
            f"gradient_accumulation_steps ({t.gradient_accumulation_steps}) * world size "
            f"({n_processes}) = {generation_batch} must be divisible by train.num_generations "
            f"({t.num_generations}): each step scores whole groups of {t.num_generations} "
            f"completions per prompt")
    if t.backend not in BACKENDS:
        raise ConfigError(f"train.backend must be one of {BACKENDS}, got {t.backend!r}")
    if t.learning_rate <= 0:
        raise ConfigError(f"train.learning_rate must be positive, got {t.learning_rate}")
    if t.beta < 0:
        raise ConfigError(f"train.beta must be >= 0, got {t.beta}")
    if not t.full_finetune and (t.lora_r < 1 or not t.lora_target_modules):
        raise ConfigError("train.lora_r must be >= 1 and train.lora_target_modules non-empty "
                          "(or set train.full_finetune: true)")
    if not t.rewards:
        raise ConfigError("train.rewards is empty: GRPO needs at least one reward")
    _check_reward_names(t)


def _check_reward_names(train_cfg: TrainConfig) -> None:
    """Resolve every reward name through the registry so a typo fails before model loading."""
    from bluekit import rewards

    for i, spec in enumerate(train_cfg.rewards):
        try:
            rewards.resolve(spec.name)
        except Exception as e:  # the registry raises KeyError/ImportError/ValueError by case
            raise ConfigError(f"train.rewards[{i}].name: unknown reward {spec.name!r} ({e})") from e


def grpo_kwargs(train_cfg: TrainConfig, output_dir: str, use_cpu: bool | None = None,
                progress: bool = True) -> dict[str, Any]:
    """Every keyword the kit passes to GRPOConfig, before filtering (tests check them all)."""
    t = train_cfg
    on_cpu = (not cuda_available()) if use_cpu is None else use_cpu
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        use_cpu=on_cpu,
        bf16=bool(t.bf16),
        # Checkpointing trades compute for memory: a loss on CPU, where memory is not the limit.
        gradient_checkpointing=not on_cpu,
        per_device_train_batch_size=t.per_device_train_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        num_generations=t.num_generations,
        max_completion_length=t.max_completion_length,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler_type,
        beta=t.beta,
        loss_type=t.loss_type,
        scale_rewards=t.scale_rewards,
        temperature=t.temperature,
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=2,
        report_to=t.report_to,
        dataloader_num_workers=0,
        remove_unused_columns=False,  # reward functions read the extra dataset columns
        seed=t.seed,
        data_seed=t.seed,
        reward_weights=[float(spec.weight) for spec in t.rewards],
        max_steps=t.max_steps,
        disable_tqdm=not progress,
        log_completions=False,
    )
    if t.use_vllm:  # plain TRL path; Unsloth's fast_inference drives vLLM itself
        kwargs.update(use_vllm=True, vllm_mode="colocate")
    return kwargs


def accepted_keywords(config_cls=None) -> set[str]:
    """Keyword names the installed GRPOConfig accepts."""
    if config_cls is None:
        from trl import GRPOConfig as config_cls
    if dataclasses.is_dataclass(config_cls):
        return {f.name for f in dataclasses.fields(config_cls) if f.init}
    return set(inspect.signature(config_cls.__init__).parameters) - {"self"}


def build_grpo_config(train_cfg: TrainConfig, output_dir: str, *, use_cpu: bool | None = None,
                      progress: bool = True, config_cls=None, **overrides):
    """THE one function that builds trl.GRPOConfig from the kit's TrainConfig.

    use_cpu: None = CPU exactly when CUDA is absent. overrides: any GRPOConfig keyword, applied
    last. config_cls: a GRPOConfig subclass (Unsloth patches its own in); default trl's.
    Keywords the installed TRL does not know are dropped with a warning naming them.
    """
    validate_train_config(train_cfg)
    if config_cls is None:
        from trl import GRPOConfig as config_cls
    kwargs = grpo_kwargs(train_cfg, output_dir, use_cpu=use_cpu, progress=progress)
    kwargs.update(overrides)
    known = accepted_keywords(config_cls)
    for old, new in RENAMED.items():
        if old in kwargs and new in known:
            kwargs[new] = kwargs.pop(old)
    dropped = sorted(set(kwargs) - known)
    if dropped:
        warnings.warn(f"the installed {config_cls.__name__} does not accept {dropped}; "
                      f"those settings are ignored (TRL version drift?)", stacklevel=2)
    return config_cls(**{k: v for k, v in kwargs.items() if k in known})
