"""Typed configuration: dataclass defaults < YAML preset/file < explicit overrides.

    cfg = load_config("smoke")                              # a named preset
    cfg = load_config("my_run.yaml", {"train.grpo.max_steps": 50})  # a file plus overrides

Unknown keys and wrong types are rejected with the dotted key in the message,
before any model or dataset is loaded; a YAML syntax error names the file and line.

A file builds on a preset or another file with `base: cpu-demo`. Mappings merge key by key
(`train.grpo: {learning_rate: 3e-4}` changes that one TRL option and keeps the base's others);
every other value, lists included, REPLACES the base's. So a derived config's `train.rewards` is
its whole reward list: to add a reward to cpu-demo's, repeat cpu-demo's two entries:

    base: cpu-demo
    train:
      rewards:                 # replaces cpu-demo's list: rank_reward + length_format kept by hand
        - {name: rank_reward, weight: 1.0, params: {metric: mrr, candidates: all}}
        - {name: length_format, weight: 0.5, params: {min_words: 8, max_words: 30}}
        - {name: my_rewards.title_overlap, weight: 0.2}

Loading a config file that names a reward by dotted path puts the file's folder on the Python path
(:func:`importable`; the same for each file it builds on), so rewards defined next to it
(`my_rewards.py`) are found in every command, notebook and compare worker.
"""
from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bluekit.errors import KitError

PRESET_DIR = Path(__file__).parent / "presets"
# The official Amazon Reviews 2023 timestamp-split cut points (Unix ms), typed once here.
AMAZON_TIMESTAMP_CUTS = (1628643414042, 1658002729837)


class ConfigError(KitError, ValueError):
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
    cache_dir: str = "data/cache"  # Parquet spills of the files read (bluekit.data.spill)
    max_review_chars: int | None = 1000  # review title/text cut while reading (prompts show ~80)
    official_splits: bool = True  # amazon: use the benchmark split files when they are present


@dataclass
class EmbedConfig:
    model: str = "all-MiniLM-L6-v2"  # offline default from its package, or any hub name / path
    device: str = "cpu"
    batch_size: int = 64
    query_prompt: str | None = None  # e.g. Qwen3-Embedding's "query" prompt name
    document_prompt: str | None = None
    cache_dir: str = "data/cache"
    # Trainable condition (bluekit.embedder_training): embedder rounds on (profile, next item text)
    # pairs before GRPO step 0 and after every round_steps steps, MultipleNegativesRankingLoss.
    trainable: bool = False
    round_steps: int = 30  # GRPO steps between rounds (0: the round before step 0 only)
    pairs: str = "regenerate"  # regenerate (greedy profiles of all training users) | completions
    contrastive_lr: float = 2e-5
    contrastive_epochs: int = 1
    contrastive_batch_size: int = 32
    contrastive_scale: float = 20.0  # 1 / temperature (LangPTune: 10)
    symmetric: bool = False  # also item -> profile (MultipleNegativesSymmetricRankingLoss)
    # 0: fine-tune every weight (LangPTune); r > 0: train a LoRA adapter of rank r on the attention
    # and dense layers instead (peft), saved in ~3 MB rather than the whole model (90 MB for MiniLM)
    lora_rank: int = 0

    def __post_init__(self):
        if self.pairs not in ("regenerate", "completions"):
            raise ConfigError(f"embed.pairs: expected 'regenerate' or 'completions', got {self.pairs!r}")
        if self.round_steps < 0:
            raise ConfigError(f"embed.round_steps: expected >= 0, got {self.round_steps}")
        if self.lora_rank < 0:
            raise ConfigError(f"embed.lora_rank: expected 0 (every weight) or a rank > 0, got {self.lora_rank}")


@dataclass
class ProfilerConfig:
    model: str = "smollm2-135m"  # tiny | smollm2-135m | hub name | local path
    template: str = "default"  # a name in bluekit.prompts or a path to a YAML template
    max_history_items: int = 20
    review_chars: int = 80
    prompt_token_budget: int = 512
    max_new_tokens: int = 32  # evaluation profiles (training uses train.grpo.max_completion_length)
    top_p: float = 1.0  # when evaluation samples (temperature > 0); greedy by default
    generation_batch_size: int = 16
    dtype: str = "float32"  # float32 | bfloat16 | float16 | auto (bf16 where fast: bluekit.hardware)
    cache_dir: str = "data/cache/models"


