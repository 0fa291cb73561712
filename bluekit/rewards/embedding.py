"""Embedding-space rewards: does the profile, once embedded, land near the user's next item?

All similarities are cosines between the profile vector (``ctx.embedder.encode_queries``, one
batch per call) and item vectors read from ``ctx.item_vecs`` (items are never re-encoded).
Every reward here needs the dataset column ``positive`` (the next item's id).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .core import Batch, Reward, RewardContext, RewardError
from .registry import register

NEGATIVE_KINDS = ("sampled", "hard", "in_batch", "all")


def _log_softmax_first(logits: np.ndarray) -> float:
    """log(exp(l0) / sum(exp(l))) computed stably."""
    top = float(np.max(logits))
    return float(logits[0] - top - math.log(float(np.sum(np.exp(logits - top)))))


class _EmbeddingReward(Reward):
    """Shared: check the ``positive`` column, encode the profiles once, find positive rows."""
    needs_ctx = True

    def check_columns(self, batch: Batch) -> None:
        self.ctx.item_rows(batch.column("positive", self.__name__))

    def encode(self, batch: Batch) -> np.ndarray:
        vecs = np.asarray(self.ctx.embedder.encode_queries(batch.texts), dtype=np.float32)
        if vecs.shape != (len(batch), self.ctx.item_vecs.shape[1]):
            raise RewardError(f"embedder returned shape {vecs.shape} for {len(batch)} texts; item "
                              f"vectors have dim {self.ctx.item_vecs.shape[1]}")
        return np.nan_to_num(vecs)

    def score(self, batch: Batch) -> Sequence[float]:
        profile_vecs = self.encode(batch)
        positives = self.ctx.item_rows(batch.columns["positive"])
        # Logged under TRL: the plain cosine to the positive, comparable across reward settings.
        self.diagnostics["cos_pos"] = float(np.mean(np.einsum(
            "ij,ij->i", profile_vecs, self.ctx.item_vecs[positives])))
        return self.values(batch, profile_vecs)

    def values(self, batch: Batch, profile_vecs: np.ndarray) -> Sequence[float]:
        raise NotImplementedError  # pragma: no cover


def _sampled_rows(rng: np.random.Generator, num_items: int, exclude: int, k: int) -> np.ndarray:
    """k distinct catalogue rows, uniform, never ``exclude`` (the positive)."""
    k = min(k, num_items - 1)
    picks = rng.choice(num_items - 1, size=k, replace=False)
    return picks + (picks >= exclude)  # skip over the excluded row


@register("infonce")
class InfoNCE(_EmbeddingReward):
    """Profile -> items InfoNCE: the log-softmax of the positive item among negatives.

    r = s_pos/tau - logsumexp([s_pos, s_neg_1..k] / tau), s = cosine(profile, item). r <= 0, and
    0 means the positive wins by a wide margin. ``scale_by_tau=True`` reports tau * r instead
    (the form s_pos - tau * logsumexp(...)); GRPO's group normalisation makes the two train alike.

    negatives: "sampled" (``num_negatives`` uniform catalogue items, never the positive; seeded
    by ctx.seed, the training step and the user, so a user's G generations share them), "hard"
    (the ``num_negatives`` items nearest to the positive), "in_batch" (the other users'
    positives in this call; rows of the same user are never negatives), or a list of these
    (union), or "all" (every other catalogue item: the full-ranking view of the evaluation; cheap
    for catalogues of a few thousand items). A row left without negatives (in_batch alone, one
    user) scores s_pos / tau. Range: about (-2/tau - log(1 + k), 0] nats for k negatives (about
    -6..0 in practice at tau 0.05): sum it with rewards in [0, 1] through
    ``train.grpo.multi_objective_aggregation: normalize_then_sum`` so the weights mean what they say.
    ``exclude_history=True`` drops items in the row's ``history`` column from its negatives
    (they are things the user liked, so poor negatives).

    >>> from bluekit.rewards import toy_context
    >>> reward = InfoNCE(toy_context(), tau=0.1, num_negatives=3)
    >>> good, bad = reward(completions=[
    ...     [{"role": "assistant", "content": "Loves waterproof hiking boots and trail walking."}],
    ...     [{"role": "assistant", "content": "Likes things."}]],
    ...     positive=["boots", "boots"], user_id=["u1", "u1"])
    >>> good > bad, round(bad, 6) == round(-math.log(4), 6)  # "Likes things." ties with 3 negatives
    (True, True)
    """

    def __init__(self, ctx: RewardContext, tau: float = 0.05, num_negatives: int = 32,
                 negatives: str | Sequence[str] = "sampled", scale_by_tau: bool = False,
                 exclude_history: bool = False):
        super().__init__(ctx)
        kinds = [negatives] if isinstance(negatives, str) else list(negatives)
        unknown = [k for k in kinds if k not in NEGATIVE_KINDS]
        if unknown or not kinds:
            raise RewardError(f"{self.__name__}: unknown negatives {unknown or kinds}; choose from "
                              f"{list(NEGATIVE_KINDS)} or a list of them")
        if tau <= 0 or num_negatives < 0:
            raise RewardError(f"{self.__name__}: need tau > 0 and num_negatives >= 0 (got {tau}, {num_negatives})")
        self.tau, self.num_negatives, self.kinds = float(tau), int(num_negatives), kinds
        self.scale_by_tau, self.exclude_history = scale_by_tau, exclude_history
        # Worst case: the positive at cosine -1, every negative at +1.
        most = sum(ctx.num_items if kind == "all" else self.num_negatives for kind in kinds)
        floor = -2.0 / self.tau - math.log(1 + max(1, most))

        self.floor = floor * self.tau if scale_by_tau else floor

    def negative_rows(self, batch: Batch) -> list[np.ndarray]:
        """Negative item rows per batch row; the G generations of a user share one set."""
        positives = self.ctx.item_rows(batch.columns["positive"])
        keys = batch.group_keys()
        histories = batch.columns.get("history") if self.exclude_history else None
        cache: dict[tuple[str, int], np.ndarray] = {}
        out = []
        for i, (key, pos) in enumerate(zip(keys, positives)):
            if (key, pos) not in cache:
                parts = []
                for kind in self.kinds:
                    if kind == "sampled":
                        rng = batch.rng(self.ctx.seed, f"{key}\t{pos}")
                        parts.append(_sampled_rows(rng, self.ctx.num_items, pos, self.num_negatives))
                    elif kind == "all":
                        parts.append(np.arange(self.ctx.num_items))
                    elif kind == "hard":
                        parts.append(self.ctx.nearest_items(pos, self.num_negatives))
                    else:  # in_batch: other users' positives (never this user's own rows)
                        parts.append(positives[[k != key for k in keys]])
                rows = np.concatenate(parts).astype(np.int64) if parts else np.array([], np.int64)
                rows = rows[rows != pos]
                if histories is not None:  # items the user already had are no negatives
                    rows = rows[~np.isin(rows, self.ctx.known_rows(histories[i] or []))]
                _, first = np.unique(rows, return_index=True)  # drop duplicates, keep order
                cache[(key, pos)] = rows[np.sort(first)]
            out.append(cache[(key, pos)])
        return out

    def values(self, batch: Batch, profile_vecs: np.ndarray) -> list[float]:
        positives = self.ctx.item_rows(batch.columns["positive"])
        rewards = []
        for vec, pos, negs in zip(profile_vecs, positives, self.negative_rows(batch)):
            logits = self.ctx.item_vecs[np.concatenate([[pos], negs])] @ vec / self.tau
            # No negatives (e.g. in_batch with one user): fall back to s_pos / tau.
            r = _log_softmax_first(logits) if len(negs) else float(logits[0])
            rewards.append(r * self.tau if self.scale_by_tau else r)
        return rewards


@register("items_to_profile")
class ItemsToProfile(_EmbeddingReward):
    """Items -> profile InfoNCE: the positive item should pick its own user's profile.

    For completion j of user u with next item pos_u:
    r_j = log( e^{s(pos_u, p_j)/tau} / (e^{s(pos_u, p_j)/tau} + sum_k e^{s(pos_u, p_k)/tau}) ),
    k running over the completions of the OTHER users in the call (u's other G-1 generations
    are left out: they are rivals within the GRPO group, not negatives). Users are told apart
    by ``user_id`` (else the prompt, else the positive). With a single user in the call there is
    no denominator, and r_j = s(pos_u, p_j) / tau. Range: (-2/tau - log(n), 0] nats for n users.

    >>> from bluekit.rewards import toy_context
    >>> reward = ItemsToProfile(toy_context(), tau=0.1)
    >>> r = reward(completions=["Buys hiking boots.", "Likes things.", "Owns a kitchen knife set."],
    ...            positive=["boots", "boots", "knife"], user_id=["u1", "u1", "u2"])
    >>> r[0] > r[1], r[2] > -0.01
    (True, True)
    """

    def __init__(self, ctx: RewardContext, tau: float = 0.05):
        super().__init__(ctx)
        if tau <= 0:
            raise RewardError(f"{self.__name__}: need tau > 0 (got {tau})")
        self.tau = float(tau)
        self.floor = -2.0 / self.tau - math.log(65)

    def values(self, batch: Batch, profile_vecs: np.ndarray) -> list[float]:
        positives = self.ctx.item_rows(batch.columns["positive"])
        keys = np.array(batch.group_keys(), dtype=object)
        # sims[j, k] = cos(positive item of row j, profile k)
        logits = self.ctx.item_vecs[positives] @ profile_vecs.T / self.tau
        rewards = []
        for j in range(len(batch)):
            others = logits[j, keys != keys[j]]  # other users' profiles only
            own = logits[j, j]
            rewards.append(_log_softmax_first(np.concatenate([[own], others]))
                           if len(others) else float(own))
        return rewards


@register("bidirectional_infonce")
class BidirectionalInfoNCE(_EmbeddingReward):
    """BLUE's embedding reward: alpha * infonce + (1 - alpha) * items_to_profile.

    Both directions share tau and one encoding of the profiles; ``negatives``,
    ``num_negatives`` and ``exclude_history`` are those of :class:`InfoNCE`. Range: as InfoNCE's.

    >>> from bluekit.rewards import toy_context
    >>> reward = BidirectionalInfoNCE(toy_context(), alpha=0.5, tau=0.1, num_negatives=3)
    >>> good, bad, other = reward(completions=["Buys hiking boots.", "Likes things.", "Owns a knife."],
    ...                           positive=["boots", "boots", "knife"], user_id=["u1", "u1", "u2"])
    >>> good > bad
    True
    """

    def __init__(self, ctx: RewardContext, alpha: float = 0.5, tau: float = 0.05,
                 num_negatives: int = 32, negatives: str | Sequence[str] = "sampled",
                 exclude_history: bool = False):
        super().__init__(ctx)
        if not 0.0 <= alpha <= 1.0:
            raise RewardError(f"{self.__name__}: alpha must lie in [0, 1], got {alpha}")
        self.alpha = float(alpha)
        self.forward = InfoNCE(ctx, tau, num_negatives, negatives, exclude_history=exclude_history)
        self.backward = ItemsToProfile(ctx, tau)
        self.floor = self.alpha * self.forward.floor + (1 - self.alpha) * self.backward.floor

    def values(self, batch: Batch, profile_vecs: np.ndarray) -> list[float]:
        fwd = self.forward.values(batch, profile_vecs)
        bwd = self.backward.values(batch, profile_vecs)
        return [self.alpha * f + (1 - self.alpha) * b for f, b in zip(fwd, bwd)]


@register("cosine")
class Cosine(_EmbeddingReward):
    """The cosine similarity between the profile and the positive item, in [-1, 1].

    >>> from bluekit.rewards import toy_context
    >>> values = Cosine(toy_context())(completions=["hiking boots", "espresso"],
    ...                                positive=["boots", "boots"])
    >>> [round(v, 3) for v in values]  # 2 shared words of 2 and 6: 2 / sqrt(2 * 6)
    [0.577, 0.0]
    """
    floor = -1.0

    def values(self, batch: Batch, profile_vecs: np.ndarray) -> list[float]:
        positives = self.ctx.item_rows(batch.columns["positive"])
        return np.einsum("ij,ij->i", profile_vecs, self.ctx.item_vecs[positives]).tolist()


@register("rank_reward")
class RankReward(_EmbeddingReward):
    """How high the positive item ranks: reciprocal rank ("mrr": 1/rank), NDCG ("ndcg":
    1/log2(rank+1)) or log-rank ("log": 1 - log(rank)/log(n), every halving of the rank worth the
    same: the densest signal far from the top, where an untrained profile's target sits).

    Candidates are the whole catalogue (``candidates="all"``, the evaluation protocol) or the
    positive plus ``num_candidates - 1`` sampled items (seeded per step and user); n is their
    number. Items tied with the positive rank ahead of it. Range: (0, 1] ("log": [0, 1]).
    ``mask_history=True`` leaves the user's history items (the ``history`` column) out of the
    candidates, as LangPTune's reward does: re-describing a past purchase earns nothing.

    >>> from bluekit.rewards import toy_context
    >>> reward = RankReward(toy_context(), metric="mrr")
    >>> reward(completions=["waterproof hiking boots", "hiking socks"], positive=["boots", "boots"])
    [1.0, 0.5]
    >>> RankReward(toy_context(), metric="log")(completions=["hiking socks"], positive=["boots"])
    [0.6666666666666666]
    >>> RankReward(toy_context(), mask_history=True)(completions=["hiking socks"], positive=["boots"],
    ...                                             history=[["socks"]])
    [1.0]
    """
    floor = 0.0

    def __init__(self, ctx: RewardContext, metric: str = "mrr", candidates: str = "all",
                 num_candidates: int = 100, mask_history: bool = False):
        super().__init__(ctx)
        if metric not in ("mrr", "ndcg", "log") or candidates not in ("all", "sampled"):
            raise RewardError(f"{self.__name__}: metric must be 'mrr', 'ndcg' or 'log' and candidates "
                              f"'all' or 'sampled' (got {metric!r}, {candidates!r})")
        self.metric, self.candidates, self.num_candidates = metric, candidates, int(num_candidates)
        self.mask_history = bool(mask_history)
        self.chunk = 65536

    def check_columns(self, batch: Batch) -> None:
        super().check_columns(batch)
        if self.mask_history:
            batch.column("history", self.__name__)

    def _masked_rows(self, batch: Batch, positives: np.ndarray) -> list[np.ndarray]:
        """Per row, the history items to leave out of the candidates (never the positive)."""
        if not self.mask_history:
            return [np.empty(0, dtype=np.int64)] * len(batch)
        return [np.setdiff1d(self.ctx.known_rows(history or []), [pos])
                for history, pos in zip(batch.columns["history"], positives)]

    def ranks(self, batch: Batch, profile_vecs: np.ndarray) -> np.ndarray:
        """1-based rank of the positive; ties count against it (as in bluekit.evaluate)."""
        positives = self.ctx.item_rows(batch.columns["positive"])
        masked = self._masked_rows(batch, positives)
        if self.candidates == "all":
            target = np.einsum("ij,ij->i", profile_vecs, self.ctx.item_vecs[positives])
            ranks = np.zeros(len(batch))
            for start in range(0, self.ctx.num_items, self.chunk):  # bounded memory on big catalogues
                sims = profile_vecs @ self.ctx.item_vecs[start:start + self.chunk].T
                ranks += (sims >= target[:, None] - 1e-6).sum(axis=1)
            for i, rows in enumerate(masked):  # masked history items that outranked the positive
                ranks[i] -= (self.ctx.item_vecs[rows] @ profile_vecs[i] >= target[i] - 1e-6).sum()
            # The positive itself always counts (tolerance above); ties with it count against it.
            return np.maximum(ranks, 1.0)
        ranks = np.empty(len(batch))
        for i, (key, pos) in enumerate(zip(batch.group_keys(), positives)):
            rng = batch.rng(self.ctx.seed, f"{key}\t{pos}")
            negs = _sampled_rows(rng, self.ctx.num_items, pos, self.num_candidates - 1)
            negs = negs[~np.isin(negs, masked[i])]
            sims = self.ctx.item_vecs[np.concatenate([[pos], negs])] @ profile_vecs[i]
            ranks[i] = float((sims >= sims[0]).sum())
        return ranks

    def values(self, batch: Batch, profile_vecs: np.ndarray) -> list[float]:
        ranks = self.ranks(batch, profile_vecs)
        if self.metric == "log":
            n = self.ctx.num_items if self.candidates == "all" else self.num_candidates
            return (1.0 - np.log(ranks) / np.log(max(n, 2))).tolist()
        scores = 1.0 / ranks if self.metric == "mrr" else 1.0 / np.log2(ranks + 1.0)
        return scores.tolist()
