"""GRPO training of the profiler: dataset, GRPOConfig (built in one function), backends
(TRL + PEFT on CPU, Unsloth on GPU), metrics and snapshot callbacks, checkpoints and resume.

    from bluekit.train import train_profiler, load_trained_profiler
    result = train_profiler(load_config("smoke"))

Modules: dataset (training rows and the snapshot panel), grpo_config (build_grpo_config,
validation), backends (load_policy), callbacks (metrics.jsonl and snapshots.jsonl writers),
records (JSONL helpers, diversity, reward timing), run (train_profiler, load_trained_profiler),
pretrained (runs published under data/pretrained/, e.g. `make train-long`).

Importing this package does not import transformers or TRL (names load on first use), so the
GPU path can import Unsloth before them.
"""
import importlib

_EXPORTS = {
    "backends": ["Policy", "choose_backend", "load_policy", "lora_config"],
    "callbacks": ["MetricsCallback", "SnapshotCallback"],
    "records": ["TimedReward", "distinct_n", "mean_words", "read_jsonl"],
    "dataset": ["build_panel", "build_train_dataset", "examples_for_users"],
    "grpo_config": ["build_grpo_config", "grpo_kwargs", "grpo_settings", "validate_train_config"],
    "pretrained": ["pretrained_run", "publish_run"],
    "run": ["TrainResult", "TrainingSetup", "last_checkpoint", "load_metrics", "load_snapshots",
            "load_trained_profiler", "make_trainer", "prepare_training", "run_training",
            "train_profiler"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"bluekit.train.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'bluekit.train' has no attribute {name!r}")


def __dir__():
    return __all__