@dataclass
class RewardSpec:
    name: str = "infonce"  # registry name or dotted path "my_rewards.title_overlap"
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


# The kit's defaults for TRL's GRPOConfig, chosen for a CPU (TRL's own defaults are for GPUs:
# bf16, gradient checkpointing, 8 generations of 512 tokens, lr 1e-6). Anything under
# `train.grpo:` in a config is laid over these and passed to GRPOConfig as it is.
GRPO_DEFAULTS: dict[str, Any] = dict(
    max_steps=100, learning_rate=5e-4, lr_scheduler_type="constant",
    per_device_train_batch_size=8,  # COMPLETIONS per step: 8 / num_generations users
    num_generations=4, max_completion_length=32, bf16=False, logging_steps=1,
    save_strategy="steps", save_steps=50, save_total_limit=2, report_to="none",
    dataloader_num_workers=0, remove_unused_columns=False,  # rewards read the extra columns
    log_completions=False,
)
# GRPOConfig keys the kit sets from its own settings; naming them under train.grpo is an error.
GRPO_KIT_KEYS = {"output_dir": "train.output_dir", "seed": "train.seed", "data_seed": "train.seed",
                 "reward_weights": "the weights in train.rewards"}
# peft.LoraConfig defaults of the kit; `train.lora:` is laid over them and passed as it is.
LORA_DEFAULTS: dict[str, Any] = dict(
    r=16, lora_alpha=32, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    bias="none", task_type="CAUSAL_LM")
# Sections of `train.unsloth:` (the Unsloth backend only): keywords for FastLanguageModel's
# from_pretrained and get_peft_model, laid over what the kit derives (bluekit.train.backends).
UNSLOTH_SECTIONS = ("from_pretrained", "get_peft_model")


@dataclass
class TrainConfig:
    """The kit's own training settings. Every TRL option goes under `grpo` (GRPOConfig's
    keywords, checked against the installed TRL before any model loads) and every LoRA option
    under `lora` (peft.LoraConfig's keywords); both are laid over the kit's defaults above.
    `unsloth` holds extra keywords for Unsloth's loader (the unsloth backend only)."""
    output_dir: str = "runs/train"
    backend: str = "auto"  # auto | trl | unsloth
    train_users: int | None = None  # cap on training users (None = all)
    validation_users: int = 0  # training users held out to choose a checkpoint (bluekit.selection)
    seed: int = 0  # LoRA init, sampling, data order, sampled negatives
    max_minutes: float | None = None  # stop after this much training time (besides grpo.max_steps)
    save_adapter_at: list[int] = field(default_factory=list)  # steps kept as {out}/step-N/ folders
    full_finetune: bool = False  # train all weights (tiny test models) instead of a LoRA adapter
    snapshot_every: int = 10
    panel_users: int = 8
    rewards: list[RewardSpec] = field(default_factory=lambda: [
        RewardSpec("infonce", 1.0), RewardSpec("length_format", 0.5)])
    grpo: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] = field(default_factory=dict)
    unsloth: dict[str, Any] = field(default_factory=dict)  # {from_pretrained: {..}, get_peft_model: {..}}

    def __post_init__(self):
        self.grpo = {**GRPO_DEFAULTS, **self.grpo}
        self.lora = {**LORA_DEFAULTS, **self.lora}
        for key, value in self.unsloth.items():
            if key not in UNSLOTH_SECTIONS or not isinstance(value, dict):
                raise ConfigError(f"train.unsloth.{key}: expected one of {UNSLOTH_SECTIONS}, each "
                                  f"a mapping of keywords for Unsloth's FastLanguageModel")
        for key, home in GRPO_KIT_KEYS.items():
            if key in self.grpo:
                raise ConfigError(f"train.grpo.{key}: set {home} instead (the kit passes it on)")


