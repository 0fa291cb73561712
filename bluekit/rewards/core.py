"""What every reward shares: the context it reads, input checking, text extraction, a toy embedder.

A kit reward is a :class:`Reward` subclass (picklable, with a stable ``__name__``) that follows
TRL's contract: ``reward(prompts=..., completions=..., completion_ids=..., trainer_state=...,
**columns)`` returns one float per completion. :class:`Reward` does the shared work once: it
checks the inputs (programming errors raise), turns completions into plain text, and makes sure
odd text never crashes a training run (a failing batch scores the reward's floor, with one
warning). A plain TRL reward function works too (see bluekit.rewards.registry).
"""
from __future__ import annotations

import logging
import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from bluekit.errors import KitError

logger = logging.getLogger("bluekit.rewards")

class RewardError(KitError, ValueError):
    """A reward was called or configured wrongly (a programming error, not odd model text)."""


# --------------------------------------------------------------------------- text extraction

def _content_text(content: Any) -> str:
    """Message content: a string, None, or a list of parts like {"type": "text", "text": ...}."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "".join(_content_text(part.get("text", part.get("content")) if isinstance(part, dict)
                                     else part) for part in content)
    return str(content)


def completion_text(completion: Any) -> str:
    """The plain text of one completion, in any of the shapes TRL and users pass.

    >>> completion_text("loves boots")
    'loves boots'
    >>> completion_text([{"role": "assistant", "content": "loves boots"}])
    'loves boots'
    >>> completion_text({"role": "assistant", "content": None})
    ''
    >>> completion_text(None)
    ''
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return _content_text(completion.get("content"))
    if isinstance(completion, (list, tuple)):
        # A conversation: keep the assistant turns (all turns when no role says "assistant").
        messages = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in messages if m.get("role") == "assistant"]
        chosen = assistant or messages
        if not messages:
            return " ".join(_content_text(m) for m in completion)
        return "\n".join(_content_text(m.get("content")) for m in chosen)
    return str(completion)


def prompt_text(prompt: Any) -> str:
    """All the text of a prompt (a string or a list of messages), for rewards that read it."""
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, dict):
        return _content_text(prompt.get("content"))
    if isinstance(prompt, (list, tuple)):
        return "\n".join(prompt_text(m) for m in prompt)
    return str(prompt)


