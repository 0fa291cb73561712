"""The data layer's one entry point: a DataConfig in, a Domain or a Prepared domain out.

    from bluekit.data import load_prepared
    prepared = load_prepared(cfg.data)   # read -> dedupe -> k-core -> split -> item text

data.source picks the reader:
- "amazon":       {raw_dir}/amazon_2023/raw/{review,meta}_categories/... (Amazon Reviews 2023)
- "google_local": {raw_dir}/google_local/review-{State}.json.gz, meta-{State}.json.gz
- "demo":         the generated demo world (written on first use under demo_dir), read
                  through the same two readers as the real files.
"""
from __future__ import annotations

from pathlib import Path

from . import amazon, google_local, prep
from .domains import resolve_domain
from .prep import (AMAZON_ITEM_TEMPLATE, GOOGLE_ITEM_TEMPLATE, Prepared, Splits, dedupe,
                   drop_items_without_metadata, k_core, prepare, render_item_text,
                   split_last_out, split_timestamp, split_users, train_test_users,
                   validation_users)
from .schema import (EXAMPLE_COLUMNS, INTERACTION_COLUMNS, ITEM_COLUMNS, DataError, Domain,
                     LoadReport)

SOURCES = ("demo", "amazon", "google_local")


def load_domain(data_cfg) -> Domain:
    """Read the domain named by data_cfg (source, domain, raw_dir / demo_dir, lenient)."""
    source, domain, lenient = data_cfg.source, data_cfg.domain, data_cfg.lenient
    if source == "amazon":
        return amazon.load_category(Path(data_cfg.raw_dir) / "amazon_2023" / "raw", domain, lenient)
    if source == "google_local":
        return google_local.load_state(Path(data_cfg.raw_dir) / "google_local", domain, lenient)
    if source == "demo":
        return _load_demo(data_cfg)
    from bluekit.config import ConfigError
    raise ConfigError(f"data.source must be one of {', '.join(SOURCES)}; got {source!r}")


def load_prepared(data_cfg) -> Prepared:
    """load_domain(data_cfg), then prep.prepare with the same config."""
    return prepare(load_domain(data_cfg), data_cfg)


def _load_demo(data_cfg) -> Domain:
    from . import synth  # the demo generator is only needed for the demo source

    known = [*synth.DEMO_AMAZON_CATEGORIES, synth.DEMO_GOOGLE_STATE]
    try:  # "Clothing", "sports", "local", ...: the aliases of bluekit.data.domains
        domain = resolve_domain(data_cfg.domain, known, local=synth.DEMO_GOOGLE_STATE)
    except KeyError:
        from bluekit.config import ConfigError
        raise ConfigError(f"data.domain {data_cfg.domain!r} is not a demo domain; "
                          f"choose one of {known} (or Clothing, Sports, local)") from None
    synth.ensure_demo_data(data_cfg.demo_dir, data_cfg.demo_users, data_cfg.demo_items,
                           data_cfg.seed)
    demo_dir = Path(data_cfg.demo_dir)
    if domain == synth.DEMO_GOOGLE_STATE:
        return google_local.load_state(demo_dir / "google_local", domain, data_cfg.lenient)
    return amazon.load_category(demo_dir / "amazon_2023" / "raw", domain, data_cfg.lenient)


__all__ = [
    "AMAZON_ITEM_TEMPLATE", "GOOGLE_ITEM_TEMPLATE", "EXAMPLE_COLUMNS", "INTERACTION_COLUMNS",
    "ITEM_COLUMNS", "SOURCES", "DataError", "Domain", "LoadReport", "Prepared", "Splits",
    "amazon", "dedupe", "drop_items_without_metadata", "google_local", "k_core", "load_domain",
    "load_prepared", "prep", "prepare", "render_item_text", "split_last_out", "split_timestamp",
    "split_users", "train_test_users", "validation_users",
]