@dataclass
class EvalConfig:
    ks: list[int] = field(default_factory=lambda: [5, 10, 20])
    # Mask each user's history items out of their ranking (never the target). Off by default, as in
    # the Amazon 2023 benchmark's RecBole full sort (BLaIR); LangPTune masks.
    exclude_history: bool = False
    # Zero-shot protocol: this share of users is held out from RL training and evaluated.
    test_user_fraction: float = 0.3
    test_users: int | None = None  # cap on evaluated users (None = all)
    users: str = "held_out"  # held_out (zero-shot) | all: every user of the domain, training users too
    batch_size: int = 1024  # users ranked per block in full-ranking evaluation (memory vs speed)
    out_dir: str = "runs/demo"
    # The ID-based reference row: SASRec trained on the split's training interactions (NOT
    # zero-shot; bluekit.sasrec), with SASRecSettings keywords under `sasrec:`.
    id_baseline: bool = False
    sasrec: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.users not in ("held_out", "all"):
            raise ConfigError(f"eval.users: expected 'held_out' or 'all', got {self.users!r}")


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

    Overrides use dotted keys ({"train.grpo.max_steps": 5}) or nested dicts.
    """
    merged: dict = {}
    if isinstance(source, dict):
        merged = _deep_merge(merged, source)
    elif source is not None:
        merged = _deep_merge(merged, _read_yaml(source))
    if overrides:
        merged = _deep_merge(merged, _undot(overrides))
    return _build(Config, merged, "")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads 5e-4 as a string; read it as the float everyone means (YAML 1.2 does)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)[eE][-+]?\d+$"), list("-+0123456789."))


def parse_yaml(text: str, source: str = "--set value"):
    """YAML text (a file, or a --set value) as Python values; 5e-4 is a float. A syntax error is
    a ConfigError naming the source and line."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({problem})") from err


# Folders put on sys.path by `importable`, in order: compare hands them to its workers.
IMPORT_FOLDERS: list[str] = []


def importable(folders) -> None:
    """Put these folders first on the Python path (once each) so reward modules in them import
    by dotted path: the one place that does it (load_config calls it for every file it reads;
    compare passes the list to its workers on PYTHONPATH; the CLI adds a run's recorded folders)."""
    import sys
    for folder in folders:
        folder = str(Path(folder).resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
        if folder not in IMPORT_FOLDERS:
            IMPORT_FOLDERS.append(folder)


def save_config(cfg: Config, path: str | Path) -> None:
    from bluekit.atomic import write_text
    write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def _read_yaml(source: str | Path) -> dict:
    path = Path(source)
    if not path.suffix and not path.exists():
        path = PRESET_DIR / f"{source}.yaml"
        if not path.exists():
            raise ConfigError(f"unknown preset {str(source)!r}; presets are {presets()}")
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read ({err})") from err
    data = parse_yaml(text, str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    if _names_a_module(data):
        importable([path.parent])  # rewards next to the config: `my_rewards.title_overlap`
    base = data.pop("base", None)  # a file may build on a preset or a file: `base: cpu-demo`
    if base and Path(base).suffix and not Path(base).is_absolute() and (path.parent / base).exists():
        base = path.parent / base  # a file named next to this one
    return _deep_merge(_read_yaml(base), data) if base else data


def _names_a_module(data: dict) -> bool:
    """Does this file name a reward by dotted path (`my_rewards.brevity`)? Only such a file's
    folder goes on sys.path, so loading run folders' configs does not pile folders onto it."""
    rewards = (data.get("train") or {}).get("rewards") if isinstance(data.get("train"), dict) else None
    return any("." in str(spec.get("name", "") if isinstance(spec, dict) else spec)
               for spec in rewards or [])


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
        hint = (f"; TRL's options go under train.grpo (train.grpo.{unknown[0]}) and LoRA's under "
                "train.lora" if cls is TrainConfig else "")
        raise ConfigError(f"unknown key '{prefix}{unknown[0]}' (known: {', '.join(sorted(names))})"
                          + hint)
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