# --------------------------------------------------------------------------- a toy embedder

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset("a an and the of to for with in on at by is are this that who user".split())


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words (non-ASCII letters are dropped)."""
    return _WORD.findall(text.lower())


class HashingEmbedder:
    """A bag-of-words hashing embedder: fast, deterministic, no model. For docs and tests.

    Each word (lower-cased, stop-words dropped, a trailing plural "s" removed) adds +-1 to one of
    ``dim`` slots chosen by a CRC32 hash; vectors are L2-normalised (the empty text gives zeros).
    Texts sharing words get a positive cosine, so it ranks like a very crude sentence embedder.

    >>> emb = HashingEmbedder(dim=256)
    >>> v = emb.encode_queries(["waterproof hiking boots", "hiking boot", "espresso machine"])
    >>> v.shape, round(float(v[0] @ v[1]), 3), round(float(v[0] @ v[2]), 3)
    ((3, 256), 0.816, 0.0)
    """

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in words(text or ""):
            if word in _STOPWORDS:
                continue
            if len(word) > 3 and word.endswith("s"):
                word = word[:-1]
            h = zlib.crc32(word.encode())
            vec[h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    encode_documents = encode_queries


# --------------------------------------------------------------------------- the context

def _normalise_rows(vecs: np.ndarray) -> np.ndarray:
    vecs = np.nan_to_num(np.asarray(vecs, dtype=np.float32))
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms > 0, norms, 1.0)


@dataclass
class RewardContext:
    """Everything the rewards read besides the batch: the embedder and the item catalogue.

    item_vecs rows are aligned with item_ids and item_titles (normalised again here, to be safe).
    ``items``: the prepared item table (bluekit.data.schema: title, category, categories = the
    category path root first, description, features, store, price, average_rating, text), one
    row per item in the order of item_ids, or None (a context built from ids and titles only). ``ctx.item(id)``
    gives one row as a dict. docs/REWARDS.md lists everything a reward receives.
    Reader LLMs of the text-space reward load lazily: pass ``reader=(model, tokenizer)`` (the
    default reader) or a ``reader_factory(spec)`` returning that pair for a model spec (None =
    the default reader, the frozen initial profiler), called once per spec on first use.
    ``policy=(model, tokenizer)``: the policy being trained (set by training). With
    ``share_policy`` (LoRA training) the default reader is that model with its adapter disabled
    (bluekit.llm.PolicyReader: the initial profiler without a second copy); any reader loaded by
    the factory is moved to the policy's device.
    ``strict=True`` makes rewards re-raise errors instead of scoring a floor value (useful while
    developing a reward). Build one for a prepared catalogue with :func:`reward_context`.
    """
    embedder: Any
    item_ids: list[str]
    item_vecs: np.ndarray
    item_titles: list[str]
    seed: int = 0
    reader_factory: Callable[[str | None], tuple] | None = None
    reader: tuple | None = None
    policy: tuple | None = None  # (model, tokenizer) of the policy being trained
    share_policy: bool = True  # the default reader is the policy with its adapter off (LoRA only)
    strict: bool = False
    hard_negative_pool: int = 64  # neighbours cached per item for "hard" negatives
    max_completion_length: int | None = None  # the trainer's token cap (length_format's cut-off)
    items: Any = None  # pandas DataFrame of item metadata, rows aligned with item_ids (or None)
    _row_of: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _neighbours: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    _readers: dict[str | None, tuple] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        self.item_ids = [str(i) for i in self.item_ids]
        self.item_titles = [str(t) for t in self.item_titles]
        self.item_vecs = _normalise_rows(self.item_vecs)
        n = len(self.item_ids)
        if self.item_vecs.ndim != 2 or self.item_vecs.shape[0] != n:
            raise RewardError(f"RewardContext: item_vecs has shape {self.item_vecs.shape}, "
                              f"expected ({n}, dim) to match item_ids")
        if len(self.item_titles) != n:
            raise RewardError(f"RewardContext: {len(self.item_titles)} item_titles for {n} item_ids")
        self._row_of = {item: row for row, item in enumerate(self.item_ids)}
        if len(self._row_of) != n:
            raise RewardError("RewardContext: item_ids are not unique")
        if self.items is not None:
            self.items = self.items.reset_index(drop=True)
            # rewards index items by row, so a table in another order would score the wrong item
            if self.items["item_id"].astype(str).tolist() != self.item_ids:
                raise RewardError("RewardContext: items must have one row per item_id, in the "
                                  "order of item_ids")

    @classmethod
    def from_texts(cls, embedder, item_ids: Sequence[str], item_texts: Sequence[str],
                   item_titles: Sequence[str] | None = None, **kwargs) -> "RewardContext":
        """Encode the item texts once (as documents) and build a context around them."""
        encode = getattr(embedder, "encode_documents", None) or embedder.encode_queries
        return cls(embedder, list(item_ids), encode(list(item_texts)),
                   list(item_titles if item_titles is not None else item_texts), **kwargs)

    def set_item_vecs(self, item_vecs: np.ndarray) -> None:
        """Swap in new item vectors (e.g. after a contrastive round of a trainable embedder);
        rows stay aligned with item_ids and the cached hard negatives are rebuilt on demand."""
        vecs = _normalise_rows(item_vecs)
        if vecs.shape[0] != self.num_items:
            raise RewardError(f"set_item_vecs: {vecs.shape[0]} rows for {self.num_items} items")
        self.item_vecs = vecs
        self._neighbours = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        if state.get("reader_factory") is not None:
            state["reader"] = None  # a picklable factory rebuilds the reader; skip the weights
        state["policy"] = None  # never pickle the model being trained (a copy reads instead)
        state["_neighbours"], state["_readers"] = {}, {}
        return state

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    def item_row(self, item_id: str) -> int:
        """Row of an item in item_vecs; a clear KeyError for an id outside the catalogue."""
        try:
            return self._row_of[str(item_id)]
        except KeyError:
            raise KeyError(f"item id {item_id!r} is not in the reward catalogue "
                           f"({self.num_items} items, e.g. {self.item_ids[:3]})") from None

    def item_rows(self, item_ids: Sequence[str]) -> np.ndarray:
        return np.array([self.item_row(i) for i in item_ids], dtype=np.int64)

    def known_rows(self, item_ids: Sequence[str]) -> np.ndarray:
        """Rows of the given items, skipping ids outside the catalogue (for optional columns)."""
        rows = (self._row_of.get(str(i)) for i in item_ids)
        return np.array([r for r in rows if r is not None], dtype=np.int64)

    def item(self, item_id: str) -> dict:
        """One item's metadata row (a dict of the items table's columns).

        >>> toy_context().item("boots")["categories"]
        ['Sports & Outdoors', 'Hiking', 'Boots']
        """
        if self.items is None:
            raise RewardError("this reward needs item metadata: the RewardContext has no items "
                              "table (build it with reward_context(), or pass items=DataFrame)")
        return self.items.iloc[self.item_row(item_id)].to_dict()

    def titles_of(self, item_ids: Sequence[str]) -> list[str]:
        """Titles of the given items, skipping ids outside the catalogue."""
        return [self.item_titles[r] for r in self.known_rows(item_ids)]

    def nearest_items(self, row: int, k: int) -> np.ndarray:
        """The k items most similar to item ``row`` (itself excluded), nearest first; cached."""
        if row not in self._neighbours or len(self._neighbours[row]) < min(k, self.num_items - 1):
            pool = max(k, self.hard_negative_pool)
            sims = self.item_vecs @ self.item_vecs[row]
            sims[row] = -np.inf
            pool = min(pool, self.num_items - 1)
            top = np.argpartition(-sims, pool - 1)[:pool] if pool > 0 else np.array([], int)
            self._neighbours[row] = top[np.argsort(-sims[top], kind="stable")]
        return self._neighbours[row][:k]

    def get_reader(self, spec: str | None = None) -> tuple:
        """(model, tokenizer) of a reader LLM (None = the default one), loaded once on first use.

        The default reader is ``reader`` when given, else the policy with its adapter disabled
        when a policy is set, else ``reader_factory(None)``. A reader from the factory is moved
        to the policy's device (when a policy is set). A reader that fails to load raises
        RewardError (loud: a reward that silently scores 0 would train on nothing).
        """
        if spec is None and self.reader is not None:
            return self.reader
        if spec is None and self.policy is not None and self.share_policy:
            if None not in self._readers:
                from bluekit.llm import PolicyReader
                model, tokenizer = self.policy
                self._readers[None] = (PolicyReader(model), tokenizer)
            return self._readers[None]
        if spec not in self._readers:
            if self.reader_factory is None:
                raise RewardError("this reward needs a reader LLM: set RewardContext.reader=(model, "
                                  "tokenizer) or RewardContext.reader_factory")
            try:
                model, tokenizer = self.reader_factory(spec)
                device = self.policy_device()
                if device is not None and hasattr(model, "to") and _device_of(model) != device:
                    model = model.to(device)
            except Exception as error:  # noqa: BLE001 - any load failure, named once, loudly
                raise RewardError(f"the reader LLM {spec or '(the initial profiler)'} could not "
                                  f"be loaded: {type(error).__name__}: {error}") from error
            self._readers[spec] = (model, tokenizer)
        return self._readers[spec]

    def policy_device(self):
        """The device the policy's weights are on now (None without a policy)."""
        return None if self.policy is None else _device_of(self.policy[0])


