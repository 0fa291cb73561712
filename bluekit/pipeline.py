"""The stages wired together once, so notebooks and the CLI call the same code.

    ws = workspace(load_config("cpu-demo"))   # data -> items embedded -> users split
    baseline_results(ws)                      # random, popularity, last item, mean, raw text (+ ceiling)
    profile_results(ws, run_dir)              # untrained vs trained profiler on held-out users
    profiler_result(ws, name, run_dir)        # one profiler's profiles (cached), evaluated
    published_result(ws, "cpu-long")          # a published run on these users, or None
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bluekit.atomic import read_json, write_json
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

    def reward_rows(self, examples: pd.DataFrame) -> list[dict]:
        """The rows the trainer hands to each reward (prompt, user_id, positive, history)."""
        from bluekit.train.dataset import rows_for_examples
        return rows_for_examples(examples, self.prepared, self.cfg)

    def reward_context(self):
        """The rewards' RewardContext over this workspace's catalogue (reader loads on first use)."""
        from bluekit.rewards import reward_context
        return reward_context(self.cfg, self.prepared, self.embedder, self.item_vecs)


def workspace(cfg: Config, embedder=None) -> Workspace:
    from bluekit.data import load_prepared, train_test_users
    from bluekit.embed import Embedder, item_vectors

    prepared = load_prepared(cfg.data)
    embedder = embedder or Embedder.from_config(cfg.embed)
    items = prepared.items
    vecs = item_vectors(embedder, items.item_id.tolist(), items.text.tolist(), cfg.embed.cache_dir)
    train_users, test_users = train_test_users(prepared, cfg)
    return Workspace(cfg, prepared, embedder, vecs, train_users, evaluation_users(prepared, cfg, test_users))


def evaluation_users(prepared, cfg: Config, held_out: list[str]) -> list[str]:
    """The users evaluated: the held-out users (eval.users "held_out", the zero-shot protocol), or
    every user with a test example (eval.users "all": training users too, as LangPTune evaluates),
    capped at eval.test_users in sorted order either way."""
    if cfg.eval.users == "held_out":
        return held_out
    users = sorted(prepared.splits.test["user_id"].astype(str).unique())
    return users[: cfg.eval.test_users] if cfg.eval.test_users else users


def _eval_kwargs(ws: Workspace) -> dict:
    return dict(items=ws.prepared.items, item_index=ws.prepared.item_index, item_vecs=ws.item_vecs,
                embedder=ws.embedder, ks=tuple(ws.cfg.eval.ks),
                exclude_history=ws.cfg.eval.exclude_history, batch_size=ws.cfg.eval.batch_size)


def baseline_results(ws: Workspace, with_ceiling: bool = True) -> list:
    """The five baselines on the held-out test users, SASRec when eval.id_baseline, plus the demo
    world's ceiling when known."""
    from bluekit import baselines
    from bluekit.evaluate import evaluate_texts

    kw = _eval_kwargs(ws)
    results = baselines.run_baselines(ws.test_examples, train_interactions=ws.prepared.splits.train,
                                      **kw)
    if ws.cfg.eval.id_baseline:  # the ID-based reference row, trained here (not zero-shot)
        from bluekit.sasrec import SASRecSettings
        results.append(baselines.sasrec(ws.test_examples, train_interactions=ws.prepared.splits.train,
                                        valid_examples=ws.prepared.splits.valid,
                                        settings=SASRecSettings.from_dict(ws.cfg.eval.sasrec), **kw))
    if with_ceiling and ws.cfg.data.source == "demo":
        from bluekit.data import synth
        ceiling = synth.ceiling_profiles(ws.cfg.data.demo_dir, ws.cfg.data.domain)
        results.append(evaluate_texts("ceiling (true tastes)", ceiling, ws.test_examples, **kw))
    return results




def generate_test_profiles(ws: Workspace, model, tokenizer, profiler_cfg=None,
                           show_progress: bool = True) -> dict:
    """Greedy profiles for the held-out test users (history without the target), prompted as
    profiler_cfg says (default: the workspace's), on this process's device (the GPU when there is
    one: loaded models start on the CPU). Under `accelerate launch` each process generates its
    share of the users on its own GPU and every process gets them all back
    (bluekit.distributed.map_split)."""
    from bluekit.distributed import map_split, process_state
    from bluekit.profiler import profiles_for_examples

    ex = ws.test_examples
    model = model.to(process_state().device)

    def generate(rows: list[int]) -> list[str]:
        return profiles_for_examples(model, tokenizer, ex.iloc[rows], ws.prepared.interactions,
                                     ws.prepared.items, profiler_cfg or ws.cfg.profiler,
                                     temperature=0.0, show_progress=show_progress)

    texts = map_split(generate, list(range(len(ex))))
    return dict(zip(ex.user_id, texts))


# Data settings added after runs were published, left out of the key at their defaults (which
# prepare the same data as before: tests/test_spill.py), so published profiles still match.
DATA_KEYS_ADDED_LATER = {"max_review_chars": 1000, "official_splits": True}


