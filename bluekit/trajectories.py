"""What the trajectory map and the profile editor show, as data: a run's snapshot panel placed on
the item map with the TRUE cosine to the positive and its full-catalogue rank, and the
leave-one-out attribution of a profile's sentences.

    traj = run_trajectories(run_dir, ws, imap)        # Trajectories (points, users, reward names)
    trajectory_summary(traj), map_agreement(imap, traj)
    attribution(text, positive_row, item_vecs, embedder)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from bluekit.itemmap import ItemMap

# Strong colours, one per panel user (the item map keeps faint ones for sub-categories).
_USER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#637939")


@dataclass
class Trajectories:
    """A run's snapshot panel placed on an item map.

    points: one row per (step, user): step, user_id, text, x, y, cosine (to the positive, in the
    embedding space), rank (the positive's 1-based rank among all items), words, and one column
    per reward (reward names in `reward_names`, "total" last).
    users: one row per panel user: user_id, label, color, positive, positive_row (-1 when the
    positive is not in the catalogue), positive_title, history_rows (what the prompt showed).
    message: why there is nothing to draw (no snapshots, empty panel), else None.
    """
    points: pd.DataFrame
    users: pd.DataFrame
    steps: list[int]
    n_items: int
    reward_names: list[str]
    label: str = ""
    message: str | None = None

    @property
    def empty(self) -> bool:
        return self.points.empty


NO_SNAPSHOTS = ("{where} has no panel snapshots (snapshots.jsonl is missing or empty): a run writes "
                "them when train.snapshot_every > 0 and train.panel_users > 0, at step 0 and "
                "every snapshot_every steps")


def empty_trajectories(n_items: int, label: str, message: str) -> Trajectories:
    return Trajectories(pd.DataFrame(columns=["step", "user_id", "text", "x", "y", "cosine", "rank"]),
                        pd.DataFrame(columns=["user_id", "label", "color", "positive",
                                              "positive_row", "positive_title", "history_rows"]),
                        [], n_items, [], label, message)


def trajectories(snapshots: pd.DataFrame, ws, imap: ItemMap, label: str = "",
                 history_items: int | None = None) -> Trajectories:
    """Place a run's snapshots (load_snapshots) on the map and measure the true distances.

    The rank and cosine come from the snapshot's stored profile embedding against ws.item_vecs
    (the full catalogue; ties count against the positive, as in the evaluation), not from the map.
    history_items: how many of each user's most recent history items to mark (default: as many
    as the run's prompt showed, cfg.profiler.max_history_items).
    """
    from bluekit.evaluate import target_ranks

    n_items = len(ws.item_vecs)
    needed = {"step", "user_id", "text", "embedding", "positive"}
    if snapshots is None or snapshots.empty or not needed <= set(snapshots.columns):
        return empty_trajectories(n_items, label, NO_SNAPSHOTS.format(where=label or "this run"))
    snaps = snapshots.dropna(subset=["embedding"]).copy()
    snaps = snaps[snaps["embedding"].map(lambda e: isinstance(e, (list, tuple)) and len(e) > 0)]
    if snaps.empty:
        return empty_trajectories(n_items, label, NO_SNAPSHOTS.format(where=label or "this run"))
    snaps["step"] = snaps["step"].astype(int)
    snaps["user_id"] = snaps["user_id"].astype(str)
    snaps = snaps.drop_duplicates(["step", "user_id"], keep="last").sort_values(["step"], kind="stable")
    vecs = np.array(snaps["embedding"].tolist(), dtype=np.float32)
    if vecs.shape[1] != ws.item_vecs.shape[1]:
        return empty_trajectories(n_items, label, (
            f"{label or 'this run'}: its profile embeddings have {vecs.shape[1]} dimensions but this "
            f"workspace's items have {ws.item_vecs.shape[1]}: load the run's own config"))
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    index = ws.prepared.item_index
    pos_rows = np.array([index.get(str(p), -1) for p in snaps["positive"]], dtype=np.int64)
    ranks = target_ranks(vecs, ws.item_vecs, pos_rows)
    cos = np.where(pos_rows >= 0, np.einsum("ij,ij->i", vecs, ws.item_vecs[np.maximum(pos_rows, 0)]),
                   np.nan)
    xy = imap.place(vecs)
    rewards = [r if isinstance(r, dict) else {} for r in snaps.get("rewards", [{}] * len(snaps))]
    names = sorted({k for r in rewards for k in r if k != "total"})
    if any("total" in r for r in rewards):
        names.append("total")
    points = pd.DataFrame({"step": snaps["step"].to_numpy(), "user_id": snaps["user_id"].to_numpy(),
                           "text": snaps["text"].fillna("").astype(str).to_numpy(),
                           "x": xy[:, 0], "y": xy[:, 1], "cosine": cos, "rank": ranks,
                           "positive": snaps["positive"].astype(str).to_numpy()})
    points["words"] = points["text"].str.split().map(len)
    for name in names:
        points[name] = [r.get(name, np.nan) for r in rewards]
    users = _panel_users(points, ws, history_items)
    return Trajectories(points.reset_index(drop=True), users, sorted(points["step"].unique().tolist()),
                        n_items, names, label, None)


def _panel_users(points: pd.DataFrame, ws, history_items: int | None) -> pd.DataFrame:
    items = ws.prepared.items
    index = ws.prepared.item_index
    keep = history_items if history_items is not None else int(
        getattr(getattr(ws.cfg, "profiler", None), "max_history_items", 8) or 8)
    test = ws.prepared.splits.test
    histories = {}
    if len(test):
        for user, hist in zip(test["user_id"].astype(str), test["history"]):
            histories.setdefault(user, list(hist) if hist is not None else [])
    rows = []
    order = list(dict.fromkeys(points["user_id"]))
    for i, user in enumerate(order):
        positive = str(points.loc[points.user_id == user, "positive"].iloc[-1])
        row = index.get(positive, -1)
        history = [index[h] for h in histories.get(user, [])[-keep:] if h in index] if keep else []
        rows.append({"user_id": user, "label": f"user {i + 1} ({user[:8]})",
                     "color": _USER_COLORS[i % len(_USER_COLORS)], "positive": positive,
                     "positive_row": int(row),
                     "positive_title": str(items["title"].iloc[row]) if row >= 0 else "(not in catalogue)",
                     "history_rows": history})
    return pd.DataFrame(rows)


def run_trajectories(run_dir: str | Path, ws, imap: ItemMap, label: str | None = None) -> Trajectories:
    """Trajectories of a run folder (cfg.train.output_dir, or data/pretrained/<name>/)."""
    from bluekit.train import load_snapshots

    run_dir = Path(run_dir)
    label = label if label is not None else str(run_dir)
    if not run_dir.is_dir():
        return empty_trajectories(len(ws.item_vecs), label, f"{run_dir} is not a folder: train first "
                                  "(python -m bluekit train) or name a run folder")
    return trajectories(load_snapshots(run_dir), ws, imap, label)


def trajectory_summary(traj: Trajectories) -> dict:
    """First vs last snapshot over the panel: median rank and cosine, users whose rank improved."""
    if traj.empty:
        return {"users": 0, "steps": 0}
    first, last = traj.steps[0], traj.steps[-1]
    a = traj.points[traj.points.step == first].set_index("user_id")
    b = traj.points[traj.points.step == last].set_index("user_id")
    both = a.index.intersection(b.index)
    a, b = a.loc[both], b.loc[both]
    return {"users": int(len(both)), "steps": len(traj.steps), "first_step": int(first),
            "last_step": int(last),
            "median_rank_first": float(np.median(a["rank"])), "median_rank_last": float(np.median(b["rank"])),
            "median_cosine_first": float(np.nanmedian(a["cosine"])),
            "median_cosine_last": float(np.nanmedian(b["cosine"])),
            "users_rank_improved": int((b["rank"] < a["rank"]).sum()),
            "users_cosine_improved": int((b["cosine"] > a["cosine"]).sum())}


def map_agreement(imap: ItemMap, traj: Trajectories) -> float:
    """How far the map can be trusted: Spearman correlation, over every snapshot point, between
    the 2-D distance to the positive on the map and the true cosine distance (1 = same order)."""
    if traj.empty:
        return float("nan")
    pts = traj.points.merge(traj.users[["user_id", "positive_row"]], on="user_id")
    pts = pts[pts["positive_row"] >= 0]
    if len(pts) < 3:
        return float("nan")
    target = imap.xy[pts["positive_row"].to_numpy(dtype=int)]
    on_map = np.hypot(pts["x"].to_numpy() - target[:, 0], pts["y"].to_numpy() - target[:, 1])
    return float(pd.Series(on_map).corr(pd.Series(1.0 - pts["cosine"].to_numpy()), method="spearman"))




_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_PHRASE_SPLIT = re.compile(r"(?<=[,:])\s+|\s+(?=\b(?:and|but|with|while|especially)\b)")


def split_units(text: str, unit: str = "auto") -> list[str]:
    """A profile cut into sentences (or, for one sentence or unit="phrase", into phrases).

    The pieces joined with single spaces give back the text (whitespace normalised).

    >>> split_units("Loves boots. Hates rain!  Reads a lot.")
    ['Loves boots.', 'Hates rain!', 'Reads a lot.']
    >>> split_units("Likes trail shoes, wool socks and rain jackets")
    ['Likes trail shoes,', 'wool socks', 'and rain jackets']
    """
    text = " ".join(str(text).split())
    if not text:
        return []
    units = [u for u in _SENTENCE_END.split(text) if u]
    if unit == "phrase" or (unit == "auto" and len(units) < 2):
        units = [p for u in units for p in _PHRASE_SPLIT.split(u) if p and p.strip()]
    return [u.strip() for u in units]


def encode_quietly(embedder, texts: Sequence[str]) -> np.ndarray:
    """embedder.encode_queries without a progress bar (a notebook cell stays readable)."""
    before = getattr(embedder, "show_progress", None)
    if before is not None:
        embedder.show_progress = False
    try:
        return embedder.encode_queries(list(texts))
    finally:
        if before is not None:
            embedder.show_progress = before


def loo_texts(text: str, unit: str = "auto") -> list[str]:
    """The profile (whitespace normalised) followed by the profile without each unit in turn.

    >>> loo_texts("Loves boots. Hates rain.")
    ['Loves boots. Hates rain.', 'Hates rain.', 'Loves boots.']
    """
    units = split_units(text, unit)
    if not units:
        return []
    return [" ".join(units)] + [" ".join(units[:i] + units[i + 1:]) for i in range(len(units))]


def attribution(text: str, positive_row: int, item_vecs: np.ndarray, embedder,
                unit: str = "auto", exclude: Sequence[int] | None = None,
                vectors: np.ndarray | None = None) -> pd.DataFrame:
    """Leave-one-out contribution of each sentence (or phrase) of a profile to its positive.

    For each unit: the profile without it is embedded, and the change in cosine to the positive
    and in the positive's full-catalogue rank is measured. delta_cosine = full - without (> 0: the
    unit pulls the profile towards the positive); delta_rank = rank without - rank full (> 0:
    removing the unit pushes the positive down the ranking, so the unit helps).
    Returns one row per unit: unit, cosine_without, rank_without, delta_cosine, delta_rank, with
    the full profile's cosine and rank in .attrs. vectors: the embeddings of
    `loo_texts(text, unit)` when the caller has them already (the editor embeds once).
    """
    from bluekit.evaluate import target_ranks

    units = split_units(text, unit)
    cols = ["unit", "cosine_without", "rank_without", "delta_cosine", "delta_rank"]
    if not units or positive_row is None or positive_row < 0:
        out = pd.DataFrame(columns=cols)
        out.attrs.update(cosine=float("nan"), rank=float("nan"), units=units)
        return out
    texts = loo_texts(text, unit)
    vecs = encode_quietly(embedder, texts) if vectors is None else np.asarray(vectors, dtype=np.float32)
    target = [positive_row] * len(texts)
    ranks = target_ranks(vecs, item_vecs, target, [list(exclude or [])] * len(texts) if exclude else None)
    cos = vecs @ item_vecs[positive_row]
    out = pd.DataFrame({"unit": units, "cosine_without": cos[1:], "rank_without": ranks[1:]})
    out["delta_cosine"] = cos[0] - out["cosine_without"]
    out["delta_rank"] = out["rank_without"] - ranks[0]
    out.attrs.update(cosine=float(cos[0]), rank=float(ranks[0]))
    return out[cols]


