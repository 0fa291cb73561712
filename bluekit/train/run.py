"""Train the profiler with GRPO end to end, resume a stopped run, and load a trained profiler.

    result = train_profiler(load_config("smoke"))       # -> TrainResult
    model, tokenizer = load_trained_profiler(result.output_dir)
    # the same in three visible steps (notebook 04): prepare_training -> GRPOTrainer -> run_training

A run folder ({cfg.train.output_dir}) holds:
    config.yaml        the full config of the run (bluekit.config.save_config)
    checkpoint-N/      TRL/transformers checkpoints (the last 2), what a resume starts from
    metrics.jsonl      every training log line (MetricsCallback)
    snapshots.jsonl    the panel's profiles over training (SnapshotCallback), for the widgets
    final/             the LoRA adapter (or the full model with full_finetune) + tokenizer
    run.json           seed, steps, wall time, reward time, library versions, git commit
    test_profiles.json the held-out users' greedy profiles, once evaluated (bluekit.pipeline)
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import json
import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bluekit.atomic import write_json
from bluekit.config import Config, load_config, save_config
from bluekit.data import train_test_users
from bluekit.train.backends import Policy, choose_backend, load_policy
from bluekit.train.records import METRICS_FILE, SNAPSHOTS_FILE, TimedReward, earlier_wall_time, read_jsonl
from bluekit.train.dataset import build_panel, build_train_dataset
from bluekit.train.grpo_config import build_grpo_config, validate_train_config

FINAL_DIR = "final"
RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
PROFILES_FILE = "test_profiles.json"  # held-out users' profiles, written by the evaluation
# TRL and PEFT read model.is_gradient_checkpointing at every generation, and transformers 5
# warns each time (deprecated for is_activation_checkpointing): a student should read the
# progress and the plot, not dozens of FutureWarnings. Only that message is silenced.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
VERSIONED = ("torch", "transformers", "trl", "peft", "accelerate", "datasets",
             "sentence-transformers", "unsloth")


@dataclass
class TrainResult:
    output_dir: Path
    adapter_dir: Path  # output_dir/final: the adapter (or full model) + tokenizer
    metrics: pd.DataFrame  # metrics.jsonl as a table, one row per log line
    train_users: list[str]
    test_users: list[str]
    wall_time_s: float  # this process's training time (run.json also has the total over resumes)
    global_step: int = 0
    reward_time_s: dict[str, float] = field(default_factory=dict)
    process_index: int = 0  # under `accelerate launch`: this process, of `processes`
    processes: int = 1


def load_metrics(run_dir: str | Path) -> pd.DataFrame:
    """metrics.jsonl of a run as a DataFrame (training log lines and panel/... lines)."""
    return pd.DataFrame(read_jsonl(Path(run_dir) / METRICS_FILE))


def load_snapshots(run_dir: str | Path) -> pd.DataFrame:
    """snapshots.jsonl of a run: one row per (step, user) with text, embedding, rewards."""
    return pd.DataFrame(read_jsonl(Path(run_dir) / SNAPSHOTS_FILE))


def last_checkpoint(run_dir: str | Path) -> str | None:
    """The newest checkpoint-N folder of a run, or None."""
    from transformers.trainer_utils import get_last_checkpoint
    run_dir = Path(run_dir)
    return get_last_checkpoint(str(run_dir)) if run_dir.is_dir() else None


@dataclass
class TrainingSetup:
    """Everything GRPOTrainer is built from, prepared by the kit (notebook 04 shows each part):

        setup = prepare_training(cfg)
        trainer = GRPOTrainer(model=setup.policy.model, reward_funcs=setup.reward_funcs,
                              args=setup.args, train_dataset=setup.dataset,
                              processing_class=setup.policy.tokenizer,
                              peft_config=setup.policy.peft_config, callbacks=setup.callbacks)
        result = run_training(trainer, setup)
    """
    cfg: Config
    output_dir: Path
    policy: Policy  # model, tokenizer, LoRA config, backend
    reward_funcs: list  # TRL reward callables (timed); their weights are args.reward_weights
    dataset: Any  # datasets.Dataset of the training users' rows (prompt, user_id, positive, history)
    args: Any  # trl.GRPOConfig, built by build_grpo_config
    callbacks: list  # metrics.jsonl and snapshots.jsonl writers (+ any extra ones)
    train_users: list[str]
    test_users: list[str]
    reward_timings: dict[str, float]
    ctx: Any = None  # the rewards' RewardContext (embedder and catalogue)
    progress: bool = True


def prepare_training(cfg: Config, prepared=None, embedder=None, item_vecs=None,
                     progress: bool = True, extra_callbacks: list | None = None,
                     reward_timings: dict | None = None) -> TrainingSetup:
    """Check the config, load the data, the policy and the rewards, and build GRPOConfig.

    prepared / embedder / item_vecs: pass them when already built (notebooks), else they are
    loaded from cfg. extra_callbacks: more TrainerCallbacks (live plots). reward_timings: a dict
    that collects the seconds spent in each reward (the step benchmark reads it).
    """
    validate_train_config(cfg.train)  # fail on bad settings before anything heavy loads
    if choose_backend(cfg.train) == "unsloth":
        import unsloth  # noqa: F401 - Unsloth patches transformers/TRL: import it before them
    import transformers

    from bluekit.distributed import is_main_process, main_process_first
    from bluekit.rewards import build_reward_funcs, reward_context
    from bluekit.train.callbacks import (MetricsCallback, SaveAdapterAt, SnapshotCallback,
                                         TimeBudget)

    out = Path(cfg.train.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Under `accelerate launch` every process runs this: the main one alone builds the data and
    # item caches and writes the run folder (bluekit.distributed); the others read them.
    main = is_main_process()
    with main_process_first():
        prepared, embedder, item_vecs = _inputs(cfg, prepared, embedder, item_vecs)
    train_users, test_users = train_test_users(prepared, cfg)
    if main:
        save_config(cfg, out / CONFIG_FILE)

    transformers.set_seed(cfg.train.seed)  # LoRA init and sampling repeat for a seed
    policy = load_policy(cfg.profiler, cfg.train)
    # LoRA: the default quiz reader is this policy with its adapter off (no second copy)
    ctx = reward_context(cfg, prepared, embedder, item_vecs, (policy.model, policy.tokenizer))
    funcs, _ = build_reward_funcs(cfg.train.rewards, ctx)  # weights: GRPOConfig.reward_weights
    timings: dict[str, float] = reward_timings if reward_timings is not None else {}
    reward_funcs = [TimedReward(f, timings, log_stats=(i == 0)) for i, f in enumerate(funcs)]
    dataset = build_train_dataset(prepared, train_users, cfg, policy.tokenizer)
    panel = build_panel(prepared, test_users[: cfg.train.panel_users], cfg, policy.tokenizer)
    args = build_grpo_config(cfg.train, str(out), progress=progress)
    rounds = []
    if cfg.embed.trainable:  # embedder rounds between GRPO steps (bluekit.embedder_training)
        from bluekit.embedder_training import embedder_rounds
        rounds = [embedder_rounds(ctx, dataset.to_list(), cfg, out, policy.tokenizer, reward_funcs,
                                  save=main)]
    writers = [MetricsCallback(out),
               SnapshotCallback(panel, cfg.train.snapshot_every, policy.tokenizer, ctx,
                                cfg.train.rewards, out, cfg.train.grpo["max_completion_length"],
                                cfg.profiler.generation_batch_size, cfg.train.seed),
               *([SaveAdapterAt(cfg.train.save_adapter_at, out, cfg)]
                 if cfg.train.save_adapter_at else [])]
    callbacks = [*rounds, *(writers if main else []),
                 *([TimeBudget(cfg.train.max_minutes)] if cfg.train.max_minutes else []),
                 *(extra_callbacks or [])]
    return TrainingSetup(cfg, out, policy, reward_funcs, dataset, args, callbacks, train_users,
                         test_users, timings, ctx, progress)


def make_trainer(setup: TrainingSetup):
    """The GRPOTrainer of a prepared setup (TRL's own class; Unsloth patches it on a GPU)."""
    from trl import GRPOTrainer

    return GRPOTrainer(model=setup.policy.model, reward_funcs=setup.reward_funcs, args=setup.args,
                       train_dataset=setup.dataset, processing_class=setup.policy.tokenizer,
                       peft_config=setup.policy.peft_config, callbacks=setup.callbacks)


def run_training(trainer, setup: TrainingSetup, resume: bool = True) -> TrainResult:
    """Train (resuming from the last checkpoint in the run folder unless resume=False, which
    starts over and clears old logs), then save final/ and run.json."""
    out, cfg = setup.output_dir, setup.cfg
    accelerator = trainer.accelerator  # one process, or one of several under accelerate launch
    main = accelerator.is_main_process
    if not setup.progress:
        from transformers.trainer_callback import PrinterCallback, ProgressCallback
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    checkpoint = last_checkpoint(out) if resume else None
    if checkpoint is None and main:  # a fresh start: old logs and checkpoints would mix two runs
        for name in (METRICS_FILE, SNAPSHOTS_FILE, PROFILES_FILE):
            (out / name).unlink(missing_ok=True)
        for old in [*out.glob("checkpoint-*"), *out.glob("step-*")]:
            shutil.rmtree(old, ignore_errors=True)
    commit = git_commit()  # the code that trains, before anyone edits it during a long run
    start = time.time()
    with _quiet_training(setup.ctx.embedder if setup.ctx is not None else None):
        trainer.train(resume_from_checkpoint=checkpoint)
    wall = time.time() - start

    final = out / FINAL_DIR
    step = int(trainer.state.global_step)
    if main:  # the weights are the same on every process (DDP): one adapter is written
        trainer.model.save_pretrained(str(final))
        setup.policy.tokenizer.save_pretrained(str(final))
        _write_run_file(out, cfg, step, wall, setup.reward_timings, checkpoint,
                        setup.policy.backend, len(setup.train_users), len(setup.test_users),
                        commit, accelerator.num_processes)
    accelerator.wait_for_everyone()
    return TrainResult(out, final, load_metrics(out), setup.train_users, setup.test_users, wall,
                       step, dict(setup.reward_timings), accelerator.process_index,
                       accelerator.num_processes)


def train_profiler(cfg: Config, prepared=None, embedder=None, item_vecs=None, resume: bool = True,
                   progress: bool = True, extra_callbacks: list | None = None,
                   reward_timings: dict | None = None) -> TrainResult:
    """GRPO-train the profiler on the training users: prepare_training + GRPOTrainer +
    run_training. See the module docstring for the run folder it writes."""
    setup = prepare_training(cfg, prepared, embedder, item_vecs, progress, extra_callbacks,
                             reward_timings)
    return run_training(make_trainer(setup), setup, resume)


def _inputs(cfg: Config, prepared, embedder, item_vecs):
    if prepared is None:
        from bluekit.data import load_prepared
        prepared = load_prepared(cfg.data)
    if embedder is None:
        from bluekit.embed import Embedder
        embedder = Embedder.from_config(cfg.embed)
    if item_vecs is None:
        from bluekit.embed import item_vectors
        items = prepared.items
        item_vecs = item_vectors(embedder, items["item_id"].tolist(), items["text"].tolist(),
                                 cfg.embed.cache_dir)
    return prepared, embedder, item_vecs


@contextlib.contextmanager
def _quiet_training(embedder):
    """No embedder progress bar per reward call while training."""
    before = getattr(embedder, "show_progress", None)
    if before is not None:
        embedder.show_progress = False
    try:
        yield
    finally:
        if before is not None:
            embedder.show_progress = before


def _versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def git_commit() -> str | None:
    """The kit's git commit (with "-dirty" when files changed), or None outside a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def _write_run_file(out: Path, cfg: Config, step: int, wall: float, timings: dict,
                    checkpoint: str | None, backend: str, n_train: int, n_test: int,
                    commit: str | None, processes: int = 1) -> None:
    # A resumed run counts the earlier processes' time from the log, which a killed process
    # leaves too (it writes no run.json).
    earlier = earlier_wall_time(read_jsonl(out / METRICS_FILE)) if checkpoint else 0.0
    run = {
        "name": cfg.name, "seed": cfg.train.seed, "global_step": step,
        "max_steps": cfg.train.grpo["max_steps"], "backend": backend,
        "resumed_from": checkpoint, "processes": processes, "wall_time_s": round(wall, 3),
        "total_wall_time_s": round(earlier + wall, 3),
        "reward_time_s": {k: round(v, 3) for k, v in timings.items()},
        "train_users": n_train, "test_users": n_test, "profiler": cfg.profiler.model,
        "embedder": cfg.embed.model, "versions": _versions(), "git_commit": commit,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "reward_folders": reward_folders(cfg),
    }
    write_json(out / RUN_FILE, run)


def reward_folders(cfg: Config) -> list[str]:
    """The folders the run's dotted-path rewards were imported from (`my_rewards.py` next to its
    config), recorded in run.json so a report or evaluation of the run imports them again."""
    import sys
    folders = []
    for spec in cfg.train.rewards:
        module_name = spec.name.rpartition(".")[0]
        file = getattr(sys.modules.get(module_name), "__file__", None)
        if not file or module_name.split(".")[0] in ("bluekit", "trl"):
            continue
        depth = module_name.count(".") + (Path(file).name == "__init__.py")
        folder = str(Path(file).resolve().parents[depth])
        if folder not in folders:
            folders.append(folder)
    return folders


def import_run_rewards(run_dir: str | Path) -> None:
    """Make a finished run's own reward modules importable again (see reward_folders)."""
    from bluekit.config import importable
    path = Path(run_dir) / RUN_FILE
    if path.exists():
        try:
            importable(json.loads(path.read_text()).get("reward_folders", []))
        except (ValueError, AttributeError):
            pass  # an unreadable run.json is reported by whatever reads the run next