def profiles_key(ws: Workspace, profiler_cfg, run_dir: str | Path | None = None) -> str:
    """What a set of held-out profiles depends on: the profiler and its prompt and generation
    settings, the data settings, the held-out users and, for a trained run, its weights."""
    import dataclasses
    import hashlib
    import json

    unused = ("cache_dir", "generation_batch_size")  # where files live / how many per batch
    data = {k: v for k, v in dataclasses.asdict(ws.cfg.data).items()
            if k not in ("raw_dir", "demo_dir", "cache_dir")}
    for name, default in DATA_KEYS_ADDED_LATER.items():  # keys older runs were made without
        if data.get(name) == default:
            data.pop(name)
    parts = {"profiler": {k: v for k, v in dataclasses.asdict(profiler_cfg).items() if k not in unused},
             "data": data, "users": list(ws.test_users)}
    if run_dir is not None:
        from bluekit.train.run import FINAL_DIR
        weights = sorted(Path(run_dir, FINAL_DIR).glob("*.safetensors"))
        parts["weights"] = [hashlib.sha256(w.read_bytes()).hexdigest() for w in weights]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _profiles_cache(ws: Workspace, run_dir: str | Path | None):
    """Where a profiler's held-out profiles are read from (in order) and written to, their key and
    the profiler's settings. Untrained profiles live under the embed cache. A run's profiles on its
    own data live in {run_dir}/test_profiles.json (published runs ship theirs); on any other domain
    or users they live under the embed cache, named by run and domain (a transfer never overwrites
    the run's file), and nothing is ever written into data/pretrained/."""
    profiles_dir = Path(ws.cfg.embed.cache_dir) / "profiles"
    if run_dir is None:
        profiler_cfg = ws.cfg.profiler
        key = profiles_key(ws, profiler_cfg)
        path = profiles_dir / f"untrained-{key}.json"
        return [path], path, key, profiler_cfg
    from bluekit.config import load_config
    from bluekit.train import pretrained
    from bluekit.train.run import CONFIG_FILE, PROFILES_FILE
    run_cfg = load_config(Path(run_dir) / CONFIG_FILE)
    key = profiles_key(ws, run_cfg.profiler, run_dir)
    own = Path(run_dir) / PROFILES_FILE
    cached = profiles_dir / f"run-{Path(run_dir).resolve().name}-{ws.prepared.name}-{key}.json"
    published = Path(pretrained.PRETRAINED_DIR).resolve() in Path(run_dir).resolve().parents
    write = own if run_cfg.data == ws.cfg.data and not published else cached
    return [own, cached], write, key, run_cfg.profiler


def cached_test_profiles(ws: Workspace, run_dir: str | Path | None = None) -> dict[str, str] | None:
    """The cached held-out profiles of test_profiles when they are current; None (nothing is
    generated) when they are missing or were made for another prompt, data, users or adapter."""
    paths, _, key, _ = _profiles_cache(ws, run_dir)
    for path in paths:
        if path.exists():
            cached = read_json(path)  # a corrupt file is a one-line error naming it
            if cached.get("key") == key:
                return cached["profiles"]
    return None


def test_profiles(ws: Workspace, run_dir: str | Path | None = None, show_progress: bool = True
                  ) -> dict[str, str]:
    """The held-out users' greedy profiles of the untrained profiler (run_dir None) or of a
    trained run, generated once and cached (where: _profiles_cache; a run's own ones in
    {run_dir}/test_profiles.json, published runs ship theirs). The cache is keyed by profiles_key,
    so a changed prompt, profiler, data, users or adapter regenerates them. A run is prompted with
    its own profiler settings (its config.yaml)."""
    cached = cached_test_profiles(ws, run_dir)
    if cached is not None:
        return cached
    _, path, key, profiler_cfg = _profiles_cache(ws, run_dir)
    if run_dir is None:
        from bluekit.llm import load_profiler
        model, tok = load_profiler(profiler_cfg)
    else:
        from bluekit.train import load_trained_profiler
        model, tok = load_trained_profiler(run_dir)
    profiles = generate_test_profiles(ws, model, tok, profiler_cfg, show_progress)
    write_json(path, {"key": key, "profiles": profiles})
    return profiles


def profiler_result(ws: Workspace, name: str, run_dir: str | Path | None = None,
                    readability: bool = True, reader: bool = True):
    """The untrained profiler's (run_dir None) or a trained run's held-out profiles, embedded and
    ranked against the whole catalogue (profiles from the cache when they are current), with the
    readability measures beside the rank metrics (bluekit.readability) unless told not to;
    reader=False keeps only those that need no reader model (see with_readability)."""
    from bluekit.evaluate import evaluate_texts

    texts = test_profiles(ws, run_dir)
    result = evaluate_texts(name, texts, ws.test_examples, **_eval_kwargs(ws))
    return with_readability(ws, result, [texts.get(u, "") for u in ws.test_examples.user_id],
                            reader=reader) if readability else result


