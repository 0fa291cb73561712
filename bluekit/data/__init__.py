"""The data layer's one entry point: a DataConfig in, a Domain or a Prepared domain out.

    from bluekit.data import load_prepared
    prepared = load_prepared(cfg.data)   # read -> dedupe -> k-core -> split -> item text
    domain = load_domain(cfg.data)       # the files in memory (small domains, notebooks)

load_prepared streams the files through Parquet spills (bluekit.data.spill), so a full
category fits in a few GB; an Amazon category's official split files are used when present.

data.source picks the reader:
- "amazon":       {raw_dir}/amazon_2023/raw/{review,meta}_categories/... (Amazon Reviews 2023)
- "google_local": {raw_dir}/google_local/review-{State}.json.gz, meta-{State}.json.gz
- "demo":         the generated demo world (written on first use under demo_dir), read
                  through the same two readers as the real files.
"""
from __future__ import annotations

from pathlib import Path

from . import amazon, google_local, prep, spill
from .domains import resolve_domain
from .prep import (AMAZON_ITEM_TEMPLATE, GOOGLE_ITEM_TEMPLATE, Prepared, Splits, dedupe,
                   drop_items_without_metadata, k_core, official_splits, prepare, render_item_text,
                   split_last_out, split_timestamp, split_users, train_test_users,
                   validation_users)
from .schema import (EXAMPLE_COLUMNS, INTERACTION_COLUMNS, ITEM_COLUMNS, DataError, Domain,
                     LoadReport)

SOURCES = ("demo", "amazon", "google_local")


def load_domain(data_cfg) -> Domain:
    """Read the domain named by data_cfg into memory (source, domain, raw_dir / demo_dir, lenient)."""
    module, root, domain = _where(data_cfg)
    load = amazon.load_category if module is amazon else google_local.load_state
    return load(root, domain, data_cfg.lenient, max_text_chars=data_cfg.max_review_chars)


def load_prepared(data_cfg) -> Prepared:
    """The prepared domain, through Parquet spills in data_cfg.cache_dir (bluekit.data.spill).

    The same steps and result as prepare(load_domain(data_cfg), data_cfg), in memory bounded
    by the k-core rather than the file (a reviews file under spill.MIN_BYTES is simply prepared
    in memory). Amazon categories whose official benchmark split files are present
    (data_cfg.official_splits, the folder of data_cfg.split) use those splits.
    """
    module, root, domain = _where(data_cfg)
    if module is amazon:
        domain, review_path, meta_path = amazon.find_files(root, domain)
    else:
        review_path, meta_path = google_local.find_files(root, domain)
    files = (amazon.benchmark_files(root, domain, data_cfg.split)
             if module is amazon and data_cfg.official_splits else None)
    if not files and review_path.stat().st_size < spill.MIN_BYTES:  # small: no spill needed
        return prepare(load_domain(data_cfg), data_cfg)
    kind = "amazon" if module is amazon else "google_local"
    lenient, cap = data_cfg.lenient, data_cfg.max_review_chars
    review_report = LoadReport(f"{kind} reviews {review_path.name}")
    meta_report = LoadReport(f"{kind} metadata {meta_path.name}")
    reviews = spill.spill_file(review_path, module.review_reader(cap), spill.REVIEW_KEYS,
                               review_report, data_cfg.cache_dir,
                               {"reader": f"{kind} reviews", "lenient": lenient,
                                "max_text_chars": cap}, lenient)
    meta = spill.spill_file(meta_path, module.meta_reader(meta_report), spill.META_KEYS,
                            meta_report, data_cfg.cache_dir,
                            {"reader": f"{kind} metadata", "lenient": lenient}, lenient)
    official = None
    if files:
        official = {part: amazon.read_benchmark_csv(path) for part, path in files.items()}
    return spill.prepare_files(domain, reviews, meta, data_cfg, official)


def _where(data_cfg):
    """(reader module, folder of the files, domain name) for data_cfg.source and .domain."""
    source, domain = data_cfg.source, data_cfg.domain
    if source == "amazon":
        return amazon, Path(data_cfg.raw_dir) / "amazon_2023" / "raw", domain
    if source == "google_local":
        return google_local, Path(data_cfg.raw_dir) / "google_local", domain
    if source != "demo":
        from bluekit.config import ConfigError
        raise ConfigError(f"data.source must be one of {', '.join(SOURCES)}; got {source!r}")
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
        return google_local, demo_dir / "google_local", domain
    return amazon, demo_dir / "amazon_2023" / "raw", domain


__all__ = [
    "AMAZON_ITEM_TEMPLATE", "GOOGLE_ITEM_TEMPLATE", "EXAMPLE_COLUMNS", "INTERACTION_COLUMNS",
    "ITEM_COLUMNS", "SOURCES", "DataError", "Domain", "LoadReport", "Prepared", "Splits",
    "amazon", "dedupe", "drop_items_without_metadata", "google_local", "k_core", "load_domain",
    "load_prepared", "official_splits", "prep", "prepare", "render_item_text", "split_last_out", "split_timestamp",
    "split_users", "train_test_users", "validation_users",
]
