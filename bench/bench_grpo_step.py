"""Where does a GRPO step's time go? Generation, reward and update, per setting, on this machine.

Times are CPU seconds of this process (time.process_time), not wall time: with one torch thread
they barely move when other jobs share the machine, so settings measured at different moments
compare. (The reward's share uses TimedReward's wall time; on a loaded machine it reads high.)

Each setting runs a few real GRPO steps through bluekit.train.train_profiler on the cpu-demo
data (demo world + all-MiniLM-L6-v2 rewards). Per step: generation = time inside the policy's
`generate` (wrapped), reward = time inside the reward callables (TimedReward), update = the
rest of the step (log-probs, loss, backward, optimizer). The first step is a warm-up and is
not counted. Goal: reward under 10% of a step.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_grpo_step.py --only tiny smol-r8-attn
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_grpo_step.py --steps 6 \
        --set profiler.max_history_items=6 --set profiler.prompt_token_budget=96

--set applies to every setting (e.g. a shorter prompt); --preset picks the base preset.

What matters on CPU is the prompt length: each step runs the model over 8 x (prompt +
completion) tokens for generation and again for the update. With cpu-demo's ~450-token
prompts a SmolLM2 step took 68 s (2 threads); with a brief ~140-token prompt 15-21 s (one
thread), bf16 (AMX CPUs) 1.4x faster than fp32; the reward (MiniLM) stays under 1% of a step.

Measured 2026-11-25 (this 2-core Xeon with AMX, quiet, OMP_NUM_THREADS=1, 4 steps, brief
~140-token prompts: --set profiler.template=<brief> --set profiler.max_history_items=6
--set profiler.prompt_token_budget=96; s/step = generate + reward + update):

    setting               s/step  generate  reward  update reward %  tokens
    tiny (full)             0.23      0.07   0.061    0.10    26.6%    32.0
    smol-r8-attn (fp32)    20.76      9.28   0.074   11.62     0.4%    27.7
    smol-r8-attn-bf16      15.12      6.30   0.073    8.58     0.5%    27.8
    smol-r16-attn          21.24      9.30   0.073   11.87     0.3%    26.6
    smol-r8-all            23.32     10.08   0.073   13.25     0.3%    27.0
    smol-r8-attn-48tok     25.64     12.76   0.100   12.96     0.4%    34.7

Measured 2026-12-04 (2-core AMD EPYC, avx512_bf16, no AMX, shared with a training study,
OMP_NUM_THREADS=1, 4 steps, cpu-demo's brief prompts; CPU s per step):

    setting               s/step  generate  reward  update reward % tokens  wall s
    smol-r8-attn           17.63      5.82   0.576   11.69     3.3%   25.0   343.0
    smol-r8-attn-bf16      17.14      5.36   0.211   11.56     1.2%   24.8   162.1

so bf16 is no slower there (0.97x); bluekit.hardware's "auto" chooses per machine.

The machine is shared: compare rows of one run. Two torch threads next to other jobs stall
badly (the same step 5 s, then 90 s); one thread is steady, so use OMP_NUM_THREADS=1 there.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SMOL_LORA = {"profiler.model": "smollm2-135m", "train.full_finetune": False,
             "train.grpo.bf16": False}
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
ALL_LINEAR = ATTENTION + ["gate_proj", "up_proj", "down_proj"]
R8 = {**SMOL_LORA, "train.lora.r": 8, "train.lora.lora_alpha": 16,
      "train.lora.target_modules": ATTENTION}
BF16 = {**R8, "train.grpo.bf16": True}
TOP8 = {**BF16, "train.lora.layers_to_transform": list(range(22, 30))}  # SmolLM2-135M: 30 layers

# name -> config overrides on top of the preset (cpu-demo by default)
SETTINGS: dict[str, dict] = {
    "tiny": {"profiler.model": "tiny", "train.full_finetune": True},
    "smol-r8-attn": R8,
    "smol-r8-attn-bf16": BF16,
    "smol-r16-attn": {**R8, "train.lora.r": 16, "train.lora.lora_alpha": 32},
    "smol-r8-all": {**R8, "train.lora.target_modules": ALL_LINEAR},
    "smol-r8-attn-48tok": {**R8, "train.grpo.max_completion_length": 48},
    # levers for more users per CPU second (docs/TRAINING-ON-CPU.md, the learning study)
    "bf16-top8-layers": TOP8,
    "bf16-top4-layers": {**BF16, "train.lora.layers_to_transform": list(range(26, 30))},
    "bf16-16-completions": {**BF16, "train.grpo.per_device_train_batch_size": 16},
    "top8-16-completions": {**TOP8, "train.grpo.per_device_train_batch_size": 16},
    "top8-4x8": {**TOP8, "train.grpo.per_device_train_batch_size": 32,
                 "train.grpo.num_generations": 8},
    "top8-2-iterations": {**TOP8, "train.grpo.num_iterations": 2},
    "top8-4-items": {**TOP8, "profiler.max_history_items": 4},
}


def step_timer():
    """A TrainerCallback that wraps model.generate and times each step's parts."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.generation = 0.0
            self.rows: list[dict] = []
            self.reward_timings: dict[str, float] = {}

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            original = model.generate

            def timed_generate(*a, **kw):
                start = time.process_time()
                try:
                    return original(*a, **kw)
                finally:
                    self.generation += time.process_time() - start
            model.generate = timed_generate  # the trainer generates with this very object

        def on_step_begin(self, args, state, control, **kwargs):
            self.start = time.process_time()
            self.gen0 = self.generation
            self.reward0 = sum(self.reward_timings.values())

        def on_step_end(self, args, state, control, **kwargs):
            total = time.process_time() - self.start
            gen = self.generation - self.gen0
            reward = sum(self.reward_timings.values()) - self.reward0
            self.rows.append({"total": total, "generation": gen, "reward": reward,
                              "update": total - gen - reward})
    return StepTimer()


