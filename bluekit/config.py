"""Typed configuration: dataclass defaults < YAML preset/file < explicit overrides.

    cfg = load_config("smoke")                              # a named preset
    cfg = load_config("my_run.yaml", {"train.max_steps": 50})  # a file plus overrides

Unknown keys and wrong types are rejected with the dotted key in the message,
before any model or dataset is loaded.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PRESET_DIR = Path(__file__).parent / "presets"
# The official Amazon Reviews 2023 timestamp-split cut points (Unix ms), typed once here.
AMAZON_TIMESTAMP_CUTS = (1628643414042, 1658002729837)


class ConfigError(ValueError):
    """A configuration key is unknown or has the wrong type."""


@dataclass
class DataConfig:
    source: str = "demo"  # demo | amazon | google_local
    domain: str = "Clothing"  # demo domain, Amazon category or Google Local state (e.g. New_York)
    raw_dir: str = "data/raw"  # where real downloads live
    demo_dir: str = "data/demo"  # where the demo generator writes its files
    demo_users: int = 400
    demo_items: int = 1200
    seed: int = 0
    k_core: int = 5
    split: str = "last_out"  # last_out | timestamp
    timestamp_cuts: list[int] = field(default_factory=lambda: list(AMAZON_TIMESTAMP_CUTS))
    max_history: int = 50
    lenient: bool = False  # skip (and count) malformed lines instead of raising
    item_text_template: str | None = None  # None = the source's default template
    max_item_text_chars: int = 512


@dataclass
class EmbedConfig:
    model: str = "all-MiniLM-L6-v2"  # offline default from its package, or any hub name / path
    device: str = "cpu"
    batch_size: int = 64
    query_prompt: str | None = None  # e.g. Qwen3-Embedding's "query" prompt name
    document_prompt: str | None = None
    cache_dir: str = "data/cache"
    # Trainable condition: contrastive fine-tuning on (profile, next item) pairs between RL rounds.
    trainable: bool = False
    contrastive_lr: float = 2e-5
    contrastive_epochs: int = 1


@dataclass
class ProfilerConfig:
    model: str = "smollm2-135m"  # tiny | smollm2-135m | hub name | local path
    template: str = "default"  # a name in bluekit.prompts or a path to a YAML template
    max_history_items: int = 20
    review_chars: int = 80
    prompt_token_budget: int = 512
    max_new_tokens: int = 32
    temperature: float = 1.0
    top_p: float = 1.0
    generation_batch_size: int = 16
    dtype: str = "float32"  # float32 | bfloat16 | float16
    cache_dir: str = "data/cache/models"


@dataclass
class RewardSpec:
    name: str = "infonce"  # registry name or dotted path "my_rewards.my_reward"
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    output_dir: str = "runs/train"
    backend: str = "auto"  # auto | trl | unsloth
    train_users: int | None = None  # cap on training users (None = all)
    max_steps: int = 100
    learning_rate: float = 5e-4
    lr_scheduler_type: str = "constant"
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    num_generations: int = 4
    max_completion_length: int = 32
    temperature: float = 1.0
    beta: float = 0.0
    loss_type: str = "dapo"
    scale_rewards: str = "group"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    full_finetune: bool = False  # tiny test models train all weights
    bf16: bool = False
    use_vllm: bool = False
    save_steps: int = 50
    snapshot_every: int = 10
    panel_users: int = 8
    logging_steps: int = 1
    report_to: str = "none"  # none | tensorboard | wandb
    seed: int = 0
    rewards: list[RewardSpec] = field(default_factory=lambda: [
        RewardSpec("infonce", 1.0), RewardSpec("length_format", 0.5)])


@dataclass
class EvalConfig:
    ks: list[int] = field(default_factory=lambda: [5, 10, 20])
    exclude_history: bool = False
    # Zero-shot protocol: this share of users is held out from RL training and evaluated.
    test_user_fraction: float = 0.3
    test_users: int | None = None  # cap on held-out test users (None = all)
    batch_size: int = 1024
    out_dir: str = "runs/demo"


@dataclass
class Config:
    name: str = "default"
    data: DataConfig = field(default_factory=DataConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)
    profiler: ProfilerConfig = field(default_factory=ProfilerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_config(source: str | Path | dict | None = None, overrides: dict | None = None) -> Config:
    """Build a Config from defaults, then a preset name / YAML path / dict, then overrides.

    Overrides use dotted keys ({"train.max_steps": 5}) or nested dicts.
    """
    merged: dict = {}
    if isinstance(source, dict):
        merged = _deep_merge(merged, source)
    elif source is not None:
        merged = _deep_merge(merged, _read_yaml(source))
    if overrides:
        merged = _deep_merge(merged, _undot(overrides))
    return _build(Config, merged, "")


def save_config(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def _read_yaml(source: str | Path) -> dict:
    path = Path(source)
    if not path.suffix and not path.exists():
        path = PRESET_DIR / f"{source}.yaml"
        if not path.exists():
            raise ConfigError(f"unknown preset {str(source)!r}; presets are {presets()}")
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    base = data.pop("base", None)  # a file may build on a preset: `base: cpu-demo`
    return _deep_merge(_read_yaml(base), data) if base else data


def _undot(flat: dict) -> dict:
    nested: dict = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = str(key).split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _deep_merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls, values: dict, prefix: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown key '{prefix}{unknown[0]}' (known: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(hints[k], v, f"{prefix}{k}") for k, v in values.items()}
    return cls(**kwargs)


def _coerce(tp, value, key: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML reads 5e-4 as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp in (int, float, str, bool) and not (isinstance(value, tp) and not (
            tp is int and isinstance(value, bool))):
        raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r} ({type(value).__name__})")
    return value
