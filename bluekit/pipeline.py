"""The stages wired together once, so notebooks and the CLI call the same code.

    ws = workspace(load_config("cpu-demo"))   # data -> items embedded -> users split
    baseline_results(ws)                      # random, popularity, last item, mean, raw text (+ ceiling)
    profile_results(ws, run_dir)              # untrained vs trained profiler on held-out users
    profiler_result(ws, name, run_dir)        # one profiler's profiles, evaluated
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bluekit.config import Config


@dataclass
class Workspace:
    """Everything the later stages need about one domain, built once."""
    cfg: Config
    prepared: "object"  # bluekit.data.prep.Prepared
    embedder: "object"  # bluekit.embed.Embedder
    item_vecs: np.ndarray  # rows aligned with prepared.items
    train_users: list[str]
    test_users: list[str]

    @property
    def test_examples(self) -> pd.DataFrame:
        """Held-out users' test examples (last item = target), the zero-shot evaluation set."""
        test = self.prepared.splits.test
        return test[test.user_id.isin(set(self.test_users))].reset_index(drop=True)

    def reward_context(self):
        """The rewards' RewardContext over this workspace's catalogue (reader loads on first use)."""
        from bluekit.train.run import reward_context
        return reward_context(self.cfg, self.prepared, self.embedder, self.item_vecs)

    @property
    def train_examples(self) -> pd.DataFrame:
        """Training users' validation examples (second-last item = target): what RL trains on."""
        valid = self.prepared.splits.valid
        return valid[valid.user_id.isin(set(self.train_users))].reset_index(drop=True)


def workspace(cfg: Config, embedder=None) -> Workspace:
    from bluekit.data import load_prepared
    from bluekit.embed import Embedder, item_vectors
    from bluekit.train.dataset import split_train_test_users

    prepared = load_prepared(cfg.data)
    embedder = embedder or Embedder.from_config(cfg.embed)
    items = prepared.items
    vecs = item_vectors(embedder, items.item_id.tolist(), items.text.tolist(), cfg.embed.cache_dir)
    train_users, test_users = split_train_test_users(prepared, cfg)
    return Workspace(cfg, prepared, embedder, vecs, train_users, test_users)


def _eval_kwargs(ws: Workspace) -> dict:
    return dict(items=ws.prepared.items, item_index=ws.prepared.item_index, item_vecs=ws.item_vecs,
                embedder=ws.embedder, ks=tuple(ws.cfg.eval.ks),
                exclude_history=ws.cfg.eval.exclude_history)


def baseline_results(ws: Workspace, with_ceiling: bool = True) -> list:
    """The five baselines on the held-out test users, plus the demo world's ceiling when known."""
    from bluekit import baselines

    kw = _eval_kwargs(ws)
    results = baselines.run_baselines(ws.test_examples, train_interactions=ws.prepared.splits.train,
                                      **kw)
    if with_ceiling and ws.cfg.data.source == "demo":
        from bluekit.data import synth
        ceiling = synth.ceiling_profiles(ws.cfg.data.demo_dir, ws.cfg.data.domain)
        results.append(baselines.evaluate_texts("ceiling (true tastes)", ceiling,
                                                ws.test_examples, **kw))
    return results


def generate_test_profiles(ws: Workspace, model, tokenizer, show_progress: bool = True) -> dict:
    """Greedy profiles for the held-out test users (history without the target)."""
    from bluekit.profiler import profiles_for_examples

    ex = ws.test_examples
    texts = profiles_for_examples(model, tokenizer, ex, ws.prepared.interactions, ws.prepared.items,
                                  ws.cfg.profiler, temperature=0.0, show_progress=show_progress)
    return dict(zip(ex.user_id, texts))


def profiler_result(ws: Workspace, name: str, run_dir: str | Path | None = None,
                    save_to: str | Path | None = None):
    """Greedy profiles of the held-out users, embedded and ranked: the untrained profiler
    (run_dir None) or a trained run's. save_to: a JSON file for the profiles (user -> text)."""
    from bluekit import baselines
    from bluekit.llm import load_causal_lm
    from bluekit.train import load_trained_profiler

    if run_dir is None:
        p = ws.cfg.profiler
        model, tok = load_causal_lm(p.model, p.cache_dir, p.dtype)
    else:
        model, tok = load_trained_profiler(run_dir)
    profiles = generate_test_profiles(ws, model, tok)
    if save_to is not None:
        write_json_atomic(save_to, profiles)
    return baselines.evaluate_texts(name, profiles, ws.test_examples, **_eval_kwargs(ws))


def profile_results(ws: Workspace, run_dir: str | Path | None = None) -> list:
    """Untrained vs trained profiler on the held-out users; profiles saved in the run folder."""
    run_dir = Path(run_dir or ws.cfg.train.output_dir)
    return [profiler_result(ws, "untrained profiler", None, run_dir / "test_profiles_untrained.json"),
            profiler_result(ws, "trained profiler (GRPO)", run_dir,
                            run_dir / "test_profiles_trained.json")]


def save_table(results: list, stem: str | Path) -> pd.DataFrame:
    """Write results as CSV, Markdown and JSON (per-user scores included) next to each other."""
    from bluekit.evaluate import results_table, save_results

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    table = results_table(results)
    table.to_csv(stem.with_suffix(".csv"))
    save_results(results, stem.with_suffix(".json"))
    return table


def write_json_atomic(path: str | Path, data) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
