"""TRL callbacks that record a training run: metrics.jsonl and snapshots.jsonl.

    MetricsCallback(out)          every TRL log dict (reward, rewards/<name>/mean, kl, lr, ...)
                                  -> {out}/metrics.jsonl, one JSON object per line
    SnapshotCallback(panel, ...)  greedy profiles of a fixed user panel at step 0, every N steps
                                  and at the end -> {out}/snapshots.jsonl, one line per (step, user)
                                  with text, embedding, each reward, the positive item
    TimeBudget(minutes)           stop after a wall-time budget (train.max_minutes)
    SaveAdapterAt(steps, out)     the adapter at chosen steps, as {out}/step-N/ run folders

Both files are appended and flushed line by line, so a crashed run keeps what it logged; on
resume from checkpoint-N the lines after step N (from the lost tail) are dropped first.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from transformers import TrainerCallback

from bluekit.train.records import (METRICS_FILE, SNAPSHOTS_FILE, append_jsonl, distinct_n,
                                   keep_until_step, mean_words, read_jsonl)


# --------------------------------------------------------------------------- callbacks

class MetricsCallback(TrainerCallback):
    """Append every log dict TRL emits to {output_dir}/metrics.jsonl with step and wall time.

    Keys are TRL's own: reward, reward_std, rewards/<name>/mean, rewards/<name>/std,
    completions/mean_length, kl (when beta > 0), entropy, loss, learning_rate, grad_norm,
    step_time; plus step, time (Unix s), elapsed_s (wall time since this process began
    training) and cpu_s (this process's CPU time since then: with one torch thread it hardly
    changes when other jobs share the machine, so runs compare by it).
    """

    def __init__(self, output_dir: str | Path):
        self.path = Path(output_dir) / METRICS_FILE
        self.start, self.cpu_start = time.time(), time.process_time()

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.cpu_start = time.time(), time.process_time()
        keep_until_step(self.path, state.global_step)  # drop a crashed run's lost tail

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs:
            now = time.time()
            append_jsonl(self.path, [{"step": state.global_step, "time": now,
                                      "elapsed_s": now - self.start,
                                      "cpu_s": time.process_time() - self.cpu_start, **logs}])


class SnapshotCallback(TrainerCallback):
    """Greedy profiles of a fixed panel of users, embedded and scored, every `every` steps.

    panel: dataset rows (build_panel: prompt, user_id, positive, history, choices, answer),
    normally held-out test users, so the snapshots show what the profiler does on users it
    never trained on. Writes one line per (step, user) to {output_dir}/snapshots.jsonl:
    step, user_id, text, embedding, rewards {name: value, total}, positive. Also appends the
    panel's diversity (panel/distinct_2, panel/mean_words) and mean rewards to metrics.jsonl.
    Generation runs under torch.random.fork_rng, so snapshots never shift training's sampling.
    """

    def __init__(self, panel: Sequence[dict], every: int, tokenizer, ctx, specs: Sequence[Any],
                 output_dir: str | Path, max_new_tokens: int = 32, batch_size: int = 16,
                 seed: int = 0):
        self.panel = list(panel)
        self.every = max(int(every), 1)
        self.tokenizer = tokenizer
        self.ctx = ctx
        self.specs = list(specs)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.seed = seed
        self.path = Path(output_dir) / SNAPSHOTS_FILE
        self.metrics_path = Path(output_dir) / METRICS_FILE
        self.done: set[int] = set()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        keep_until_step(self.path, state.global_step)
        self.done = {r["step"] for r in read_jsonl(self.path)}
        self._snapshot(model, state.global_step)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every == 0:
            self._snapshot(model, state.global_step)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self._snapshot(model, state.global_step)

    def _snapshot(self, model, step: int) -> None:
        if not self.panel or model is None or step in self.done:
            return
        records, stats = snapshot_records(model, self.tokenizer, self.panel, self.ctx, self.specs,
                                          step, self.max_new_tokens, self.batch_size, self.seed)
        append_jsonl(self.path, records)
        append_jsonl(self.metrics_path, [stats])
        self.done.add(step)


def snapshot_records(model, tokenizer, panel: Sequence[dict], ctx, specs: Sequence[Any], step: int,
                     max_new_tokens: int, batch_size: int = 16, seed: int = 0
                     ) -> tuple[list[dict], dict]:
    """(one record per panel user, one summary record) for the model as it is now."""
    import torch

    from bluekit import profiler, rewards

    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            texts = profiler.generate_profiles(
                model, tokenizer, [row["prompt"] for row in panel], max_new_tokens=max_new_tokens,
                batch_size=batch_size, seed=seed, temperature=0.0, show_progress=False)
    finally:
        model.train(was_training)
    vecs = ctx.embedder.encode_queries(texts)
    table = rewards.score_profiles(texts, panel, ctx, specs)
    reward_names = [c for c in table.columns if c not in ("user_id", "profile")]
    records = []
    for i, row in enumerate(panel):
        records.append({"step": step, "user_id": row["user_id"], "text": texts[i],
                        "embedding": [round(float(x), 6) for x in vecs[i]],
                        "rewards": {name: table[name].iloc[i] for name in reward_names},
                        "positive": row["positive"]})
    stats = {"step": step, "panel/distinct_2": distinct_n(texts, 2),
             "panel/mean_words": mean_words(texts)}
    stats.update({f"panel/{name}": float(table[name].mean()) for name in reward_names})
    return records, stats


class TimeBudget(TrainerCallback):
    """Stop training once `minutes` of training time have passed (train.max_minutes): runs
    compared "under one budget" of CPU time rather than of steps. The step in progress
    finishes; the run then ends as if max_steps had been reached (final/ is saved)."""

    def __init__(self, minutes: float):
        self.seconds = float(minutes) * 60.0
        self.start = time.time()

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.time()

    def on_step_end(self, args, state, control, **kwargs):
        stop = time.time() - self.start >= self.seconds
        if args.world_size > 1:  # every process must stop at the same step (else the rest wait
            from accelerate.utils import broadcast_object_list  # forever): the main one decides
            stop = broadcast_object_list([stop])[0]
        if stop:
            control.should_training_stop = True


class SaveAdapterAt(TrainerCallback):
    """Save the adapter (or model) at chosen steps as small run folders, {out}/step-N/ with
    config.yaml and final/, so each can be evaluated like a finished run (a learning curve
    from one training run). Steps already saved are kept on resume."""

    def __init__(self, steps, output_dir: str | Path, cfg):
        self.steps = {int(s) for s in steps}
        self.output_dir = Path(output_dir)
        self.cfg = cfg

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if state.global_step in self.steps:
            save_step_folder(model, processing_class, self.cfg, self.output_dir, state.global_step)


def save_step_folder(model, tokenizer, cfg, output_dir: str | Path, step: int) -> Path:
    """{output_dir}/step-{step}/: the model's adapter (and tokenizer) in final/, the config."""
    from bluekit.config import save_config
    from bluekit.train.run import CONFIG_FILE, FINAL_DIR

    folder = Path(output_dir) / f"step-{step}"
    model.save_pretrained(str(folder / FINAL_DIR))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(folder / FINAL_DIR))
    save_config(cfg, folder / CONFIG_FILE)
    return folder
