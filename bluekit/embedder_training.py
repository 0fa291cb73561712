"""BLUE's trainable-embedder condition: embedder rounds between GRPO steps, and frozen vs tuned.

    tune_embedder(embedder, profiles, item_texts, cfg.embed)   # one round on (profile, next item) pairs
    EmbedderRounds(...)                                        # the rounds, inside GRPO training
    results, tests = frozen_vs_tuned(ws, run_dir)              # held-out users, both embedders

A round follows LangPTune's order (ZhaolinGao/LangPTune, src/langptune_gemma.py): write the
training users' current profiles, train the embedder on (profile, next item text) pairs, re-embed
the whole catalogue, then run the next `embed.round_steps` GRPO steps with the rewards reading the
new vectors (RewardContext.set_item_vecs; the profiles are embedded by the same, tuned, model).
The first round runs before GRPO step 0. The loss is sentence-transformers' own
MultipleNegativesRankingLoss (in-batch negatives; `embed.symmetric` adds the item -> profile
direction, what MultipleNegativesSymmetricRankingLoss was before 6.x merged it into MNRL),
trained with SentenceTransformerTrainer; no hand-written loss.

Pairs (`embed.pairs`): "regenerate" writes every training user's greedy profile with the current
policy (LangPTune); "completions" reuses the GRPO completions sampled since the last round (free,
but sampled at the training temperature and only for the users the steps drew).

Cost on cpu-demo (560 training users, 1182 items; bench/bench_embedder_round.py, one thread, a
2-core AMD EPYC shared with other jobs, so CPU seconds): regenerating the pairs 115 s, one MNRL epoch
64 s, re-embedding the catalogue 28 s: a round is ~208 CPU s with regenerated profiles, ~92 s with
GRPO's completions, against ~17-20 CPU s per GRPO step. With round_steps 30 (rounds at steps 0, 30
and 60 of 90) regenerating adds about 40% to training. The default stays "regenerate": the pairs
are the greedy profiles evaluation embeds, every training user counts once, and a round can run
before step 0; "completions" is the cheaper option when rounds are frequent.

`embed.lora_rank: r` trains a LoRA adapter (peft) on the embedder's attention and dense layers
instead of every weight: about 3% of MiniLM's weights, saved in ~3 MB instead of 90, so a run can be
published in git (the cpu-long-tuned preset).

A run folder with a trainable embedder also holds:
    embedder/          the tuned SentenceTransformer after the last round (or lora/, its adapter)
                       + round.json
    embedder-cache/    the catalogue's vectors of that version (items-<model>+tuned-<sha>.npz)
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from transformers import TrainerCallback

from bluekit.atomic import read_json, write_json
from bluekit.embed import Embedder, clean_texts, item_vectors

log = logging.getLogger(__name__)

EMBEDDER_DIR = "embedder"
EMBEDDER_CACHE_DIR = "embedder-cache"
ROUND_FILE = "round.json"
LORA_DIR = "lora"  # embedder/lora/: the adapter of a run with embed.lora_rank > 0


# --------------------------------------------------------------------------- one round

def add_lora(embedder: Embedder, rank: int) -> None:
    """Train a LoRA adapter (peft) of rank `rank` on the embedder's attention and dense layers
    from now on, instead of every weight: the tuned embedder then saves as a ~3 MB adapter."""
    from peft import LoraConfig, get_peft_model
    module = embedder.model[0]  # sentence-transformers' Transformer module
    module.model = get_peft_model(module.model, LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=["query", "key", "value", "dense"]))


def _lora_model(embedder: Embedder):
    """The embedder's peft model when it trains a LoRA adapter, else None."""
    from peft import PeftModel
    inner = getattr(embedder.model[0], "model", None)
    return inner if isinstance(inner, PeftModel) else None