def _device_of(model):
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return None


TOY_CATALOGUE = {
    "boots": "Waterproof leather hiking boots for trail walking",
    "socks": "Merino wool hiking socks",
    "tent": "Two person camping tent",
    "knife": "Stainless steel kitchen knife set",
    "pan": "Non-stick frying pan for the kitchen",
    "novel": "Romance novel paperback",
    "earbuds": "Wireless bluetooth earbuds",
    "yoga": "Yoga mat with carrying strap",
}
# The toy items' category paths (root first), so metadata rewards can be tried on the toy context.
TOY_CATEGORIES = {
    "boots": ["Sports & Outdoors", "Hiking", "Boots"],
    "socks": ["Sports & Outdoors", "Hiking", "Socks"],
    "tent": ["Sports & Outdoors", "Camping", "Tents"],
    "knife": ["Home & Kitchen", "Cutlery", "Knife Sets"],
    "pan": ["Home & Kitchen", "Cookware", "Frying Pans"],
    "novel": ["Books", "Romance"],
    "earbuds": ["Electronics", "Headphones", "Earbuds"],
    "yoga": ["Sports & Outdoors", "Yoga", "Mats"],
}


def toy_items():
    """The toy catalogue as an items table (the prepared table's columns, prices made up)."""
    import pandas as pd

    ids = list(TOY_CATALOGUE)
    return pd.DataFrame({
        "item_id": ids, "title": [TOY_CATALOGUE[i] for i in ids],
        "category": [TOY_CATEGORIES[i][0] for i in ids], "description": [""] * len(ids),
        "features": [[] for _ in ids], "categories": [TOY_CATEGORIES[i] for i in ids],
        "store": [""] * len(ids), "price": [10.0 * (n + 1) for n in range(len(ids))],
        "address": [""] * len(ids), "average_rating": [4.5] * len(ids),
        "text": [TOY_CATALOGUE[i] for i in ids]})