def profile_results(ws: Workspace, run_dir: str | Path | None = None) -> list:
    """Untrained vs trained profiler on the held-out users (readability measures included)."""
    return [profiler_result(ws, "untrained profiler", None),
            profiler_result(ws, "trained profiler (GRPO)", run_dir or ws.cfg.train.output_dir)]


def published_result(ws: Workspace, name: str = "cpu-long"):
    """A published run (data/pretrained/<name>) evaluated on this workspace's held-out users,
    labelled as published; None (with the reason printed) when it does not apply here: it was
    trained on other data, or some of these held-out users were its training users."""
    from bluekit.config import load_config
    from bluekit.data import train_test_users
    from bluekit.train import load_metrics, pretrained_run

    run_dir = pretrained_run(name)
    cfg = load_config(run_dir / "config.yaml")
    if cfg.data != ws.cfg.data:
        print(f"published run {name!r} skipped: trained on {cfg.data.domain} with "
              f"{cfg.data.demo_users} demo users; this workspace is {ws.cfg.data.domain} with "
              f"{ws.cfg.data.demo_users}")
        return None
    its_train_users, _ = train_test_users(ws.prepared, cfg)
    if set(its_train_users) & set(ws.test_users):
        print(f"published run {name!r} skipped: it trained on some of these held-out users")
        return None
    meta = read_json(run_dir / "run.json")
    steps = meta.get("global_step") or int(load_metrics(run_dir)["step"].max())
    chosen = meta.get("published_step")  # publish --step chosen
    trained = f"step {chosen} of {steps}" if chosen is not None else f"{steps} steps"
    return profiler_result(ws, f"{name} profiler (published, {trained})", run_dir)


_READERS: dict = {}


def base_reader(ws: Workspace) -> tuple:
    """The frozen base profiler (model, tokenizer), loaded once per process: the quiz's reader
    and the fluency model, the same for every method so their numbers compare."""
    from bluekit.llm import load_reader

    key = (ws.cfg.profiler.model, ws.cfg.profiler.dtype)
    if key not in _READERS:
        _READERS[key] = load_reader(ws.cfg.profiler, device="cpu" if ws.cfg.profiler.model == "tiny" else None)
    return _READERS[key]


def with_readability(ws: Workspace, result, texts: list[str], reader: bool = True, quiz: bool = True):
    """Attach the readability measures of these texts (one per held-out example row) to a
    MethodResult: item-description share, repetition, history coverage, and (reader=True) the
    quiz accuracy (unless quiz=False) and fluency under the frozen base profiler."""
    import hashlib
    import json

    from bluekit import readability
    from bluekit.hardware import resolve_dtype

    # The measures depend only on these texts, the held-out examples, the catalogue and the
    # reader: cached, so a report or a rebuilt table does not run the quiz again.
    key = hashlib.sha256(json.dumps([texts, ws.test_examples.user_id.tolist(), len(ws.item_vecs),
                                     ws.embedder.name if hasattr(ws.embedder, "name") else "",
                                     ws.cfg.profiler.model, resolve_dtype(ws.cfg.profiler.dtype), reader,
                                     readability.READABILITY_METRICS] + ([] if quiz else ["no quiz"])
                                    ).encode()).hexdigest()[:16]
    cache = Path(ws.cfg.embed.cache_dir) / "readability" / f"{key}.csv"
    if cache.exists():
        measures = pd.read_csv(cache)
    else:
        measures = readability.measure(
            texts, ws.test_examples, item_index=ws.prepared.item_index, item_vecs=ws.item_vecs,
            titles=ws.prepared.items.title.fillna("").astype(str).tolist(), embedder=ws.embedder,
            reader=base_reader(ws) if reader else None, quiz=quiz)  # one fixed quiz for every run
        from bluekit.atomic import atomic_path
        with atomic_path(cache) as tmp:
            measures.to_csv(tmp, index=False, float_format="%.17g")
    return readability.add_readability(result, measures)


def readability_references(ws: Workspace, baselines: list | None = None) -> list:
    """The rows readability is read against besides the untrained profiler: raw history text
    (the same titles the baseline embeds) and no text at all (the quiz's floor: the reader
    guesses; every target ranks last). A raw-history result already in `baselines`
    (baseline_results) gets the measures attached instead of being ranked again."""
    from bluekit.baselines import history_texts, raw_history_text
    from bluekit.evaluate import evaluate_texts

    kw = _eval_kwargs(ws)
    raw = next((r for r in baselines or [] if r.name == "raw history text"), None) \
        or raw_history_text(ws.test_examples, **kw)
    texts = history_texts(ws.test_examples, ws.prepared.items, ws.prepared.item_index)
    empty = evaluate_texts("no profile", [""] * len(ws.test_examples), ws.test_examples, **kw)
    return [with_readability(ws, raw, texts), with_readability(ws, empty, [""] * len(texts))]


def save_table(results: list, stem: str | Path) -> pd.DataFrame:
    """Write results as CSV, Markdown and JSON (per-user scores included) next to each other."""
    from bluekit.evaluate import results_table, save_results

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    table = results_table(results)
    table.to_csv(stem.with_suffix(".csv"))
    save_results(results, stem.with_suffix(".json"))
    return table

