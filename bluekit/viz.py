"""Figures as pure functions (data in, a plotly Figure out, fixed axis ranges), and the few data
structures they draw, each built once and cached.

Data for the figures:
    item_map(ws)                          ItemMap: one 2-D UMAP of the item vectors, fitted once per
                                          (embedder, catalogue), seeded, cached on disk; .place(vecs)
                                          puts any profile vectors into the same map
    run_trajectories(run_dir, ws, imap)   Trajectories: a run's snapshot panel on that map, with the
                                          TRUE cosine to the positive and its full-catalogue rank
    trajectory_summary, map_agreement     first vs last snapshot; how far the map can be trusted
    attribution(text, positive_row, item_vecs, embedder)
                                          leave-one-out contribution of each sentence of a profile
Figures:
    notebook_renderer()                   call once in a notebook: figures survive HTML export
    reward_curves, panel_table            training logs (notebook 04)
    history_lengths, item_popularity      the data (notebook 01)
    item_map_figure                       the catalogue by sub-category (notebook 02)
    trajectory_map                        profiles moving on the map, play button + step slider, with
                                          the true distances beside it (notebook 05, the report)
    user_map                              one user's positive, history and profile points (the editor)
    attribution_html                      a profile as coloured text

How profiles get onto the map (the choice, and why). The items are fitted ONCE (seeded UMAP,
cached per embedder and catalogue); profiles are then placed into that fixed map, never fitted
with it. A joint fit of items + profiles would move the items whenever the panel changes, so two
runs, the live view during training and the profile editor could not share one background, and a
profile typed later could not be placed at all. Placement (`ItemMap.place`) is UMAP's own
out-of-sample rule: by default "interpolate", the first half of umap's `transform` (each profile
lands at the membership-weighted mean of its nearest items, exactly as `transform` initialises
new points), which takes milliseconds, needs no numba compile and moves a profile smoothly when its
vector moves a little; method="transform" runs umap's full `transform` (that start plus 100
optimisation epochs, ~6-16 s of numba compile once per process), which can snap a profile that sits
between islands onto one of them. Either way the map distorts: the distance panel beside it
(cosine and rank in the embedding space itself) is the ground truth.

Widgets (bluekit.widgets) wrap these figures; exported HTML keeps them without a kernel.
"""
from __future__ import annotations

import hashlib
import html
import importlib.metadata
import json
import os
import pickle
import re
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# Faint background colours for sub-categories and strong ones for panel users.
_GROUP_COLORS = ("#8dd3c7", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
                 "#bc80bd", "#ccebc5", "#ffed6f", "#a6cee3", "#b2df8a", "#fb9a99", "#fdbf6f",
                 "#cab2d6", "#c7c7c7", "#9edae5", "#f7b6d2", "#dbdb8d", "#c49c94")
_USER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#393b79", "#637939")
# 30 neighbours keep related sub-categories near each other; min_dist 0.5 gives each island room.
UMAP_PARAMS = {"n_neighbors": 30, "min_dist": 0.5, "metric": "cosine", "random_state": 0}
_COMPILED = {"transform": False}  # numba compiles UMAP's transform once per process


# =========================================================================== training logs

def reward_columns(metrics: pd.DataFrame) -> list[str]:
    """The per-reward means TRL logs ("rewards/<name>/mean"), in a stable order."""
    return sorted(c for c in metrics.columns if c.startswith("rewards/") and c.endswith("/mean"))


def reward_curves(metrics: pd.DataFrame, max_steps: int | None = None, smooth: int = 5) -> go.Figure:
    """Total reward and each reward component per training step, raw (faint) and smoothed."""
    train = metrics[metrics["reward"].notna()] if "reward" in metrics else metrics.iloc[0:0]
    fig = go.Figure()
    for column in (["reward"] if "reward" in train else []) + reward_columns(train):
        label = column.removeprefix("rewards/").removesuffix("/mean")
        values = train[column].astype(float)
        fig.add_scatter(x=train["step"], y=values, mode="lines", opacity=0.25,
                        name=f"{label} (per step)", legendgroup=label, showlegend=False)
        fig.add_scatter(x=train["step"], y=values.rolling(smooth, min_periods=1).mean(),
                        mode="lines", name=label, legendgroup=label)
    last = int(max_steps or (train["step"].max() if len(train) else 1))
    fig.update_layout(title="GRPO training: mean reward per step (smoothed)", height=400,
                      xaxis=dict(title="step", range=[0, max(last, 1)]), yaxis_title="reward")
    return fig