def toy_context(dim: int = 256, **kwargs) -> RewardContext:
    """A context over 8 everyday items with a :class:`HashingEmbedder`, for examples and tests.

    >>> ctx = toy_context()
    >>> ctx.num_items, ctx.item_row("boots"), ctx.item_titles[0]
    (8, 0, 'Waterproof leather hiking boots for trail walking')
    """
    ids, titles = list(TOY_CATALOGUE), list(TOY_CATALOGUE.values())
    kwargs.setdefault("items", toy_items())
    return RewardContext.from_texts(HashingEmbedder(dim), ids, titles, titles, **kwargs)


# --------------------------------------------------------------------------- the batch

@dataclass
class Batch:
    """One reward call, checked: texts, prompts and the dataset columns, all the same length."""
    texts: list[str]
    prompts: list[Any] | None
    completion_ids: list[Any] | None
    columns: dict[str, list]
    step: int = 0

    def __len__(self) -> int:
        return len(self.texts)

    def column(self, name: str, reward: str) -> list:
        if name not in self.columns:
            raise RewardError(f"reward {reward!r} needs the dataset column {name!r}; the call "
                              f"has {sorted(self.columns) or 'no columns'}")
        return self.columns[name]

    def group_keys(self) -> list[str]:
        """Who each row belongs to: user_id, else the prompt text, else the positive item.

        Rows with the same key are generations for the same user (GRPO groups).
        """
        if "user_id" in self.columns:
            return [str(u) for u in self.columns["user_id"]]
        if self.prompts is not None:
            return [prompt_text(p) for p in self.prompts]
        if "positive" in self.columns:
            return [str(p) for p in self.columns["positive"]]
        return [str(i) for i in range(len(self.texts))]

    def rng(self, seed: int, key: str) -> np.random.Generator:
        """A generator seeded by (context seed, training step, user key): the G generations of a
        user see the same random draws, and a new step draws anew."""
        return np.random.default_rng([seed, self.step, zlib.crc32(key.encode("utf-8", "replace"))])


def make_batch(completions, prompts=None, completion_ids=None, trainer_state=None,
               **columns) -> Batch:
    """Check a TRL-style call and turn it into a :class:`Batch` (programming errors raise)."""
    if completions is None or isinstance(completions, (str, dict)) or not len(completions):
        raise RewardError("reward called with no completions: pass completions=[...] with one "
                          "entry per generated profile")
    n = len(completions)
    lists = {"prompts": prompts, "completion_ids": completion_ids}
    lists.update({k: v for k, v in columns.items() if isinstance(v, (list, tuple, np.ndarray))})
    for name, values in lists.items():
        if values is not None and len(values) != n:
            raise RewardError(f"column {name!r} has {len(values)} rows but there are {n} completions; "
                              "every dataset column must have one entry per completion")
    cols = {k: list(v) for k, v in lists.items()
            if k not in ("prompts", "completion_ids") and v is not None}
    step = int(getattr(trainer_state, "global_step", 0) or 0)
    return Batch([completion_text(c) for c in completions],
                 list(prompts) if prompts is not None else None,
                 list(completion_ids) if completion_ids is not None else None, cols, step)


# --------------------------------------------------------------------------- the base class

class Reward:
    """Base of every kit reward: a picklable callable class with a TRL-style signature.

    A subclass writes ``score(batch)`` returning one value per row, and takes its settings as
    keyword arguments of ``__init__(self, ctx, ...)`` (a config's ``params``). Its name in
    configs and in TRL's logs (``rewards/<name>/mean``) is the one given to ``@register``, else
    the class name in snake_case (``TitleOverlap`` -> ``title_overlap``). ``floor`` is the value
    a broken batch gets: errors inside ``score`` (odd text, a failing model) are logged once and
    scored ``floor`` unless ``ctx.strict``; bad calls and set-up mistakes raise
    :class:`RewardError`. ``score`` may also fill ``self.diagnostics`` (name -> batch mean);
    under TRL they are logged through its ``log_metric`` hook as ``<reward name>/<diagnostic>``.

    >>> class Brevity(Reward):
    ...     def score(self, batch):
    ...         return [-len(text.split()) / 50 for text in batch.texts]
    >>> reward = Brevity()
    >>> reward.__name__, reward(completions=["two words", [{"role": "assistant", "content": "one"}]])
    ('brevity', [-0.04, -0.02])
    """
    floor: float = 0.0
    needs_ctx: bool = False  # True: building the reward without a RewardContext is an error

    def __init__(self, ctx: RewardContext | None = None):
        name = type(self).__dict__.get("registered_name") or _snake_case(type(self).__name__)
        if self.needs_ctx and not isinstance(ctx, RewardContext):
            raise RewardError(f"reward {name!r} needs a RewardContext (embedder and item catalogue) "
                              f"as its first argument, got {type(ctx).__name__}")
        self.ctx = ctx
        self.__name__ = name
        self._warned = False
        self.diagnostics: dict[str, float] = {}

    def score(self, batch: Batch) -> Sequence[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, prompts=None, completions=None, completion_ids=None, trainer_state=None,
                 **columns) -> list[float]:
        log_metric = columns.get("log_metric")
        batch = make_batch(completions, prompts, completion_ids, trainer_state, **columns)
        self.check_columns(batch)
        self.diagnostics = {}
        try:
            values = [float(v) for v in self.score(batch)]
        except RewardError:  # a set-up mistake (wrong embedder, reader without letters): loud
            raise
        except Exception as error:  # noqa: BLE001 - a reward must not stop a training run
            if self.ctx is not None and self.ctx.strict:
                raise
            self._warn(f"reward {self.__name__!r} failed on a batch ({type(error).__name__}: "
                       f"{error}); scoring it {self.floor}")
            return [self.floor] * len(batch)
        if not all(math.isfinite(v) for v in values):
            self._warn(f"reward {self.__name__!r} produced non-finite values; those score {self.floor}")
            values = [v if math.isfinite(v) else self.floor for v in values]
        if callable(log_metric):
            for key, value in self.diagnostics.items():
                log_metric(f"{self.__name__}/{key}", float(value))
        return values

    def check_columns(self, batch: Batch) -> None:
        """Raise for columns that are missing or name unknown items (programming errors)."""

    def _warn(self, message: str) -> None:
        if not self._warned:
            logger.warning(message + " (further warnings of this reward are silenced)")
            self._warned = True

    def __repr__(self) -> str:
        return f"<reward {self.__name__}>"


def _snake_case(name: str) -> str:
    """TitleOverlap -> title_overlap, InfoNCE -> info_nce.

    >>> _snake_case("TitleOverlap"), _snake_case("InfoNCE")
    ('title_overlap', 'info_nce')
    """
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def reward_context(cfg, prepared, embedder, item_vecs, policy=None) -> RewardContext:
    """The RewardContext over a prepared catalogue, as training and the notebooks build it.

    cfg: a bluekit.config.Config (seed, the token cap, and the profiler that is the default
    reader). Reader LLMs load only if a reward asks for one (bluekit.llm.load_reader, on the GPU
    when there is one). policy: (model, tokenizer) of the profiler being trained; with LoRA
    training (not train.full_finetune) the default reader shares it with the adapter disabled,
    and other readers go to its device.
    """
    import functools

    from bluekit.llm import load_reader

    items = prepared.items
    return RewardContext(embedder=embedder, item_ids=items["item_id"].astype(str).tolist(),
                         item_vecs=item_vecs, item_titles=items["title"].astype(str).tolist(),
                         items=items,
                         seed=cfg.train.seed,
                         max_completion_length=int(cfg.train.grpo["max_completion_length"]),
                         reader_factory=functools.partial(load_reader, cfg.profiler),
                         policy=policy,
                         # with full fine-tuning the policy's own weights move: a frozen copy reads
                         share_policy=not cfg.train.full_finetune)