@contextlib.contextmanager
def _names_the_folder(folder: Path):
    """A truncated or corrupt adapter/model file becomes one line naming its folder (the loaders'
    own errors name a temporary path, or nothing)."""
    from bluekit.errors import FileFormatError
    try:
        yield
    except Exception as err:  # safetensors, json, OSError, peft's ValueError: any unreadable file
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise FileFormatError(f"{folder}: the trained weights cannot be loaded "
                              f"({type(err).__name__}: {first})") from err


def load_trained_profiler(run_dir: str | Path):
    """(model, tokenizer) of a finished run, ready for generation: base + adapter merged.

    Reads the run's config.yaml to load the same base profiler, then applies final/ (a LoRA
    adapter) or loads final/ itself (full_finetune). Left padding, eval mode.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir = Path(run_dir)
    final = run_dir / FINAL_DIR
    if not final.is_dir():
        raise FileNotFoundError(f"{final} not found: train first (python -m bluekit train) or "
                                f"point to a run folder that has {FINAL_DIR}/")
    cfg = load_config(run_dir / CONFIG_FILE)
    tokenizer = None
    if (final / "adapter_config.json").exists():
        from peft import PeftModel

        from bluekit.llm import load_profiler
        base, tokenizer = load_profiler(cfg.profiler)
        with _names_the_folder(final):
            model = PeftModel.from_pretrained(base, str(final)).merge_and_unload()
    else:
        with _names_the_folder(final):
            model = AutoModelForCausalLM.from_pretrained(str(final))
    # A run saves its tokenizer in final/; a published LoRA run leaves it out and uses the base's.
    if (final / "tokenizer_config.json").exists() or tokenizer is None:
        with _names_the_folder(final):
            tokenizer = AutoTokenizer.from_pretrained(str(final))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer
