"""SASRec, the ID-based sequential reference row: NOT zero-shot.

Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018 (arXiv 1808.09781): a
causal transformer over the user's item-id sequence; the output at the last position scores every
item by a dot product with the (shared) item embeddings. It learns one vector per item id from the
training interactions of the same split (every user's, the held-out users' histories included),
so unlike the profiler it has seen these users and cannot rank an item it never saw.

    model = train_sasrec(prepared.splits.train, prepared.item_index, SASRecSettings(epochs=50))
    scores = sasrec_scores(model, histories, prepared.item_index)   # (users, items), full ranking

Written here rather than taken from a library (checked 2026-12-05 against torch 2.13 / NumPy 2.4):
RecBole 1.2.1 breaks on NumPy 2 and torch >= 2.6 (its issue #2215); torch-rechub 0.9.0 installs with
nothing extra but its SASRec takes the last position of left-padded sequences as `(seq != 0).sum()
- 1` and squeezes the batch axis; cornac 3.0.1 installs but pulls matplotlib, pillow and powerlaw,
and its SASRec encodes sessions through cornac's own dataset classes; replay-rec 0.22 needs
lightning, polars and pyarrow. This file follows RecBole's layout (sequences padded on the right,
the last real position read out) and the paper's blocks (pre-norm attention + point-wise feed-forward,
dropout, learned positions, item embeddings shared with the output layer).

Loss (`loss`): "ce", softmax cross-entropy over the whole catalogue at every position, which ranks
better under full-ranking evaluation (Klenitskiy & Vasilev, "Turning Dross Into Gold Loss: is
BERT4Rec really better than SASRec?", RecSys 2023); or "bce", the paper's binary cross-entropy with
one random negative item per position.

On cpu-demo's 240 held-out users (bench/bench_sasrec.py, defaults, stopped on validation MRR):
Recall@10 0.333, NDCG@10 0.141, MRR 0.103, in 28.5 CPU s on one thread of a 2-core AMD EPYC; the
text-only "last item" baseline reaches Recall@10 0.229, MRR 0.078 on the same users. The demo's
users stay on one sub-category for several items, which item ids capture well.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from bluekit.errors import KitError


@dataclass
class SASRecSettings:
    """The model and its training (the paper's values where it gives them: 2 blocks, 1 head,
    dimension 50, maximum length 50 for Amazon data, Adam lr 1e-3, batch 128)."""
    max_len: int = 50
    dim: int = 64
    blocks: int = 2
    heads: int = 1
    dropout: float = 0.2
    epochs: int = 200  # at most: with validation examples it stops when their MRR stops rising
    check_every: int = 5  # epochs between validation checks
    patience: int = 3  # checks without a better validation MRR before it stops
    batch_size: int = 128
    lr: float = 1e-3
    loss: str = "ce"  # ce | bce
    seed: int = 0

    @classmethod
    def from_dict(cls, values: Mapping | None, where: str = "eval.sasrec") -> "SASRecSettings":
        """Settings from a config mapping; an unknown key or a bad loss is one clear line."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise KitError(f"{where}.{key}: unknown SASRec setting (known: {', '.join(sorted(known))})")
        settings = cls(**values)
        if settings.loss not in ("ce", "bce"):
            raise KitError(f"{where}.loss: expected 'ce' or 'bce', got {settings.loss!r}")
        return settings


class SASRec(nn.Module):
    """Item ids 1..n (0 = padding, on the right) -> one hidden vector per position."""

    def __init__(self, n_items: int, s: SASRecSettings):
        super().__init__()
        self.item_emb = nn.Embedding(n_items + 1, s.dim, padding_idx=0)
        self.pos_emb = nn.Embedding(s.max_len, s.dim)
        self.drop = nn.Dropout(s.dropout)
        block = nn.TransformerEncoderLayer(s.dim, s.heads, dim_feedforward=s.dim, dropout=s.dropout,
                                           activation="relu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, s.blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(s.dim)
        self.scale = s.dim ** 0.5
        # Small embeddings, as RecBole's SASRec (normal, std 0.02): with nn.Embedding's N(0, 1) a
        # few hundred Adam steps at lr 1e-3 hardly move them from random, and nothing is learnt.
        for emb in (self.item_emb, self.pos_emb):
            nn.init.normal_(emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seqs: torch.Tensor) -> torch.Tensor:
        length = seqs.shape[1]
        x = self.item_emb(seqs) * self.scale + self.pos_emb(torch.arange(length, device=seqs.device))
        x = self.drop(x) * (seqs > 0).unsqueeze(-1)
        # Causal attention only: padding sits after the real items, so no real position sees it.
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=seqs.device), 1)
        return self.norm(self.blocks(x, mask=causal))

    def item_scores(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every catalogue item (padding excluded): (..., n_items)."""
        return hidden @ self.item_emb.weight[1:].T


def user_sequences(train_interactions: pd.DataFrame, item_index: Mapping[str, int]) -> list[list[int]]:
    """Each user's training items as catalogue rows + 1, in time order (ties keep row order)."""
    frame = train_interactions[train_interactions["item_id"].isin(item_index)]
    if "timestamp" in frame:
        frame = frame.sort_values(["user_id", "timestamp"], kind="stable")
    return [[item_index[i] + 1 for i in items]
            for _, items in frame.groupby("user_id", sort=False)["item_id"]]


def _padded(seqs: Sequence[Sequence[int]], length: int) -> torch.Tensor:
    out = torch.zeros((len(seqs), length), dtype=torch.long)
    for row, seq in enumerate(seqs):
        seq = list(seq)[-length:]
        out[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def train_sasrec(train_interactions: pd.DataFrame, item_index: Mapping[str, int],
                 settings: SASRecSettings | None = None, valid_examples: pd.DataFrame | None = None
                 ) -> SASRec:
    """Train on every user's training sequence (its last max_len + 1 items: inputs s[:-1],
    targets s[1:], as the paper's code does). With valid_examples (the split's validation
    examples: history, item_id) the weights with the best validation MRR are kept and training
    stops after `patience` checks without a better one, as the paper does; else it runs all
    `epochs`. Returns the model in eval mode."""
    s = settings or SASRecSettings()
    torch.manual_seed(s.seed)
    seqs = [seq[-(s.max_len + 1):] for seq in user_sequences(train_interactions, item_index)]
    seqs = [seq for seq in seqs if len(seq) >= 2]
    if not seqs:
        raise KitError("SASRec: no user has two training interactions to learn from")
    n_items = len(item_index)
    inputs, targets = _padded([q[:-1] for q in seqs], s.max_len), _padded([q[1:] for q in seqs], s.max_len)
    model = SASRec(n_items, s)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr, betas=(0.9, 0.98))
    generator = torch.Generator().manual_seed(s.seed)
    best, best_state, waited = -1.0, None, 0
    for epoch in range(1, s.epochs + 1):
        model.train()
        for batch in torch.randperm(len(seqs), generator=generator).split(s.batch_size):
            hidden, target = model(inputs[batch]), targets[batch]
            real = target > 0
            if s.loss == "ce":
                loss = nn.functional.cross_entropy(model.item_scores(hidden[real]), target[real] - 1)
            else:  # the paper: the next item against one random item, per position
                negative = torch.randint(1, n_items + 1, target.shape, generator=generator)
                pos = (hidden * model.item_emb(target)).sum(-1)[real]
                neg = (hidden * model.item_emb(negative)).sum(-1)[real]
                loss = nn.functional.binary_cross_entropy_with_logits(
                    torch.cat([pos, neg]), torch.cat([torch.ones_like(pos), torch.zeros_like(neg)]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if valid_examples is not None and len(valid_examples) and epoch % s.check_every == 0:
            score = _mrr(model.eval(), valid_examples, item_index)
            if score > best:
                best, waited = score, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= s.patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval()


def _mrr(model: "SASRec", examples: pd.DataFrame, item_index: Mapping[str, int]) -> float:
    """Mean reciprocal rank of the examples' targets (ties count against them)."""
    scores = sasrec_scores(model, examples["history"].tolist(), item_index)
    target = np.array([item_index.get(i, -1) for i in examples["item_id"]])
    known = target >= 0
    own = scores[known, target[known]]
    ranks = (scores[known] >= own[:, None]).sum(axis=1)
    return float(np.sum(1.0 / ranks) / len(target))


@torch.no_grad()
def sasrec_scores(model: SASRec, histories: Sequence[Sequence[str]], item_index: Mapping[str, int],
                  batch_size: int = 256) -> np.ndarray:
    """(len(histories), n_items) scores from each history's last position; a history with no
    known item scores every item 0 (its target then ranks last, as for the other baselines)."""
    max_len = model.pos_emb.num_embeddings
    rows = [[item_index[i] + 1 for i in (h if h is not None else []) if i in item_index] for h in histories]
    out = np.zeros((len(rows), model.item_emb.num_embeddings - 1), dtype=np.float32)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        filled = [i for i, r in enumerate(chunk) if r]
        if not filled:
            continue
        seqs = _padded([chunk[i] for i in filled], max_len)
        last = torch.tensor([min(len(chunk[i]), max_len) - 1 for i in filled])
        hidden = model(seqs)[torch.arange(len(filled)), last]
        out[[start + i for i in filled]] = model.item_scores(hidden).numpy()
    return out
