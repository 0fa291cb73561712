"""Find rewards by name, build them from the config, and sum them.

A reward is either
- a plain TRL reward function, ``def brevity(completions, **kwargs) -> list[float]``: config
  ``params`` are passed to it as keyword arguments on every call, and a parameter named ``ctx``
  receives the RewardContext (the embedder and the item catalogue);
- a :class:`bluekit.rewards.Reward` subclass: built as ``cls(ctx, **params)``;
- a TRL-style factory ``get_<name>(**params) -> reward function`` (as in ``trl.rewards``).

Built-ins are registered under a short name with :func:`register`; a researcher's own reward
lives in their own file and is named by its dotted import path (the folder must be importable:
``python -m bluekit`` adds the config file's folder and the working directory)::

    train:
      rewards:
        - {name: infonce, weight: 1.0, params: {tau: 0.05}}
        - {name: my_rewards.title_overlap, weight: 0.2}
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .core import Reward, RewardContext, RewardError

RewardFunc = Callable[..., list]
_REGISTRY: dict[str, Any] = {}


def register(name: str) -> Callable:
    """Decorator: make a Reward subclass (or a plain reward function) available as ``name``."""
    def decorate(obj):
        if name in _REGISTRY and _REGISTRY[name] is not obj:
            raise RewardError(f"reward name {name!r} is already registered by "
                              f"{_REGISTRY[name].__module__}.{_REGISTRY[name].__qualname__}")
        _REGISTRY[name] = obj
        obj.registered_name = name
        return obj
    return decorate


def registered_names() -> list[str]:
    """The names :func:`resolve` knows without an import path."""
    import bluekit.rewards  # noqa: F401 - importing the package registers the built-ins
    return sorted(_REGISTRY)


def resolve(name: str) -> Any:
    """The reward (class or function) for a registry name or a dotted path "module.attr".

    >>> resolve("infonce").__name__
    'InfoNCE'
    >>> resolve("trl.rewards.get_soft_overlong_punishment").__name__
    'get_soft_overlong_punishment'
    """
    names = registered_names()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if "." in name:
        module_name, _, attr = name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise RewardError(f"reward {name!r}: cannot import module {module_name!r} ({error}); "
                              f"is its folder on sys.path? Registered rewards: {names}") from error
        if not hasattr(module, attr):
            raise RewardError(f"reward {name!r}: module {module_name!r} has no attribute {attr!r}. "
                              f"Registered rewards: {names}")
        return getattr(module, attr)
    raise RewardError(f"unknown reward {name!r}. Registered rewards: {names}; or give a dotted "
                      "import path like 'my_rewards.title_overlap'")


def _spec_fields(spec: Any) -> tuple[str, float, dict]:
    if isinstance(spec, str):
        return spec, 1.0, {}
    if isinstance(spec, dict):
        unknown = set(spec) - {"name", "weight", "params"}
        if unknown or "name" not in spec:
            raise RewardError(f"reward spec {spec!r}: expected keys name, weight, params")
        return spec["name"], float(spec.get("weight", 1.0)), dict(spec.get("params") or {})
    return spec.name, float(spec.weight), dict(spec.params or {})


class PlainReward:
    """A plain reward function with its config params (and the context, if it asks) bound.

    Picklable when the function is importable; keeps the function's name for TRL's logs.
    """

    def __init__(self, func: Callable, params: dict, ctx: RewardContext | None):
        self.func, self.params = func, dict(params)
        if "ctx" in inspect.signature(func).parameters:
            self.params["ctx"] = ctx
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, **kwargs) -> list:
        return self.func(**kwargs, **self.params)


def build_reward(name: str, ctx: RewardContext | None, params: dict | None = None) -> RewardFunc:
    """One reward callable from its name (registry or dotted path) and its config params."""
    obj, params = resolve(name), dict(params or {})
    is_factory = not isinstance(obj, type) and obj.__name__.startswith("get_")
    try:
        signature = inspect.signature(obj)
        if isinstance(obj, type):
            signature.bind(ctx, **params)
        elif is_factory:
            signature.bind(**params)
        else:  # a plain function: params must be named parameters (**kwargs would hide typos)
            unknown = sorted(set(params) - set(signature.parameters))
            if unknown:
                raise TypeError(f"it has no parameter {unknown[0]!r}")
    except TypeError as error:
        raise RewardError(f"reward {name!r}: bad params {sorted(params)} ({error}); its "
                          f"signature is {inspect.signature(obj)}") from None
    if isinstance(obj, type):
        if not issubclass(obj, Reward):
            raise RewardError(f"reward {name!r} is a class but not a bluekit.rewards.Reward")
        return obj(ctx, **params)
    if is_factory:  # TRL's convention: get_x(**params) -> reward function
        return obj(**params)
    return PlainReward(obj, params, ctx)


def build_reward_funcs(specs: Sequence[Any], ctx: RewardContext | None
                       ) -> tuple[list[RewardFunc], list[float]]:
    """Reward callables and their weights from RewardSpec objects (or dicts / bare names).

    Each callable has a unique, stable ``__name__`` (TRL logs ``rewards/<name>/mean``); the same
    reward twice gets "_2", "_3" suffixes.

    >>> from bluekit.rewards import toy_context
    >>> funcs, weights = build_reward_funcs([{"name": "cosine"}, {"name": "infonce", "weight": 0.5,
    ...                                       "params": {"tau": 0.1}}], toy_context())
    >>> [f.__name__ for f in funcs], weights
    (['cosine', 'infonce'], [1.0, 0.5])
    """
    if not specs:
        raise RewardError("no rewards configured: train.rewards is empty")
    funcs, weights, seen = [], [], {}
    for spec in specs:
        name, weight, params = _spec_fields(spec)
        func = build_reward(name, ctx, params)
        base = getattr(func, "__name__", None) or name.rpartition(".")[2]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            base = f"{base}_{seen[base]}"
        try:
            func.__name__ = base
        except (AttributeError, TypeError):
            pass
        funcs.append(func)
        weights.append(weight)
    return funcs, weights


def _rows_as_columns(rows: Any, n: int) -> dict[str, list]:
    if isinstance(rows, dict):  # one user's row for every text
        rows = [rows] * n
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if len(frame) != n:
        raise RewardError(f"score_profiles: {n} texts but {len(frame)} rows")
    return {col: frame[col].tolist() for col in frame.columns}


AGGREGATIONS = ("sum_then_normalize", "normalize_then_sum")


def group_normalized(values: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """Each value minus its group's mean, over the group's std (NaN stays NaN; a group with one
    value or no spread gives 0), as TRL's ``normalize_then_sum`` does per reward.

    >>> group_normalized(np.array([1.0, 3.0, 5.0, 5.0]), ["a", "a", "b", "b"]).round(3).tolist()
    [-0.707, 0.707, 0.0, 0.0]
    """
    out = np.zeros_like(values, dtype=float)
    keys = np.asarray(groups, dtype=object)
    for key in dict.fromkeys(groups):
        rows = keys == key
        group = values[rows]
        spread = np.nanstd(group, ddof=1) if np.sum(~np.isnan(group)) > 1 else 0.0
        out[rows] = (group - np.nanmean(group)) / (spread + 1e-4) if spread > 0 else 0.0
    out[np.isnan(values)] = np.nan
    return out


def score_profiles(texts: Sequence[str], rows: Any, ctx: RewardContext, specs: Sequence[Any],
                   aggregation: str = "sum_then_normalize") -> pd.DataFrame:
    """Score arbitrary profile texts with every configured reward: one column each + ``total``.

    ``rows`` are the dataset rows (dicts, a DataFrame, or one dict shared by every text) with
    the columns the rewards read (user_id, positive, ...; a ``prompt`` column is passed as the
    prompts). All texts are scored in one call, so batch-relative rewards (items_to_profile,
    in-batch negatives) compare them with each other. ``total`` is the weighted sum as TRL forms
    it: of the raw values (``sum_then_normalize``, TRL's default), or of each reward normalised
    within its user's rows first (``normalize_then_sum``, GDPO: a weight then means the same
    for a reward in nats and one in [0, 1]). A None (not applicable) counts as 0 in the total.

    >>> from bluekit.rewards import toy_context
    >>> table = score_profiles(["Loves hiking boots and trail walking.", "Likes things."],
    ...                        {"user_id": "u1", "positive": "boots"}, toy_context(),
    ...                        [{"name": "cosine"}, {"name": "length_format", "weight": 0.5}])
    >>> list(table.columns)
    ['user_id', 'profile', 'cosine', 'length_format', 'total']
    >>> table["total"].idxmax()
    0
    """
    if aggregation not in AGGREGATIONS:
        raise RewardError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    texts = list(texts)
    columns = _rows_as_columns(rows, len(texts))
    prompts = columns.pop("prompt", None)
    funcs, weights = build_reward_funcs(specs, ctx)
    users = columns.get("user_id", [None] * len(texts))
    table = pd.DataFrame({"user_id": users, "profile": texts})
    total = np.zeros(len(texts))
    for func, weight in zip(funcs, weights):
        values = func(prompts=prompts, completions=texts, **columns)
        table[func.__name__] = [np.nan if v is None else v for v in values]
        column = table[func.__name__].to_numpy(dtype=float)
        if aggregation == "normalize_then_sum":
            column = group_normalized(column, [str(u) for u in users])
        total += weight * np.nan_to_num(column)
    table["total"] = total
    return table
