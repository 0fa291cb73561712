"""Build TRL's GRPOConfig in exactly one place, after checking the kit's train settings.

    args = build_grpo_config(cfg.train, "runs/demo/train")          # CPU or GPU picked for you
    args = build_grpo_config(cfg.train, out, max_steps=5)           # explicit overrides win

`train.grpo` in the config is passed to GRPOConfig as it is (laid over the kit's CPU defaults,
bluekit.config.GRPO_DEFAULTS), so every TRL option is reachable without a kit change. Its keys
are checked against the INSTALLED GRPOConfig's fields before any model loads, so a typo is named
(`train.grpo.max_stepz`), and values are coerced to the field's type (YAML reads 5e-4 as a string).
The GPU stack pins an older TRL (Unsloth caps trl<=1.15): a kit DEFAULT the installed TRL lacks is
dropped with a warning; a key the user wrote is an error. SAME_ON_BOTH_BACKENDS writes out the
settings whose defaults Unsloth's GRPOConfig changes, so plain TRL and Unsloth train alike.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import os
import typing
import warnings
from typing import Any

from bluekit.config import GRPO_DEFAULTS, LORA_DEFAULTS, ConfigError, TrainConfig

BACKENDS = ("auto", "trl", "unsloth")
# Keywords renamed by newer transformers/TRL: old name -> new name. The kit writes the old name
# (what the GPU stack's older pins know) and passes the new one where the installed class has it.
RENAMED = {"gradient_checkpointing": "activation_checkpointing"}
# report_to integrations and the package each needs (transformers raises only when the trainer
# is built, after the models have loaded).
REPORT_PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow",
                   "trackio": "trackio", "comet_ml": "comet_ml"}
# GRPOConfig settings that Unsloth's GRPOConfig (which `import unsloth` swaps in for TRL's) defaults
# differently: unsloth 2026.10.9, unsloth/models/rl.py, the `replacements` of
# _patch_trl_rl_trainers and the loss_type/beta/DAPO lines after them. Written out at plain TRL's
# values (what every CPU run used), so the same kit config trains alike on both backends. Laid
# under train.grpo: a preset or the user can still set any of them. Without them Unsloth would
# accumulate 2 steps (128 completions per step instead of 64), use 8-bit AdamW, decay weights,
# warm up over 10% of the steps and empty the CUDA cache every 250 steps.
SAME_ON_BOTH_BACKENDS: dict[str, Any] = dict(
    gradient_accumulation_steps=1,     # Unsloth 2 (and so generation_batch_size 2x)
    optim="adamw_torch_fused",         # Unsloth adamw_8bit (bitsandbytes)
    weight_decay=0.0,                  # Unsloth 0.001
    warmup_steps=0,                    # Unsloth 0.1 (a share of max_steps)
    torch_empty_cache_steps=None,      # Unsloth 250
    logging_nan_inf_filter=True,       # Unsloth False
    per_device_eval_batch_size=8,      # Unsloth 4 (no evaluation in GRPO runs; for the diff)
    eval_accumulation_steps=None,      # Unsloth 2
    include_num_input_tokens_seen="no",  # Unsloth False
    generation_kwargs=None,            # Unsloth {}
    beta=0.0,                          # Unsloth: 0.0 for dapo, 0.001 for another loss_type
    mask_truncated_completions=False,  # Unsloth: True when loss_type 'dapo' is written out
    vllm_importance_sampling_correction=True,  # Unsloth False (vLLM only)
    router_aux_loss_coef=None,         # Unsloth 0.0 (MoE models only)
)


def world_size() -> int:
    """Number of training processes (1 unless launched with accelerate/torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


def validate_train_config(train_cfg: TrainConfig, n_processes: int | None = None,
                          config_cls=None) -> None:
    """Raise ConfigError naming the key when the train settings can't work. Loads no model.

    TRL's rule (GRPOConfig.__post_init__): the generation batch,
    per_device_train_batch_size * world size * gradient_accumulation_steps, must hold whole
    groups of num_generations completions. So per_device_train_batch_size counts COMPLETIONS:
    8 with num_generations 4 is 2 prompts (users) per step.

    >>> validate_train_config(TrainConfig(grpo={"per_device_train_batch_size": 8}))
    >>> validate_train_config(TrainConfig(grpo={"per_device_train_batch_size": 6}))
    Traceback (most recent call last):
    ...
    bluekit.config.ConfigError: train.grpo.per_device_train_batch_size (6) * gradient_accumulation_steps (1) * world size (1) = 6 must be divisible by train.grpo.num_generations (4): each step scores whole groups of 4 completions per prompt
    """
    n_processes = n_processes or world_size()
    grpo_settings(train_cfg, config_cls)  # unknown keys and wrong types, named
    g = train_cfg.grpo
    if g["num_generations"] < 2:
        raise ConfigError(f"train.grpo.num_generations must be at least 2 (GRPO compares "
                          f"completions within a group), got {g['num_generations']}")
    for key in ("per_device_train_batch_size", "max_steps", "max_completion_length"):
        if int(g[key]) < 1:
            raise ConfigError(f"train.grpo.{key} must be at least 1, got {g[key]}")
    accumulation = int(g.get("gradient_accumulation_steps", 1))
    generation_batch = int(g["per_device_train_batch_size"]) * accumulation * n_processes
    if generation_batch % g["num_generations"]:
        raise ConfigError(
            f"train.grpo.per_device_train_batch_size ({g['per_device_train_batch_size']}) * "
            f"gradient_accumulation_steps ({accumulation}) * world size ({n_processes}) = "
            f"{generation_batch} must be divisible by train.grpo.num_generations "
            f"({g['num_generations']}): each step scores whole groups of "
            f"{g['num_generations']} completions per prompt")
    if train_cfg.backend not in BACKENDS:
        raise ConfigError(f"train.backend must be one of {BACKENDS}, got {train_cfg.backend!r}")
    for integration in _as_list(g.get("report_to")):
        package = REPORT_PACKAGES.get(integration)
        if package and importlib.util.find_spec(package) is None:
            raise ConfigError(f"train.grpo.report_to: {integration!r} needs the {package!r} "
                              f"package (pip install {package}), or set report_to: none")
    if not train_cfg.full_finetune:
        lora_settings(train_cfg)
    if not train_cfg.rewards:
        raise ConfigError("train.rewards is empty: GRPO needs at least one reward")
    _check_reward_names(train_cfg)


def _as_list(value) -> list[str]:
    if value is None or value == "none":
        return []
    return [value] if isinstance(value, str) else list(value)


def _check_reward_names(train_cfg: TrainConfig) -> None:
    """Resolve every reward name through the registry so a typo fails before model loading."""
    from bluekit import rewards

    for i, spec in enumerate(train_cfg.rewards):
        try:
            rewards.resolve(spec.name)
        except rewards.RewardError as e:
            raise ConfigError(f"train.rewards[{i}].name: {e}") from e


def _field_types(config_cls) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.init}
    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # noqa: BLE001 - odd annotations in some versions: skip coercion
        hints = {}
    return {name: hints.get(name) for name in fields}


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """YAML gives "5e-4" for 5e-4; turn strings into the number a float/int field wants."""
    args = typing.get_args(tp) or (tp,)
    if isinstance(value, str) and (float in args or int in args):
        try:
            return int(value) if int in args and float not in args else float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    return value


