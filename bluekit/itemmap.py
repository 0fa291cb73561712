"""The item map: one 2-D UMAP of the catalogue's item vectors, fitted once per (embedder,
catalogue), seeded and cached on disk, into which profile vectors are placed (bluekit.viz draws it).

    imap = item_map(ws)                 # ItemMap: xy per item, titles, sub-category groups
    imap.place(profile_vecs)            # (n, 2) positions of any vectors of the same embedder

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
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import pickle
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from bluekit.atomic import write_bytes

# 30 neighbours keep related sub-categories near each other; min_dist 0.5 gives each island room.
UMAP_PARAMS = {"n_neighbors": 30, "min_dist": 0.5, "metric": "cosine", "random_state": 0}
_COMPILED = {"transform": False}  # numba compiles UMAP's transform once per process


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
            write_bytes(self.cache_path.with_suffix(".placed.json"), json.dumps(self.placed).encode())


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
        write_bytes(path.with_suffix(".pkl"), pickle.dumps(reducer))
        write_bytes(path, buf)
        write_bytes(path.with_suffix(".placed.json"), b"{}")
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