def panel_table(snapshots: pd.DataFrame, steps: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Profiles of the snapshot panel side by side: one row per user, one column per step."""
    if snapshots.empty:
        return pd.DataFrame()
    steps = steps or (int(snapshots.step.min()), int(snapshots.step.max()))
    chosen = snapshots[snapshots.step.isin(steps)]
    return chosen.pivot_table(index="user_id", columns="step", values="text", aggfunc="first")


# =========================================================================== notebooks

def notebook_renderer() -> str:
    """Make `fig.show()` in a notebook also render in its exported HTML (nbconvert), offline.

    In a Jupyter kernel plotly writes only its JSON mimetype, which JupyterLab draws but an HTML
    export drops: the exported notebook shows nothing. This adds an HTML version of each figure
    (no MathJax, no CDN) and puts plotly.js into the notebook once, at the first figure. Returns
    the renderer string now in use.
    """
    import plotly.io as pio
    from plotly.io.base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        def to_mimebundle(self, fig_dict):
            return {"text/html": pio.to_html(fig_dict, config=self.config, auto_play=False,
                                             include_plotlyjs=False, include_mathjax=False,
                                             full_html=False, default_width="100%",
                                             default_height=525, validate=False)}

    if "bluekit_offline" not in pio.renderers:
        pio.renderers["bluekit_offline"] = OfflineNotebookRenderer()
    pio.renderers.default = "plotly_mimetype+bluekit_offline"
    return pio.renderers.default


# =========================================================================== the data (notebook 01)

def history_lengths(examples: pd.DataFrame, name: str = "") -> go.Figure:
    """Histogram of history length (items before the target) per example."""
    lengths = examples["history"].map(lambda h: 0 if h is None else len(h)) if len(examples) else []
    fig = go.Figure(go.Histogram(x=list(lengths), nbinsx=30, marker_color="#4c78a8"))
    top = max(list(lengths) or [1])
    fig.update_layout(title=f"{name + ': ' if name else ''}history length per test user", height=380,
                      xaxis=dict(title="history length (items before the test target)",
                                 range=[0, top + 1]),
                      yaxis_title="users", bargap=0.05)
    return fig


def item_popularity(interactions: pd.DataFrame) -> go.Figure:
    """Interactions per item against the item's popularity rank, log-log (the long tail)."""
    counts = interactions["item_id"].value_counts().to_numpy() if len(interactions) else np.zeros(0)
    ranks = np.arange(1, len(counts) + 1)
    fig = go.Figure(go.Scatter(x=ranks, y=counts, mode="lines", line_color="#4c78a8"))
    hi_x, hi_y = max(len(counts), 2), max(int(counts.max()) if len(counts) else 2, 2)
    fig.update_layout(title="item popularity (log-log)", height=380,
                      xaxis=dict(title="item rank by popularity", type="log",
                                 range=[0, np.log10(hi_x) + 0.05]),
                      yaxis=dict(title="interactions", type="log", range=[0, np.log10(hi_y) + 0.1]))
    return fig


# =========================================================================== the item map

def item_groups(items: pd.DataFrame) -> list[str]:
    """Each item's sub-category: the last entry of `categories` (Amazon's path), else `category`.

    >>> item_groups(pd.DataFrame({"categories": [["Shoes", "Boots"], []], "category": ["A", "B"]}))
    ['Boots', 'B']
    """
    out = []
    for i in range(len(items)):
        group = None
        if "categories" in items:
            cats = items["categories"].iloc[i]
            if isinstance(cats, (list, tuple, np.ndarray)) and len(cats):
                group = str(cats[-1])
        if group is None and "category" in items:
            cat = items["category"].iloc[i]
            if isinstance(cat, (list, tuple, np.ndarray)):
                group = str(cat[0]) if len(cat) else None
            elif isinstance(cat, str) and cat:
                group = cat
        out.append(group or "(none)")
    return out


@dataclass
class ItemMap:
    """A 2-D map of the catalogue: item coordinates plus what to show on hover.

    xy[i] is item i's position (rows in the workspace's item order); vectors[i] its unit vector.
    `place(vecs)` puts any vectors of the same embedder (profiles) into the map; the module
    docstring says how ("interpolate", the default, or umap's full "transform") and why.
    """
    xy: np.ndarray
    item_ids: list[str]
    titles: list[str]
    groups: list[str]
    vectors: np.ndarray | None = None
    n_neighbors: int = 15
    key: str = ""
    cache_path: Path | None = None
    embedder_name: str = ""
    reducer: object = None
    method: str = "interpolate"
    placed: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def ranges(self, extra: np.ndarray | None = None, pad: float = 0.06) -> tuple[list, list]:
        """Fixed axis ranges that hold every item (and `extra` points) with a margin."""
        pts = self.xy if extra is None or not len(extra) else np.vstack([self.xy, extra])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        span = np.maximum(hi - lo, 1e-6)
        lo, hi = lo - pad * span, hi + pad * span
        return [float(lo[0]), float(hi[0])], [float(lo[1]), float(hi[1])]

    def place(self, vecs: np.ndarray, method: str | None = None) -> np.ndarray:
        """(n, 2) map positions of unit vectors (profiles); method "interpolate" or "transform"."""
        vecs = np.atleast_2d(np.asarray(vecs, dtype=np.float32))
        method = method or self.method
        if not len(vecs):
            return np.zeros((0, 2), dtype=np.float32)
        if method == "interpolate":
            return self.interpolate(vecs)
        if method != "transform":
            raise ValueError(f"place: method must be 'interpolate' or 'transform', not {method!r}")
        keys = [_vector_key(v) for v in vecs]
        todo = [i for i, k in enumerate(keys) if k not in self.placed]
        if todo:
            reducer = self._load_reducer()
            start = time.perf_counter()
            new_xy = reducer.transform(vecs[todo])
            self.timings["transform_s"] = time.perf_counter() - start
            for i, xy in zip(todo, new_xy):
                self.placed[keys[i]] = (float(xy[0]), float(xy[1]))
            self._save_placed()
        return np.array([self.placed[k] for k in keys], dtype=np.float32)

    def interpolate(self, vecs: np.ndarray) -> np.ndarray:
        """UMAP's out-of-sample placement without its refinement epochs, in plain numpy.

        As umap's `transform` starts: the n_neighbors nearest items by cosine distance, membership
        strengths exp(-d / sigma) with sigma solved per point so they sum to log2(n_neighbors)
        (umap.umap_.smooth_knn_dist with local_connectivity 0, as transform uses), and the
        strength-weighted mean of those items' positions (umap.umap_.init_graph_transform). A
        vector equal to an item lands on it.
        """
        if self.vectors is None:
            raise RuntimeError("this item map has no item vectors to place new points against")
        vecs = np.atleast_2d(np.asarray(vecs, dtype=np.float32))
        k = max(1, min(int(self.n_neighbors), len(self.vectors)))
        dist = np.maximum(1.0 - vecs @ self.vectors.T, 0.0)
        idx = np.argpartition(dist, k - 1, axis=1)[:, :k] if k < dist.shape[1] else np.tile(
            np.arange(dist.shape[1]), (len(vecs), 1))
        d = np.take_along_axis(dist, idx, axis=1)
        order = np.argsort(d, axis=1, kind="stable")
        idx, d = np.take_along_axis(idx, order, axis=1), np.take_along_axis(d, order, axis=1)
        sigma = _smooth_knn_sigma(d, floor=1e-3 * d.mean(axis=1))
        weights = np.exp(-d / sigma[:, None])
        out = (weights[:, :, None] * self.xy[idx]).sum(axis=1) / weights.sum(axis=1, keepdims=True)
        exact = d[:, 0] <= 1e-6  # umap: a strength of 1 puts the point on that item
        out[exact] = self.xy[idx[exact, 0]]
        return out.astype(np.float32)

    def warm_up(self) -> float:
        """Make the first placement quick: for method "transform", compile UMAP's transform
        (numba JIT, 6-16 s once per process); "interpolate" needs nothing. Returns seconds spent."""
        if self.method != "transform" or _COMPILED["transform"]:
            return 0.0
        start = time.perf_counter()
        reducer = self._load_reducer()
        probe = np.random.default_rng(0).standard_normal((1, reducer._raw_data.shape[1]))
        reducer.transform((probe / np.linalg.norm(probe)).astype(np.float32))
        _COMPILED["transform"] = True
        return time.perf_counter() - start

    # -- cache files: {cache}/umap/<embedder>-<key>.npz (coordinates), .pkl (the fitted reducer),
    #    .placed.json (positions "transform" already gave to profile vectors)
    def _load_reducer(self):
        if self.reducer is None:
            if self.cache_path is None or not self.cache_path.with_suffix(".pkl").exists():
                raise RuntimeError("this item map has no fitted UMAP to place new points with")
            start = time.perf_counter()
            with open(self.cache_path.with_suffix(".pkl"), "rb") as fh:
                self.reducer = pickle.load(fh)  # our own cache file, written by fit_item_map
            self.timings["load_reducer_s"] = time.perf_counter() - start
        return self.reducer

    def _save_placed(self) -> None:
        _COMPILED["transform"] = True
        if self.cache_path is not None:
            _write_atomic(self.cache_path.with_suffix(".placed.json"), json.dumps(self.placed).encode())


def _smooth_knn_sigma(d: np.ndarray, floor: np.ndarray, iterations: int = 64) -> np.ndarray:
    """Per row, the sigma with sum_j exp(-d_j / sigma) over neighbours 2..k = log2(k) (umap's
    smooth_knn_dist with rho = 0, vectorised; the first neighbour is left out as umap does).

    >>> d = np.array([[0.1, 0.2, 0.3, 0.4]])
    >>> s = _smooth_knn_sigma(d, floor=np.array([0.0]))
    >>> bool(abs(np.exp(-d[0, 1:] / s[0]).sum() - 2.0) < 1e-4)
    True
    """
    n, k = d.shape
    target = np.log2(k)
    lo, hi, mid = np.zeros(n), np.full(n, np.inf), np.ones(n)
    rest = d[:, 1:]
    for _ in range(iterations):
        psum = np.exp(-rest / mid[:, None]).sum(axis=1)
        too_big = psum > target
        hi = np.where(too_big, mid, hi)
        lo = np.where(too_big, lo, mid)
        mid = np.where(np.isinf(hi), mid * 2, (lo + hi) / 2)
    return np.maximum(mid, np.maximum(floor, 1e-12))


def _vector_key(vec: np.ndarray) -> str:
    """A stable key for a vector (rounded to 5 decimals, so JSON round trips keep it)."""
    return hashlib.blake2b(np.round(np.asarray(vec, dtype=np.float64), 5).tobytes(),
                           digest_size=10).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "embedder"


def map_key(embedder_name: str, item_ids: Sequence[str], item_vecs: np.ndarray,
            params: dict | None = None) -> str:
    """The cache key of a map: embedder, catalogue (ids and vectors), UMAP settings and version."""
    digest = hashlib.sha256()
    try:
        version = importlib.metadata.version("umap-learn")
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    digest.update(json.dumps([embedder_name, version, params or UMAP_PARAMS]).encode())
    digest.update("\n".join(map(str, item_ids)).encode())
    digest.update(np.round(np.asarray(item_vecs, dtype=np.float64), 4).tobytes())
    return digest.hexdigest()[:16]


def fit_item_map(item_vecs: np.ndarray, item_ids: Sequence[str], titles: Sequence[str],
                 groups: Sequence[str], embedder_name: str = "", cache_dir: str | Path | None = None,
                 params: dict | None = None, refit: bool = False) -> ItemMap:
    """Fit (or load from cache_dir/umap/) the 2-D UMAP of the item vectors.

    One fit per (embedder, catalogue, settings): the key hashes the embedder name, the item ids,
    the vectors and the UMAP settings, so a changed catalogue gets a fresh map. Seeded
    (random_state), so a fit repeats exactly; loading a cached map reads one small .npz file.
    """
    params = dict(UMAP_PARAMS if params is None else params)
    item_ids = [str(i) for i in item_ids]
    vecs = np.asarray(item_vecs, dtype=np.float32)
    n_neighbors = max(2, min(int(params.get("n_neighbors", 15)), len(vecs) - 1))
    key = map_key(embedder_name, item_ids, item_vecs, params)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / "umap" / f"{_slug(embedder_name)}-{key}.npz"
    timings: dict = {}
    if path is not None and path.exists() and path.with_suffix(".pkl").exists() and not refit:
        start = time.perf_counter()
        with np.load(path, allow_pickle=False) as data:
            xy, cached_ids = data["xy"], data["item_ids"].tolist()
        if cached_ids == item_ids:
            placed = {}
            placed_path = path.with_suffix(".placed.json")
            if placed_path.exists():
                try:
                    placed = {k: tuple(v) for k, v in json.loads(placed_path.read_text()).items()}
                except (json.JSONDecodeError, ValueError, TypeError):
                    placed = {}
            timings["load_s"] = time.perf_counter() - start
            return ItemMap(xy.astype(np.float32), item_ids, list(map(str, titles)), list(groups),
                           vecs, n_neighbors, key, path, embedder_name, None, placed=placed,
                           timings=timings)
    start = time.perf_counter()
    import umap  # ~3 s the first time in a process; numba compiles the fit (~10 s) once

    timings["import_s"] = time.perf_counter() - start
    reducer = umap.UMAP(**{**params, "n_neighbors": n_neighbors}, n_components=2, n_jobs=1)
    start = time.perf_counter()
    xy = reducer.fit_transform(vecs).astype(np.float32)
    timings["fit_s"] = time.perf_counter() - start
    if path is not None:
        buf = _npz_bytes(xy=xy, item_ids=np.array(item_ids))
        _write_atomic(path.with_suffix(".pkl"), pickle.dumps(reducer))
        _write_atomic(path, buf)
        _write_atomic(path.with_suffix(".placed.json"), b"{}")
    return ItemMap(xy, item_ids, list(map(str, titles)), list(groups), vecs, n_neighbors, key, path,
                   embedder_name, reducer, timings=timings)


def _npz_bytes(**arrays) -> bytes:
    import io
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def item_map(ws, cache_dir: str | Path | None = None, refit: bool = False,
             method: str = "interpolate") -> ItemMap:
    """The workspace's item map (fitted once per embedder and catalogue, cached under
    cfg.embed.cache_dir/umap/ unless cache_dir says otherwise); method: how `place` puts
    profiles on it ("interpolate" or "transform", see the module docstring)."""
    items = ws.prepared.items
    imap = fit_item_map(ws.item_vecs, items["item_id"].astype(str).tolist(),
                        items["title"].astype(str).tolist(), item_groups(items),
                        getattr(ws.embedder, "name", ""),
                        cache_dir if cache_dir is not None else ws.cfg.embed.cache_dir,
                        refit=refit)
    imap.method = method
    return imap


def item_map_figure(imap: ItemMap, title: str = "", height: int = 560) -> go.Figure:
    """The catalogue on its UMAP map, one colour (and legend entry) per sub-category.

    SVG scatter (not WebGL) on purpose: exported HTML then renders in any browser, headless too.
    """
    fig = go.Figure()
    groups = pd.Series(imap.groups)
    for g, (name, index) in enumerate(sorted(groups.groupby(groups).groups.items())):
        rows = np.asarray(index)
        fig.add_scatter(x=imap.xy[rows, 0], y=imap.xy[rows, 1], mode="markers", name=str(name),
                        marker=dict(size=6, color=_GROUP_COLORS[g % len(_GROUP_COLORS)],
                                    symbol=("circle", "square", "triangle-up")[g // len(_GROUP_COLORS) % 3],
                                    line=dict(width=0.3, color="#555")),
                        hovertext=[_short(imap.titles[r], 80) for r in rows],
                        hovertemplate="%{hovertext}<br><i>" + html.escape(str(name)) +
                                      "</i><extra></extra>")
    x_range, y_range = imap.ranges()
    fig.update_layout(title=title or f"items by sub-category (UMAP of {imap.embedder_name or 'the item vectors'})",
                      height=height, legend=dict(title="sub-category", font=dict(size=10)),
                      xaxis=dict(title="UMAP 1", range=x_range, zeroline=False),
                      yaxis=dict(title="UMAP 2", range=y_range, zeroline=False),
                      plot_bgcolor="white")
    return fig


# =========================================================================== trajectories

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


# =========================================================================== the trajectory map

def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _wrap(text: str, width: int = 64, max_lines: int = 6) -> str:
    lines = textwrap.wrap(" ".join(str(text).split()), width) or ["(empty profile)"]
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [lines[max_lines - 1][: width - 1] + "…"]
    return "<br>".join(html.escape(line) for line in lines)


def _fmt_rank(rank: float, n_items: int) -> str:
    return "not in catalogue" if not np.isfinite(rank) else f"{int(rank)} / {n_items}"


def point_hover(row, label: str, reward_names: Sequence[str], n_items: int) -> str:
    """Hover text of one (step, user) point: rank, cosine, rewards and the profile itself."""
    rewards = " · ".join(f"{html.escape(str(n))} {row[n]:.3f}" for n in reward_names
                         if n in row and pd.notna(row[n]))
    return (f"<b>{html.escape(label)}</b> · step {int(row['step'])}<br>"
            f"positive's rank: <b>{_fmt_rank(row['rank'], n_items)}</b> · cosine {row['cosine']:.3f}<br>"
            + (f"rewards: {rewards}<br>" if rewards else "") + f"<i>{_wrap(row['text'])}</i>")


def _frame_steps(steps: list[int], max_frames: int) -> list[int]:
    if len(steps) <= max_frames:
        return list(steps)
    picks = np.unique(np.round(np.linspace(0, len(steps) - 1, max_frames)).astype(int))
    return [steps[i] for i in picks]


def _path_trace_data(pts: pd.DataFrame, label: str, reward_names, n_items: int) -> dict:
    n = len(pts)
    symbols = ["circle"] * max(n - 1, 0) + (["arrow"] if n > 1 else ["circle"] * n)
    sizes = [5] * max(n - 1, 0) + ([17] if n > 1 else [10] * n)
    return dict(x=pts["x"].tolist(), y=pts["y"].tolist(),
                hovertext=[point_hover(r, label, reward_names, n_items) for _, r in pts.iterrows()],
                marker=dict(symbol=symbols, size=sizes))


def trajectory_map(imap: ItemMap, traj: Trajectories, animate: bool = True,
                   max_steps: int | None = None, max_frames: int = 30, height: int = 760,
                   title: str | None = None) -> go.Figure:
    """The panel's profiles moving on the item map, and the true distances beside it.

    Left: items as a faint background coloured by sub-category; per panel user the positive item
    (star), the history items the prompt showed (small diamonds), and the profile's position at
    each snapshot step joined into a path with an arrow at the latest step. Right: cosine to the
    positive and the positive's rank over steps (each user thin, the median thick): measured in
    the embedding space, these are what the map illustrates.

    animate=True adds plotly frames (one per snapshot step, at most max_frames), a play button and
    a step slider; the figure opens at the last step. animate=False (live widgets) draws the
    current state only. Axis ranges are fixed, so frames never rescale.
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, column_widths=[0.63, 0.37], horizontal_spacing=0.09,
                        vertical_spacing=0.14, specs=[[{"rowspan": 2}, {}], [None, {}]],
                        subplot_titles=("profiles on the item map (UMAP: positions are approximate)",
                                        "TRUE cosine(profile, positive) ↑",
                                        "TRUE rank of the positive (log; 1 = top) ↑"))
    groups = pd.Series(imap.groups)
    codes = {g: i for i, g in enumerate(sorted(groups.unique()))}
    fig.add_scatter(x=imap.xy[:, 0], y=imap.xy[:, 1], mode="markers", name="items (by sub-category)",
                    marker=dict(size=6, color=[_GROUP_COLORS[codes[g] % len(_GROUP_COLORS)] for g in groups],
                                opacity=0.55),
                    hovertext=[f"{html.escape(_short(t, 70))}<br><i>{html.escape(g)}</i>"
                               for t, g in zip(imap.titles, imap.groups)],
                    hovertemplate="%{hovertext}<extra>item</extra>", row=1, col=1)
    centroids = pd.DataFrame(imap.xy, columns=["x", "y"]).groupby(groups.to_numpy()).median()
    fig.add_scatter(x=centroids["x"], y=centroids["y"], mode="text", text=list(centroids.index),
                    textfont=dict(size=9, color="rgba(60,60,60,0.75)"), name="sub-category names",
                    hoverinfo="skip", row=1, col=1)
    placed = traj.points[["x", "y"]].to_numpy() if not traj.empty else None
    x_range, y_range = imap.ranges(placed)
    last_step = traj.steps[-1] if traj.steps else 0
    step_hi = max(int(max_steps or 0), last_step, 1)
    path_idx: list[int] = []
    for _, user in traj.users.iterrows():
        color, label, group = user["color"], user["label"], user["user_id"]
        hist = np.asarray(user["history_rows"], dtype=int)
        if len(hist):
            fig.add_scatter(x=imap.xy[hist, 0], y=imap.xy[hist, 1], mode="markers", legendgroup=group,
                            showlegend=False, name=f"{label}: history",
                            marker=dict(symbol="diamond", size=7, color=color, opacity=0.6,
                                        line=dict(width=0.5, color="white")),
                            hovertext=[f"{html.escape(label)} history: {html.escape(_short(imap.titles[h], 70))}"
                                       for h in hist],
                            hovertemplate="%{hovertext}<extra></extra>", row=1, col=1)
        if user["positive_row"] >= 0:
            r = int(user["positive_row"])
            fig.add_scatter(x=[imap.xy[r, 0]], y=[imap.xy[r, 1]], mode="markers", legendgroup=group,
                            showlegend=False, name=f"{label}: positive",
                            marker=dict(symbol="star", size=17, color=color, line=dict(width=1, color="black")),
                            hovertext=[f"<b>{html.escape(label)}</b>: positive (next item)<br>"
                                       f"{html.escape(_short(imap.titles[r], 80))}<br><i>{html.escape(imap.groups[r])}</i>"],
                            hovertemplate="%{hovertext}<extra></extra>", row=1, col=1)
        pts = traj.points[traj.points.user_id == group].sort_values("step")
        data = _path_trace_data(pts, label, traj.reward_names, traj.n_items)
        fig.add_scatter(x=data["x"], y=data["y"], mode="lines+markers", name=label, legendgroup=group,
                        line=dict(color=color, width=1.6), opacity=0.85,
                        marker=dict(color=color, angleref="previous", line=dict(width=0.5, color="black"),
                                    **data["marker"]),
                        hovertext=data["hovertext"], hovertemplate="%{hovertext}<extra></extra>",
                        row=1, col=1)
        path_idx.append(len(fig.data) - 1)
    # The true distances: per user thin, median thick.
    if not traj.empty:
        for column, row in (("cosine", 1), ("rank", 2)):
            for _, user in traj.users.iterrows():
                pts = traj.points[traj.points.user_id == user["user_id"]].sort_values("step")
                fig.add_scatter(x=pts["step"], y=pts[column], mode="lines+markers", legendgroup=user["user_id"],
                                showlegend=False, name=user["label"], opacity=0.55,
                                line=dict(color=user["color"], width=1), marker=dict(size=4),
                                hovertemplate=f"{html.escape(user['label'])}<br>step %{{x}}: {column} %{{y:.3g}}<extra></extra>",
                                row=row, col=2)
            median = traj.points.groupby("step")[column].median()
            fig.add_scatter(x=median.index, y=median.values, mode="lines+markers", name=f"median {column}",
                            legendgroup="median", showlegend=(row == 1), line=dict(color="black", width=3),
                            hovertemplate=f"median over the panel<br>step %{{x}}: {column} %{{y:.3g}}<extra></extra>",
                            row=row, col=2)
    cos_lo, cos_hi = (-0.1, 1.0) if traj.empty else (
        float(np.nanmin(traj.points["cosine"])) - 0.05, float(np.nanmax(traj.points["cosine"])) + 0.05)
    rank_hi = np.log10(max(traj.n_items, 2) * 1.3)
    cursor_idx = []
    for row, lo, hi in ((1, cos_lo, cos_hi), (2, rank_hi, np.log10(0.7))):
        y = [lo, hi] if row == 1 else [10 ** lo, 10 ** hi]
        fig.add_scatter(x=[last_step, last_step], y=y, mode="lines", showlegend=False, hoverinfo="skip",
                        line=dict(color="rgba(0,0,0,0.35)", width=8), name="current step", row=row, col=2)
        cursor_idx.append(len(fig.data) - 1)
    fig.update_xaxes(range=list(x_range), showticklabels=False, zeroline=False, showgrid=False, row=1, col=1)
    fig.update_yaxes(range=list(y_range), showticklabels=False, zeroline=False, showgrid=False, row=1, col=1)
    for row in (1, 2):
        fig.update_xaxes(range=[-0.02 * step_hi, step_hi * 1.02], title_text="training step" if row == 2 else None,
                         row=row, col=2)
    fig.update_yaxes(range=[cos_lo, cos_hi], row=1, col=2)
    fig.update_yaxes(type="log", range=[rank_hi, np.log10(0.7)], row=2, col=2)
    head = title if title is not None else f"How the panel's profiles moved: {traj.label}"
    fig.update_layout(title=dict(text=head, x=0.01), height=height, plot_bgcolor="white",
                      hoverlabel=dict(align="left"), margin=dict(l=30, r=20, t=80, b=30),
                      legend=dict(orientation="h", yanchor="top", y=-0.16 if animate else -0.08, x=0,
                                  font=dict(size=11)))
    if traj.empty:
        fig.add_annotation(text=html.escape(traj.message or "nothing to draw"), x=0.5, y=0.5,
                           xref="paper", yref="paper", showarrow=False, font=dict(size=14, color="#b00"),
                           bgcolor="rgba(255,255,255,0.9)")
        return fig
    if animate:
        _add_frames(fig, traj, path_idx, cursor_idx, _frame_steps(traj.steps, max_frames),
                    (cos_lo, cos_hi), rank_hi)
    return fig


def _add_frames(fig: go.Figure, traj: Trajectories, path_idx: list[int], cursor_idx: list[int],
                steps: list[int], cos_range: tuple, rank_hi: float) -> None:
    frames = []
    for step in steps:
        data = []
        for _, user in traj.users.iterrows():
            pts = traj.points[(traj.points.user_id == user["user_id"]) & (traj.points.step <= step)]
            d = _path_trace_data(pts.sort_values("step"), user["label"], traj.reward_names, traj.n_items)
            data.append(go.Scatter(x=d["x"], y=d["y"], hovertext=d["hovertext"],
                                   marker=dict(color=user["color"], angleref="previous",
                                               line=dict(width=0.5, color="black"), **d["marker"])))
        data.append(go.Scatter(x=[step, step], y=list(cos_range)))
        data.append(go.Scatter(x=[step, step], y=[10 ** rank_hi, 0.7]))
        frames.append(go.Frame(name=str(step), data=data, traces=path_idx + cursor_idx))
    fig.frames = frames
    # No transition: tweening paths whose point count changes makes invalid SVG (console errors).
    play = dict(frame=dict(duration=700, redraw=False), transition=dict(duration=0),
                fromcurrent=False, mode="immediate")
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.02, xanchor="left",
                          yanchor="top", showactive=False, pad=dict(r=6, t=0),
                          buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                                   dict(label="❚❚ pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False),
                                                           mode="immediate")])])],
        sliders=[dict(active=len(steps) - 1, x=0.14, len=0.48, y=-0.01, yanchor="top",
                      currentvalue=dict(prefix="step ", font=dict(size=12)), pad=dict(t=0, b=0),
                      steps=[dict(label=str(s), method="animate",
                                  args=[[str(s)], dict(frame=dict(duration=0, redraw=False),
                                                       transition=dict(duration=0), mode="immediate")])
                             for s in steps])])


def user_map(imap: ItemMap, positive_row: int, history_rows: Sequence[int],
             points: Sequence[dict], title: str = "", height: int = 480) -> go.Figure:
    """One user on the item map: the positive (star), the history (diamonds) and profile points.

    points: dicts with label, x, y (None: an empty trace to fill later, e.g. by a widget), and
    optionally color, symbol, size, hover. The figure keeps the
    same fixed ranges as the trajectory map, so positions are comparable.
    """
    fig = go.Figure()
    fig.add_scatter(x=imap.xy[:, 0], y=imap.xy[:, 1], mode="markers", name="items",
                    marker=dict(size=4, color="#bbbbbb", opacity=0.5),
                    hovertext=[html.escape(_short(t, 70)) for t in imap.titles],
                    hovertemplate="%{hovertext}<extra>item</extra>")
    hist = np.asarray(list(history_rows), dtype=int)
    fig.add_scatter(x=imap.xy[hist, 0] if len(hist) else [], y=imap.xy[hist, 1] if len(hist) else [],
                    mode="markers", name="history", marker=dict(symbol="diamond", size=8, color="#555"),
                    hovertext=[html.escape(_short(imap.titles[h], 70)) for h in hist],
                    hovertemplate="history: %{hovertext}<extra></extra>")
    if positive_row >= 0:
        fig.add_scatter(x=[imap.xy[positive_row, 0]], y=[imap.xy[positive_row, 1]], mode="markers",
                        name="positive (next item)",
                        marker=dict(symbol="star", size=18, color="gold", line=dict(width=1, color="black")),
                        hovertext=[html.escape(_short(imap.titles[positive_row], 80))],
                        hovertemplate="positive: %{hovertext}<extra></extra>")
    for p in points:
        shown = p.get("x") is not None and p.get("y") is not None
        fig.add_scatter(x=[p["x"]] if shown else [], y=[p["y"]] if shown else [], mode="markers",
                        name=p["label"],
                        marker=dict(symbol=p.get("symbol", "circle"), size=p.get("size", 13),
                                    color=p.get("color", "#d62728"), line=dict(width=1, color="black")),
                        hovertext=[p.get("hover", html.escape(p["label"]))],
                        hovertemplate="%{hovertext}<extra></extra>")
    placed = [[p["x"], p["y"]] for p in points if p.get("x") is not None and p.get("y") is not None]
    extra = np.array(placed, dtype=float) if placed else None
    x_range, y_range = imap.ranges(extra)
    fig.update_layout(title=title, height=height, plot_bgcolor="white", margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(range=x_range, showticklabels=False, showgrid=False, zeroline=False),
                      yaxis=dict(range=y_range, showticklabels=False, showgrid=False, zeroline=False),
                      legend=dict(orientation="h", y=-0.02))
    return fig


# =========================================================================== attribution

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


def attribution_html(table: pd.DataFrame, scale: float | None = None) -> str:
    """The profile as coloured text: green units pull it towards the positive, red ones away.

    Colour strength follows delta_cosine (relative to `scale`, default the largest |delta|);
    hovering a unit shows its numbers. Plain HTML (no scripts), for notebooks and the report.
    """
    if table is None or table.empty:
        return "<p><i>(empty profile: nothing to attribute)</i></p>"
    deltas = table["delta_cosine"].astype(float)
    scale = scale or max(float(deltas.abs().max()), 1e-6)
    spans = []
    for _, row in table.iterrows():
        d = float(row["delta_cosine"])
        alpha = min(abs(d) / scale, 1.0) * 0.75 + 0.05
        rgb = "0,150,60" if d > 0 else "215,40,40"
        dr = row["delta_rank"]
        tip = (f"without this: cosine {row['cosine_without']:.3f} ({-d:+.3f}), "
               f"rank {_fmt_rank(row['rank_without'], 0).split(' /')[0]} "
               f"({'+' if dr > 0 else ''}{dr:.0f} places)")
        spans.append(f'<span title="{html.escape(tip)}" style="background: rgba({rgb},{alpha:.2f}); '
                     f'padding: 1px 2px; border-radius: 3px">{html.escape(str(row["unit"]))}</span>')
    full = table.attrs
    head = ""
    if "rank" in full and np.isfinite(full.get("rank", np.nan)):
        head = (f'<div style="font-size: 0.85em; color: #555">full profile: positive at rank '
                f'{int(full["rank"])}, cosine {full["cosine"]:.3f}. Green: removing it lowers the '
                f'cosine (the sentence helps); red: removing it raises the cosine.</div>')
    return f'<div style="line-height: 1.9">{" ".join(spans)}</div>{head}'