def run_setting(name: str, overrides: dict, steps: int, workspace, out_root: Path,
                preset: str = "cpu-demo", common: dict | None = None) -> dict:
    from bluekit.config import load_config
    from bluekit.train import train_profiler

    cfg = load_config(preset, {
        **(common or {}), **overrides, "train.grpo.max_steps": steps, "train.grpo.save_steps": 10_000,
        "train.panel_users": 0, "train.output_dir": str(out_root / name)})
    timer = step_timer()
    start = time.perf_counter()
    result = train_profiler(cfg, prepared=workspace.prepared, embedder=workspace.embedder,
                            item_vecs=workspace.item_vecs, resume=False, progress=False,
                            extra_callbacks=[timer], reward_timings=timer.reward_timings)
    wall = time.perf_counter() - start
    measured = timer.rows[1:] or timer.rows  # step 1 warms caches up
    med = {k: statistics.median(r[k] for r in measured) for k in ("total", "generation", "reward",
                                                                  "update")}
    lengths = result.metrics.get("completions/mean_length")
    return {"setting": name, **med, "reward_share": med["reward"] / med["total"],
            "completion_tokens": float(lengths.dropna().mean()) if lengths is not None else float("nan"),
            "wall_incl_setup": wall, "steps": len(measured)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="steps per setting (first is warm-up)")
    parser.add_argument("--only", nargs="*", choices=list(SETTINGS), help="subset of settings")
    parser.add_argument("--preset", default="cpu-demo", help="preset the settings modify")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override for every setting, e.g. --set profiler.max_history_items=5")
    args = parser.parse_args(argv)
    from bluekit.config import parse_yaml
    common = {k: parse_yaml(v) for k, _, v in (s.partition("=") for s in args.set)}

    import torch
    from bluekit import pipeline
    from bluekit.config import load_config

    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    torch.set_num_threads(threads)
    print(f"torch threads: {threads}; preparing cpu-demo data and item vectors ...", flush=True)
    cfg = load_config(args.preset, common)
    workspace = pipeline.workspace(cfg)
    grpo = cfg.train.grpo
    print(f"{args.preset} {common or ''}: {grpo['per_device_train_batch_size']} completions/step "
          f"({grpo['num_generations']} per user), rewards "
          + ", ".join(f"{r.name} x{r.weight}" for r in cfg.train.rewards), flush=True)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or SETTINGS:
            print(f"  {name} ...", flush=True)
            rows.append(run_setting(name, SETTINGS[name], args.steps, workspace, Path(tmp),
                                    args.preset, common))

    header = (f"{'setting':<20} {'s/step':>7} {'generate':>9} {'reward':>7} {'update':>7} "
              f"{'reward %':>8} {'tokens':>6} {'wall s':>7}")
    print("\nmedian seconds per GRPO step (steps 2..N)\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r['setting']:<20} {r['total']:7.2f} {r['generation']:9.2f} {r['reward']:7.3f} "
              f"{r['update']:7.2f} {100 * r['reward_share']:7.1f}% {r['completion_tokens']:6.1f} "
              f"{r['wall_incl_setup']:7.1f}")


if __name__ == "__main__":
    main()
