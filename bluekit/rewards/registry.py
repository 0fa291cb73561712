"""Find rewards by name, build them from the config, and sum them.

A reward *factory* is ``factory(ctx, **params) -> reward callable``. Built-in factories are
registered under a short name with :func:`register`; a researcher's own factory lives in their
own file and is named by its dotted import path in the config::

    train:
      rewards:
        - {name: infonce, weight: 1.0, params: {tau: 0.05}}
        - {name: my_rewards.keyword_bonus, weight: 0.2, params: {keywords: [boots]}}
"""
from __future__ import annotations

import importlib
import inspect
import math
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .core import RewardContext, RewardError

RewardFunc = Callable[..., list]
_REGISTRY: dict[str, Callable[..., RewardFunc]] = {}


def register(name: str) -> Callable:
    """Decorator: make a factory ``factory(ctx, **params)`` available as ``name`` in configs."""
    def decorate(factory: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise RewardError(f"reward name {name!r} is already registered by "
                              f"{_REGISTRY[name].__module__}.{_REGISTRY[name].__qualname__}")
        _REGISTRY[name] = factory
        factory.reward_name = name
        return factory
    return decorate


def registered_names() -> list[str]:
    """The names :func:`resolve` knows without an import path."""
    import bluekit.rewards  # noqa: F401 - importing the package registers the built-ins
    return sorted(_REGISTRY)


def resolve(name: str) -> Callable[..., RewardFunc]:
    """The factory for a registry name or a dotted path "package.module.attr".

    >>> resolve("infonce").__name__
    'infonce'
    >>> resolve("bluekit.rewards.cosine").__name__
    'cosine'
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
                      "import path like 'my_rewards.keyword_bonus'")


def _spec_fields(spec: Any) -> tuple[str, float, dict]:
    if isinstance(spec, str):
        return spec, 1.0, {}
    if isinstance(spec, dict):
        unknown = set(spec) - {"name", "weight", "params"}
        if unknown or "name" not in spec:
            raise RewardError(f"reward spec {spec!r}: expected keys name, weight, params")
        return spec["name"], float(spec.get("weight", 1.0)), dict(spec.get("params") or {})
    return spec.name, float(spec.weight), dict(spec.params or {})


def _is_factory(obj: Callable) -> bool:
    """A factory takes ``ctx`` first; a plain TRL reward function takes ``completions``."""
    if hasattr(obj, "reward_name"):
        return True
    try:
        params = list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return True
    return bool(params) and params[0] == "ctx"


def build_reward_funcs(specs: Sequence[Any], ctx: RewardContext | None
                       ) -> tuple[list[RewardFunc], list[float]]:
    """Reward callables and their weights from RewardSpec objects (or dicts / bare names).

    Each callable has a unique, stable ``__name__`` (TRL logs ``rewards/<name>/mean``); the same
    reward twice gets "_2", "_3" suffixes. A dotted path may also name a plain TRL reward function
    (first parameter not ``ctx``); it is used as it is and takes no params.

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
        factory = resolve(name)
        if _is_factory(factory):
            try:
                inspect.signature(factory).bind(ctx, **params)
            except TypeError as error:
                raise RewardError(f"reward {name!r}: bad params {sorted(params)} ({error}); the "
                                  f"factory's signature is {inspect.signature(factory)}") from None
            func = factory(ctx, **params)
        elif params:
            raise RewardError(f"reward {name!r} is a plain reward function; it takes no params")
        else:
            func = factory
        base = getattr(func, "__name__", None) or name.rpartition(".")[2]
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            base = f"{base}_{seen[base]}"
            if func is factory:
                raise RewardError(f"reward function {name!r} is listed twice")
        try:
            func.__name__ = base
        except (AttributeError, TypeError):
            pass
        funcs.append(func)
        weights.append(weight)
    return funcs, weights


class CombinedReward:
    """Weighted sum of reward callables, for scoring outside TRL (TRL sums with reward_weights).

    Like TRL, a None from one reward is skipped for that row; a row where every reward says None
    stays None.
    """
    __name__ = "combined"

    def __init__(self, funcs: Sequence[RewardFunc], weights: Sequence[float] | None = None):
        self.funcs = list(funcs)
        self.weights = [1.0] * len(self.funcs) if weights is None else [float(w) for w in weights]
        if len(self.weights) != len(self.funcs):
            raise RewardError(f"{len(self.funcs)} reward functions but {len(self.weights)} weights")

    def __call__(self, **kwargs) -> list:
        table = [[math.nan if v is None else float(v) for v in f(**kwargs)] for f in self.funcs]
        values = np.array(table, dtype=float) * np.array(self.weights)[:, None]
        return [None if np.isnan(col).all() else float(np.nansum(col)) for col in values.T]


def combined(funcs: Sequence[RewardFunc], weights: Sequence[float] | None = None) -> CombinedReward:
    """One callable returning the weighted sum of several rewards.

    >>> from bluekit.rewards import toy_context, cosine, length_format
    >>> ctx = toy_context()
    >>> total = combined([cosine(ctx), length_format(ctx)], [1.0, 0.5])
    >>> good, bad = total(completions=["Loves waterproof hiking boots and trail walking.", ""],
    ...                   positive=["boots", "boots"])
    >>> good > 0 > bad
    True
    """
    return CombinedReward(funcs, weights)


def _rows_as_columns(rows: Any, n: int) -> dict[str, list]:
    if isinstance(rows, dict):  # one user's row for every text
        rows = [rows] * n
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if len(frame) != n:
        raise RewardError(f"score_profiles: {n} texts but {len(frame)} rows")
    return {col: frame[col].tolist() for col in frame.columns}


def score_profiles(texts: Sequence[str], rows: Any, ctx: RewardContext,
                   specs: Sequence[Any]) -> pd.DataFrame:
    """Score arbitrary profile texts with every configured reward: one column each + ``total``.

    ``rows`` are the dataset rows (dicts, a DataFrame, or one dict shared by every text) with
    the columns the rewards read (user_id, positive, ...; a ``prompt`` column is passed as the
    prompts). All texts are scored in one call, so batch-relative rewards (items_to_profile,
    in-batch negatives) compare them with each other.

    >>> from bluekit.rewards import toy_context
    >>> table = score_profiles(["Loves hiking boots and trail walking.", "Likes things."],
    ...                        {"user_id": "u1", "positive": "boots"}, toy_context(),
    ...                        [{"name": "cosine"}, {"name": "length_format", "weight": 0.5}])
    >>> list(table.columns)
    ['user_id', 'profile', 'cosine', 'length_format', 'total']
    >>> table["total"].idxmax()
    0
    """
    texts = list(texts)
    columns = _rows_as_columns(rows, len(texts))
    prompts = columns.pop("prompt", None)
    funcs, weights = build_reward_funcs(specs, ctx)
    table = pd.DataFrame({"user_id": columns.get("user_id", [None] * len(texts)), "profile": texts})
    total = np.zeros(len(texts))
    for func, weight in zip(funcs, weights):
        values = func(prompts=prompts, completions=texts, **columns)
        table[func.__name__] = [np.nan if v is None else v for v in values]
        total += weight * np.nan_to_num(table[func.__name__].to_numpy(dtype=float))
    table["total"] = total
    return table