def loss_for(model, symmetric: bool = False, scale: float = 20.0):
    """sentence-transformers' MultipleNegativesRankingLoss: profile -> its item among the batch's
    items; with `symmetric` also item -> its profile, one softmax per direction (the library's
    replacement for MultipleNegativesSymmetricRankingLoss)."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    if symmetric:
        return MultipleNegativesRankingLoss(model, scale=scale,
                                            directions=("query_to_doc", "doc_to_query"),
                                            partition_mode="per_direction")
    return MultipleNegativesRankingLoss(model, scale=scale)


def tune_embedder(embedder: Embedder, profiles: Sequence[str], item_texts: Sequence[str], *,
                  lr: float = 2e-5, epochs: int = 1, batch_size: int = 32, symmetric: bool = False,
                  scale: float = 20.0, seed: int = 0) -> dict:
    """Fine-tune the embedder in place on (profile, next item text) pairs with
    SentenceTransformerTrainer; its `.name` then carries the new weights' version, so item
    caches of other weights are never reused. Batches hold no duplicate text (an item that is
    the next item of two users would otherwise be its own false negative).

    Returns {"pairs", "steps", "loss" (the trainer's mean training loss), "seconds", "version"}.
    """
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    queries, documents = clean_texts(profiles), clean_texts(item_texts)
    if len(queries) != len(documents):
        raise ValueError(f"tune_embedder: {len(queries)} profiles but {len(documents)} item texts")
    if len(queries) < 2:
        raise ValueError("tune_embedder needs at least 2 pairs (in-batch negatives)")
    model = embedder.model
    prompts = {k: p for k, p in (("anchor", literal_prompt(embedder, embedder.query_prompt)),
                                 ("positive", literal_prompt(embedder, embedder.document_prompt))) if p}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, _rng_kept():
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
            learning_rate=lr, seed=seed, save_strategy="no", report_to="none", logging_steps=1,
            use_cpu=str(model.device) == "cpu", dataloader_num_workers=0, disable_tqdm=True,
            batch_sampler=BatchSamplers.NO_DUPLICATES, prompts=prompts or None)
        trainer = SentenceTransformerTrainer(
            model=model, args=args, loss=loss_for(model, symmetric, scale),
            train_dataset=Dataset.from_dict({"anchor": queries, "positive": documents}))
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        out = trainer.train()
    model.eval()
    version = embedder_version(embedder)
    embedder.name = f"{embedder.base_name}+tuned-{version}"
    return {"pairs": len(queries), "steps": int(out.global_step), "loss": float(out.training_loss),
            "seconds": round(time.perf_counter() - start, 3), "version": version}


def embedder_version(embedder: Embedder) -> str:
    """sha1 (12 hex) of the embedder's weights: the key of its item-vector cache."""
    digest = hashlib.sha1()
    for name, tensor in sorted(embedder.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def literal_prompt(embedder: Embedder, prompt: str | None) -> str | None:
    """The prompt text itself, whether given as a model-defined prompt name or literally."""
    if not prompt:
        return None
    return (embedder.model.prompts or {}).get(prompt, prompt) or None


def pair_retrieval_mrr(embedder, profiles: Sequence[str], item_texts: Sequence[str]) -> float:
    """Mean reciprocal rank of each profile's own item among all the pairs' items (distinct
    texts): how well the embedder retrieves its training pairs."""
    docs = list(dict.fromkeys(clean_texts(item_texts)))
    row = {t: i for i, t in enumerate(docs)}
    sims = embedder.encode_queries(list(profiles)) @ embedder.encode_documents(docs).T
    target = np.array([row[t] for t in clean_texts(item_texts)])
    own = sims[np.arange(len(target)), target]
    ranks = 1 + (sims > own[:, None]).sum(axis=1)
    return float(np.mean(1.0 / ranks))


@contextlib.contextmanager
def _rng_kept():
    """The trainer seeds Python, NumPy and torch: put their states back so GRPO's sampling goes
    on as it would have."""
    import torch
    py, npy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        yield
    random.setstate(py)
    np.random.set_state(npy)


# --------------------------------------------------------------------------- saving and loading

def save_embedder(embedder: Embedder, run_dir: str | Path, info: dict) -> Path:
    """{run}/embedder/: the tuned SentenceTransformer and round.json, replaced as a whole."""
    final = Path(run_dir) / EMBEDDER_DIR
    tmp = final.with_name(EMBEDDER_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    lora = _lora_model(embedder)
    if lora is not None:  # the adapter only; loading lays it over the base embedder (embed.model)
        lora.save_pretrained(str(tmp / LORA_DIR))
        _portable_adapter(tmp / LORA_DIR, embedder.base_name)
    else:
        embedder.model.save(str(tmp))
    write_json(tmp / ROUND_FILE, {**info, "name": embedder.name, "base": embedder.base_name,
                                  "lora": lora is not None})
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def _portable_adapter(folder: Path, base_name: str) -> None:
    """peft writes the base model's local path (inside this machine's venv) into the adapter's
    config and a model card: name the base by its kit name instead, and drop the card."""
    config = read_json(folder / "adapter_config.json")
    config["base_model_name_or_path"] = base_name
    write_json(folder / "adapter_config.json", config)
    (folder / "README.md").unlink(missing_ok=True)


def load_tuned_embedder(run_dir: str | Path, embed_cfg, merge: bool = True) -> Embedder | None:
    """The run's tuned embedder (None when the run has none), with the run's prompts and a name
    that carries its version. A LoRA-tuned one is the base embedder (embed.model) with the
    adapter laid over it: merged into the weights, or kept apart to train on (merge=False)."""
    folder = Path(run_dir) / EMBEDDER_DIR
    if not (folder / ROUND_FILE).exists():
        return None
    info = read_json(folder / ROUND_FILE)
    lora = folder / LORA_DIR
    embedder = Embedder(model=embed_cfg.model if lora.is_dir() else str(folder), device=embed_cfg.device,
                        batch_size=embed_cfg.batch_size, query_prompt=embed_cfg.query_prompt,
                        document_prompt=embed_cfg.document_prompt, show_progress=False)
    if lora.is_dir():
        from peft import PeftModel
        module = embedder.model[0]
        module.model = PeftModel.from_pretrained(module.model, str(lora), is_trainable=not merge)
        if merge:
            module.model = module.model.merge_and_unload()
    embedder.base_name, embedder.name = info["base"], info["name"]
    return embedder


def run_item_vectors(embedder: Embedder, items, run_dir: str | Path) -> np.ndarray:
    """The catalogue under this embedder version, cached in {run}/embedder-cache/ (one file per
    version; older versions' files are removed: weights only move forward within a run)."""
    cache = Path(run_dir) / EMBEDDER_CACHE_DIR
    vecs = item_vectors(embedder, items["item_id"].tolist(), items["text"].tolist(), cache,
                        show_progress=False)
    from bluekit.embed import cache_path
    keep = cache_path(cache, embedder)
    for old in cache.glob("items-*.npz"):
        if old != keep:
            old.unlink(missing_ok=True)
    return vecs


# --------------------------------------------------------------------------- rounds in training

class CompletionPairs:
    """Wrap a TRL reward: note each (completion, positive item) it scores, for embed.pairs =
    "completions". Keeps the reward's __name__ (TRL logs by it)."""

    def __init__(self, func):
        self.func = func
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        self.pairs: list[tuple[str, str]] = []

    def __call__(self, **kwargs):
        from bluekit.rewards.core import completion_text
        self.pairs.extend(zip((completion_text(c) for c in kwargs.get("completions") or []),
                              (str(p) for p in kwargs.get("positive") or [])))
        return self.func(**kwargs)

    def take(self) -> list[tuple[str, str]]:
        pairs, self.pairs = self.pairs, []
        return pairs


class EmbedderRounds(TrainerCallback):
    """Embedder rounds inside GRPO training (see the module docstring): before step 0 (pairs =
    "regenerate") and after every `embed.round_steps` steps until the last. Each round is logged
    to metrics.jsonl (embed/loss, embed/pair_mrr_before/after, embed/seconds, ...), and the
    tuned embedder saved in {run}/embedder/. On resume the saved embedder is loaded again."""

    def __init__(self, ctx, rows: Sequence[dict], cfg, output_dir: str | Path, tokenizer,
                 recorder: CompletionPairs | None = None, save: bool = True):
        self.ctx, self.rows, self.cfg, self.save = ctx, list(rows), cfg, save
        self.out = Path(output_dir)
        self.tokenizer = tokenizer
        self.recorder = recorder
        self.text_of = dict(zip(ctx.item_ids, ctx.items["text"].astype(str))) \
            if ctx.items is not None else dict(zip(ctx.item_ids, ctx.item_titles))

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step > 0 and (self.out / EMBEDDER_DIR / ROUND_FILE).exists():
            tuned = load_tuned_embedder(self.out, self.cfg.embed, merge=False)
            self.ctx.embedder.model, self.ctx.embedder.name = tuned.model, tuned.name
            self._reembed()
            return
        if self.save:  # a fresh start
            shutil.rmtree(self.out / EMBEDDER_DIR, ignore_errors=True)
        if state.global_step == 0 and self.recorder is None:
            self._round(model, 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        every = self.cfg.embed.round_steps
        if every > 0 and state.global_step % every == 0 and state.global_step < state.max_steps:
            self._round(model, state.global_step)

    def _pairs(self, model) -> tuple[list[str], list[str]]:
        if self.recorder is not None:
            pairs = self.recorder.take()
            return [p for p, _ in pairs], [self.text_of.get(i, "") for _, i in pairs]
        import torch

        from bluekit import profiler
        was_training = model.training
        model.eval()
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                texts = profiler.generate_profiles(
                    model, self.tokenizer, [r["prompt"] for r in self.rows],
                    max_new_tokens=self.cfg.train.grpo["max_completion_length"],
                    batch_size=self.cfg.profiler.generation_batch_size, seed=self.cfg.train.seed,
                    temperature=0.0, show_progress=False)
        finally:
            model.train(was_training)
        return texts, [self.text_of.get(r["positive"], "") for r in self.rows]

    def _round(self, model, step: int) -> None:
        from bluekit.train.records import METRICS_FILE, append_jsonl
        e = self.cfg.embed
        start = time.perf_counter()
        profiles, items = self._pairs(model)
        pair_s = time.perf_counter() - start
        if len(profiles) < 2:
            log.warning("embedder round at step %d skipped: %d pairs", step, len(profiles))
            return
        before = pair_retrieval_mrr(self.ctx.embedder, profiles, items)
        stats = tune_embedder(self.ctx.embedder, profiles, items, lr=e.contrastive_lr,
                              epochs=e.contrastive_epochs, batch_size=e.contrastive_batch_size,
                              symmetric=e.symmetric, scale=e.contrastive_scale,
                              seed=self.cfg.train.seed + step)
        after = pair_retrieval_mrr(self.ctx.embedder, profiles, items)
        embed_start = time.perf_counter()
        self._reembed()
        record = {"step": step, "embed/pairs": stats["pairs"], "embed/steps": stats["steps"],
                  "embed/loss": stats["loss"], "embed/pair_mrr_before": before,
                  "embed/pair_mrr_after": after, "embed/pairs_s": round(pair_s, 3),
                  "embed/train_s": stats["seconds"],
                  "embed/reembed_s": round(time.perf_counter() - embed_start, 3),
                  "embed/seconds": round(time.perf_counter() - start, 3),
                  "embed/version": stats["version"]}
        if self.save:  # the main process (every process tunes its own copy alike)
            save_embedder(self.ctx.embedder, self.out, {**record, "pairs_from": e.pairs})
            append_jsonl(self.out / METRICS_FILE, [record])

    def _reembed(self) -> None:
        items = self.ctx.items if self.ctx.items is not None else None
        if items is None:
            import pandas as pd
            items = pd.DataFrame({"item_id": self.ctx.item_ids, "text": self.ctx.item_titles})
        self.ctx.set_item_vecs(run_item_vectors(self.ctx.embedder, items, self.out))


def embedder_rounds(ctx, rows, cfg, output_dir, tokenizer, reward_funcs: list,
                    save: bool = True) -> EmbedderRounds:
    """The rounds callback of a trainable-embedder run; with embed.pairs = "completions" the first
    reward is wrapped (in place in reward_funcs) to note the completions it scores. The rewards'
    embedder becomes a copy, so the embedder passed in (a notebook's workspace's) stays frozen."""
    ctx.embedder = copy.deepcopy(ctx.embedder)
    if cfg.embed.lora_rank > 0:
        add_lora(ctx.embedder, cfg.embed.lora_rank)
    recorder = None
    if cfg.embed.pairs == "completions":
        recorder = CompletionPairs(reward_funcs[0])
        reward_funcs[0] = recorder
    return EmbedderRounds(ctx, rows, cfg, output_dir, tokenizer, recorder, save)


# --------------------------------------------------------------------------- evaluation

def frozen_vs_tuned(ws, run_dir: str | Path, metrics: Sequence[str] = ("mrr", "ndcg@10", "recall@10")):
    """The held-out users ranked under the frozen embedder and the run's tuned one: the run's
    trained profiles, the untrained profiler's and raw history text, each under both (the same
    texts, the same users), with a paired test frozen vs tuned per text and metric.

    Returns (results: list of MethodResult, tests: DataFrame one row per text x metric)."""
    import pandas as pd

    from bluekit import pipeline
    from bluekit.baselines import history_texts
    from bluekit.evaluate import evaluate_texts, paired_test

    tuned = load_tuned_embedder(run_dir, ws.cfg.embed)
    if tuned is None:
        from bluekit.errors import KitError
        raise KitError(f"{run_dir}: no {EMBEDDER_DIR}/{ROUND_FILE} (was it trained with "
                       f"embed.trainable: true?)")
    tuned_vecs = run_item_vectors(tuned, ws.prepared.items, run_dir)
    ex = ws.test_examples
    texts = {"trained profiler": pipeline.test_profiles(ws, run_dir),
             "untrained profiler": pipeline.test_profiles(ws, None),
             "raw history text": history_texts(ex, ws.prepared.items, ws.prepared.item_index)}
    kw = dict(item_index=ws.prepared.item_index, ks=tuple(ws.cfg.eval.ks),
              exclude_history=ws.cfg.eval.exclude_history, batch_size=ws.cfg.eval.batch_size,
              show_progress=False)
    results, tests = [], []
    for label, text in texts.items():
        frozen = evaluate_texts(f"{label} | frozen embedder", text, ex, embedder=ws.embedder,
                                item_vecs=ws.item_vecs, **kw)
        tuned_result = evaluate_texts(f"{label} | tuned embedder", text, ex, embedder=tuned,
                                      item_vecs=tuned_vecs, **kw)
        results += [frozen, tuned_result]
        tests += [{"texts": label, **paired_test(frozen, tuned_result, metric)} for metric in metrics]
    return results, pd.DataFrame(tests)