def _field_default(config_cls, name: str) -> Any:
    if config_cls is None:
        from trl import GRPOConfig as config_cls
    if not dataclasses.is_dataclass(config_cls):
        return None
    return {f.name: f.default for f in dataclasses.fields(config_cls)}.get(name)


def accepted_keywords(config_cls=None) -> set[str]:
    """Keyword names the installed GRPOConfig accepts."""
    if config_cls is None:
        from trl import GRPOConfig as config_cls
    if dataclasses.is_dataclass(config_cls):
        return {f.name for f in dataclasses.fields(config_cls) if f.init}
    return set(inspect.signature(config_cls.__init__).parameters) - {"self"}


def grpo_settings(train_cfg: TrainConfig, config_cls=None) -> dict[str, Any]:
    """train.grpo checked against the installed GRPOConfig: user keys must exist (typos are
    named), kit defaults the installed TRL lacks are dropped with a warning, numbers coerced."""
    if config_cls is None:
        from trl import GRPOConfig as config_cls
    known = accepted_keywords(config_cls)
    types = _field_types(config_cls) if dataclasses.is_dataclass(config_cls) else {}
    out, dropped = {}, []
    for key, value in train_cfg.grpo.items():
        name = RENAMED.get(key, key) if RENAMED.get(key) in known else key
        if name not in known:
            if key in GRPO_DEFAULTS and GRPO_DEFAULTS[key] == value:
                dropped.append(key)
                continue
            close = sorted(k for k in known if k.startswith(key[:4]))[:6]
            raise ConfigError(f"unknown key 'train.grpo.{key}': the installed "
                              f"{config_cls.__name__} has no such field"
                              + (f" (similar: {', '.join(close)})" if close else ""))
        if name == "bf16" and value == "auto":  # measured once per machine
            from bluekit.hardware import resolve_bf16
            value = resolve_bf16(value)
        out[name] = _coerce(f"train.grpo.{key}", value, types.get(name))
    if dropped:
        warnings.warn(f"the installed {config_cls.__name__} does not accept the kit defaults "
                      f"{dropped}; they are left out (TRL version drift)", stacklevel=3)
    return out


