"""What does one trainable-embedder round cost? Its three parts, timed on a preset's data:

  1. pairs: greedy profiles of the training users with the (untrained) profiler, timed on
     --users of them and extrapolated to all (embed.pairs = regenerate); reusing GRPO's own
     completions (embed.pairs = completions) costs nothing here;
  2. training: SentenceTransformerTrainer + MultipleNegativesRankingLoss, one epoch over the pairs;
  3. re-embedding the whole catalogue with the new weights.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_embedder_round.py --users 64

With --users 0 every training user is profiled, and --evaluate then ranks the held-out users'
untrained profiles under the frozen and the once-tuned embedder (paired tests): what one round
on the untrained profiler's own profiles does, before any GRPO.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu-demo")
    parser.add_argument("--users", type=int, default=64, help="training users profiled (timed; 0 = all)")
    parser.add_argument("--evaluate", action="store_true", help="frozen vs tuned on held-out users")
    args = parser.parse_args(argv)

    import copy

    import torch

    from bluekit import pipeline, profiler
    from bluekit.config import load_config
    from bluekit.embedder_training import pair_retrieval_mrr, run_item_vectors, tune_embedder
    from bluekit.llm import load_profiler
    from bluekit.train.dataset import build_train_dataset

    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    cfg = load_config(args.preset)
    ws = pipeline.workspace(cfg)
    model, tok = load_profiler(cfg.profiler)
    rows = build_train_dataset(ws.prepared, ws.train_users, cfg, tok).to_list()
    timed = rows[: args.users] if args.users else rows
    start, cpu = time.perf_counter(), time.process_time()
    texts = profiler.generate_profiles(model, tok, [r["prompt"] for r in timed],
                                       max_new_tokens=cfg.train.grpo["max_completion_length"],
                                       batch_size=cfg.profiler.generation_batch_size, seed=0,
                                       temperature=0.0, show_progress=False)
    gen_s, gen_cpu = time.perf_counter() - start, time.process_time() - cpu
    per_user, per_user_cpu = gen_s / len(timed), gen_cpu / len(timed)
    # every training user's pair for the training step: the timed profiles, then the rest as
    # copies of them (the embedder's cost depends on the number and length of the texts)
    profiles = [texts[i % len(texts)] for i in range(len(rows))]
    text_of = dict(zip(ws.prepared.items.item_id.astype(str), ws.prepared.items.text.astype(str)))
    items = [text_of[r["positive"]] for r in rows]
    embedder = copy.deepcopy(ws.embedder)
    before = pair_retrieval_mrr(embedder, texts, items[: len(texts)])
    cpu = time.process_time()
    stats = tune_embedder(embedder, profiles, items, lr=cfg.embed.contrastive_lr,
                          epochs=cfg.embed.contrastive_epochs,
                          batch_size=cfg.embed.contrastive_batch_size, seed=0)
    train_cpu = time.process_time() - cpu
    after = pair_retrieval_mrr(embedder, texts, items[: len(texts)])
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        run_item_vectors(embedder, ws.prepared.items, tmp)
        embed_s, embed_cpu = time.perf_counter() - start, time.process_time() - cpu
    # wall seconds (noisy on a shared machine) and this process's CPU seconds (steadier)
    total = per_user * len(rows) + stats["seconds"] + embed_s
    total_cpu = per_user_cpu * len(rows) + train_cpu + embed_cpu
    print(f"{args.preset}: {len(rows)} training users, {len(ws.prepared.items)} items, "
          f"{threads} thread(s); wall s / CPU s")
    print(f"  pairs (regenerate): {per_user:.3f} / {per_user_cpu:.3f} s per user on {len(timed)} "
          f"users -> {per_user * len(rows):.1f} / {per_user_cpu * len(rows):.1f} s for all")
    print(f"  train: {stats['steps']} steps, {stats['seconds']:.1f} / {train_cpu:.1f} s (loss "
          f"{stats['loss']:.3f}; pair MRR {before:.3f} -> {after:.3f} on the timed users)")
    print(f"  re-embed catalogue: {embed_s:.1f} / {embed_cpu:.1f} s")
    print(f"  round: {total:.1f} / {total_cpu:.1f} s with regenerated profiles, "
          f"{stats['seconds'] + embed_s:.1f} / {train_cpu + embed_cpu:.1f} s reusing GRPO's "
          f"completions")
    if args.evaluate:
        from bluekit.evaluate import describe_test, evaluate_texts, paired_test
        ex = ws.test_examples
        texts = pipeline.test_profiles(ws, None)  # the untrained profiler's held-out profiles
        kw = dict(item_index=ws.prepared.item_index, ks=(5, 10, 20), show_progress=False)
        frozen = evaluate_texts("frozen", texts, ex, embedder=ws.embedder, item_vecs=ws.item_vecs, **kw)
        with tempfile.TemporaryDirectory() as tmp:
            vecs = run_item_vectors(embedder, ws.prepared.items, tmp)
        tuned = evaluate_texts("tuned", texts, ex, embedder=embedder, item_vecs=vecs, **kw)
        for metric in ("mrr", "ndcg@10", "recall@10"):
            print("  untrained profiles, " + describe_test(paired_test(frozen, tuned, metric)))


if __name__ == "__main__":
    main()