def lora_settings(train_cfg: TrainConfig) -> dict[str, Any]:
    """train.lora checked against peft.LoraConfig's fields (typos named before any model loads)."""
    from peft import LoraConfig

    known = {f.name for f in dataclasses.fields(LoraConfig) if f.init}
    unknown = sorted(set(train_cfg.lora) - known)
    if unknown:
        raise ConfigError(f"unknown key 'train.lora.{unknown[0]}': peft.LoraConfig has no such "
                          f"field (the kit's defaults: {sorted(LORA_DEFAULTS)})")
    lora = dict(train_cfg.lora)
    if int(lora.get("r", 1)) < 1 or not lora.get("target_modules"):
        raise ConfigError("train.lora.r must be >= 1 and train.lora.target_modules non-empty "
                          "(or set train.full_finetune: true)")
    return lora


def grpo_kwargs(train_cfg: TrainConfig, output_dir: str, use_cpu: bool | None = None,
                progress: bool = True, config_cls=None) -> dict[str, Any]:
    """Every keyword the kit passes to GRPOConfig (tests check them all against TRL)."""
    on_cpu = (not cuda_available()) if use_cpu is None else use_cpu
    known = accepted_keywords(config_cls)
    # Checkpointing trades compute for memory: a loss on CPU, where memory is not the limit.
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in known \
        else "gradient_checkpointing"
    kwargs: dict[str, Any] = {"use_cpu": on_cpu, checkpointing: not on_cpu,
                              "disable_tqdm": not progress}
    kwargs.update({k: v for k, v in SAME_ON_BOTH_BACKENDS.items() if k in known})
    kwargs.update(grpo_settings(train_cfg, config_cls))  # the user's settings win
    # Unsloth sets epsilon_high 0.28 when loss_type 'dapo' is written out; TRL clips at epsilon
    epsilon = kwargs.get("epsilon", _field_default(config_cls, "epsilon"))
    if "epsilon_high" in known and kwargs.get("epsilon_high") is None and epsilon is not None:
        kwargs["epsilon_high"] = float(epsilon)
    kwargs.update(output_dir=str(output_dir), seed=train_cfg.seed, data_seed=train_cfg.seed,
                  reward_weights=[float(spec.weight) for spec in train_cfg.rewards])
    return kwargs


def build_grpo_config(train_cfg: TrainConfig, output_dir: str, *, use_cpu: bool | None = None,
                      progress: bool = True, config_cls=None, **overrides):
    """THE one function that builds trl.GRPOConfig from the kit's TrainConfig.

    use_cpu: None = CPU exactly when CUDA is absent. overrides: any GRPOConfig keyword, applied
    last. config_cls: a GRPOConfig subclass (Unsloth patches its own in); default trl's.
    """
    validate_train_config(train_cfg, config_cls=config_cls)
    if config_cls is None:
        from trl import GRPOConfig as config_cls
    kwargs = grpo_kwargs(train_cfg, output_dir, use_cpu, progress, config_cls)
    kwargs.update(overrides)
    return config_cls(**kwargs)
