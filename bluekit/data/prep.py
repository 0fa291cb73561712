"""Turn a loaded Domain into what training and evaluation use: filtered, split, with item texts.

    prepared = prepare(domain, cfg.data)
    # dedupe -> drop items without metadata -> k-core -> split -> item text

Every step returns new frames and, given a LoadReport, fills it with what it removed and
why; prepare() keeps one report per step in Prepared.reports (after the readers' ones).
"""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bluekit.config import AMAZON_TIMESTAMP_CUTS as TIMESTAMP_CUTS  # typed once, in config

from .schema import EXAMPLE_COLUMNS, INTERACTION_COLUMNS, DataError, Domain, LoadReport

# Item-text templates: str.format over title, category, description, features, categories,
# store, price, address (lists joined with ", "; price "" when unknown). Empty fields leave
# empty " | " slots, which render_item_text removes.
AMAZON_ITEM_TEMPLATE = "{title} | {features} | {categories} | {description}"
GOOGLE_ITEM_TEMPLATE = "{title} | {categories} | {description} | {address}"

_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"\s+")
_EMPTY_SLOT_RE = re.compile(r"\|(?:\s*\|)+")  # "a |  | b" -> "a | b"


@dataclass
class Splits:
    """train: interaction rows; valid, test: example frames (schema.EXAMPLE_COLUMNS)."""
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


@dataclass
class Prepared:
    """A domain ready for use. items has a RangeIndex; its row order is the embedding order."""
    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    item_index: dict[str, int]
    splits: Splits
    reports: list[LoadReport] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts worth printing: users, items, interactions, density, example counts."""
        n_users = int(self.interactions["user_id"].nunique())
        n_items = len(self.items)
        n_inter = len(self.interactions)
        test = self.splits.test
        return {
            "domain": self.name,
            "users": n_users,
            "items": n_items,
            "interactions": n_inter,
            "density": n_inter / (n_users * n_items) if n_users and n_items else 0.0,
            "train_rows": len(self.splits.train),
            "valid_examples": len(self.splits.valid),
            "test_examples": len(test),
            "mean_test_history": float(test["history"].map(len).mean()) if len(test) else 0.0,
        }


def dedupe(interactions: pd.DataFrame, report: LoadReport | None = None) -> pd.DataFrame:
    """Remove repeated (user, item) pairs, keeping the earliest by timestamp.

    Kept rows stay in their original order. Ties on timestamp keep the earlier row.
    """
    report = _start(report, "dedupe", interactions)
    interactions = interactions.reset_index(drop=True)
    earliest_first = interactions.sort_values("timestamp", kind="stable")
    repeated = earliest_first.duplicated(["user_id", "item_id"], keep="first")
    out = interactions.loc[earliest_first.index[~repeated.to_numpy()].sort_values()]
    return _finish(report, out.reset_index(drop=True), "repeated (user, item) pair")


def drop_items_without_metadata(interactions: pd.DataFrame, items: pd.DataFrame,
                                report: LoadReport | None = None) -> pd.DataFrame:
    """Drop interactions whose item has no metadata row (they could not be embedded)."""
    report = _start(report, "drop items without metadata", interactions)
    has_metadata = interactions["item_id"].isin(items["item_id"])
    out = interactions.loc[has_metadata]
    report.drop("items without metadata", int(interactions.loc[~has_metadata, "item_id"].nunique()))
    out = _finish(report, out.reset_index(drop=True), "interaction with an item lacking metadata")
    if len(interactions) and not len(out):
        raise DataError(
            f"drop_items_without_metadata left nothing: {len(interactions)} interactions on "
            f"{interactions['item_id'].nunique()} items before, 0 after; none of the reviewed "
            f"items appears among the {len(items)} metadata rows (do the files belong together?)")
    return out


def k_core(interactions: pd.DataFrame, k: int, report: LoadReport | None = None) -> pd.DataFrame:
    """Keep the largest subset where every user and every item has >= k interactions.

    Iterative: dropping a user can push an item below k and the reverse. k <= 1: no-op.
    Raises DataError (naming the filter and the counts) when nothing would remain.
    """
    report = _start(report, f"k_core(k={k})", interactions)
    out = interactions
    if k > 1:
        while True:
            user_counts = out["user_id"].map(out["user_id"].value_counts())
            item_counts = out["item_id"].map(out["item_id"].value_counts())
            keep = (user_counts >= k) & (item_counts >= k)
            if keep.all():
                break
            out = out.loc[keep]
    out = out.reset_index(drop=True)
    report.drop("users removed", interactions["user_id"].nunique() - out["user_id"].nunique())
    report.drop("items removed", interactions["item_id"].nunique() - out["item_id"].nunique())
    out = _finish(report, out, f"interaction outside the {k}-core")
    if len(interactions) and not len(out):
        raise DataError(
            f"k_core(k={k}) left nothing: {len(interactions)} interactions, "
            f"{interactions['user_id'].nunique()} users, {interactions['item_id'].nunique()} "
            f"items before; 0 after. Lower data.k_core or use a larger dataset.")
    return out


def split_last_out(interactions: pd.DataFrame, max_history: int | None = 50,
                   report: LoadReport | None = None) -> Splits:
    """Per user (ordered by timestamp, ties by row order): last = test, second last = valid.

    The rest are train rows. Each example's history is the items before its target, oldest
    first, cut to the most recent max_history (None: all). Users with fewer than 3
    interactions give no examples: all their rows go to train (counted in the report).
    """
    report = report if report is not None else LoadReport("split last_out")
    # Positions in time order (no sorted copy of the frame: a category's rows are taken once,
    # into the splits).
    order, users = _time_order(interactions)
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(users)]
    full = ends - starts >= 3  # users with a valid and a test example
    valid_rows, test_rows = ends[full] - 2, ends[full] - 1
    held = np.zeros(len(users), dtype=bool)
    held[valid_rows] = held[test_rows] = True
    # Histories as lists of item ids, built from integer codes: millions of rows then share one
    # string per distinct item instead of holding one per row.
    codes, distinct = pd.factorize(interactions["item_id"])
    codes, distinct = codes[order], np.asarray(distinct, dtype=object)
    valid_hist, test_hist = [], []
    for start, end in zip(starts[full], ends[full]):
        valid_hist.append(_truncate(distinct[codes[start:end - 2]].tolist(), max_history))
        test_hist.append(_truncate(distinct[codes[start:end - 1]].tolist(), max_history))
    report.rows_in = len(interactions)
    report.rows_out = len(users)
    report.drop("users with < 3 interactions (train rows only, no examples)", int((~full).sum()))
    return Splits(train=interactions.take(order[~held]).reset_index(drop=True),
                  valid=_examples(interactions, order[valid_rows], valid_hist),
                  test=_examples(interactions, order[test_rows], test_hist))


def split_timestamp(interactions: pd.DataFrame, cuts: Sequence[int] = TIMESTAMP_CUTS,
                    max_history: int | None = 50, report: LoadReport | None = None) -> Splits:
    """Global cut points (ms): t < cuts[0] train, cuts[0] <= t < cuts[1] valid, t >= cuts[1] test.

    Every valid/test event is an example; its history is all of that user's earlier events
    (from any split), oldest first, cut to the most recent max_history (None: all).
    """
    cut1, cut2 = int(cuts[0]), int(cuts[1])
    if cut1 > cut2:
        raise ValueError(f"timestamp cuts must be increasing, got {list(cuts)}")
    report = report if report is not None else LoadReport("split timestamp")
    ordered = _in_time_order(interactions)
    users = ordered["user_id"].to_numpy()
    items = ordered["item_id"].tolist()
    times = ordered["timestamp"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    user_start = np.repeat(starts, np.diff(np.r_[starts, len(users)]))
    valid_rows = np.flatnonzero((times >= cut1) & (times < cut2))
    test_rows = np.flatnonzero(times >= cut2)

    def histories(rows: np.ndarray) -> list[list[str]]:
        return [_truncate(items[user_start[r]:r], max_history) for r in rows]

    train = ordered.loc[times < cut1].reset_index(drop=True)
    report.rows_in = len(interactions)
    report.rows_out = len(train) + len(valid_rows) + len(test_rows)
    return Splits(train=train, valid=_examples(ordered, valid_rows, histories(valid_rows)),
                  test=_examples(ordered, test_rows, histories(test_rows)))


def official_splits(files: dict[str, pd.DataFrame], interactions: pd.DataFrame,
                    item_ids: set[str], split: str, max_history: int | None = 50,
                    report: LoadReport | None = None) -> Splits:
    """Splits from the official benchmark files (amazon.read_benchmark_csv frames by part).

    train: the train file's rows, with the review title and text of `interactions`; valid and
    test: the files' examples, history cut to the most recent max_history. An example whose
    target has no item row is dropped and history items without one are removed (counted);
    the timestamp split also drops examples with an empty history, as the benchmark's
    process_amazon_2023.py does.
    """
    report = report if report is not None else LoadReport(f"official split {split}")
    report.rows_in = sum(len(frame) for frame in files.values())
    reviews = interactions[["user_id", "item_id", "review_title", "review_text"]]
    train = files["train"]
    known = train["item_id"].isin(item_ids)
    report.drop("train row whose item has no item row", int((~known).sum()))
    train = train.loc[known, ["user_id", "item_id", "rating", "timestamp"]].merge(
        reviews, on=["user_id", "item_id"], how="left", sort=False)
    train[["review_title", "review_text"]] = train[["review_title", "review_text"]].fillna("")
    out = {}
    for part in ("valid", "test"):
        frame = files[part]
        known = frame["item_id"].isin(item_ids).to_numpy()
        report.drop(f"{part} example whose target has no item row", int((~known).sum()))
        frame = frame.loc[known].reset_index(drop=True)
        histories = [[i for i in h if i in item_ids] for h in frame["history"]]
        report.drop(f"{part} history item with no item row",
                    int(sum(map(len, frame["history"])) - sum(map(len, histories))))
        frame = frame.assign(history=pd.Series([_truncate(h, max_history) for h in histories],
                                               dtype=object))
        if split == "timestamp":
            empty = (frame["history"].map(len) == 0).to_numpy()
            report.drop(f"{part} example with an empty history (timestamp split)", int(empty.sum()))
            frame = frame.loc[~empty].reset_index(drop=True)
        out[part] = frame[EXAMPLE_COLUMNS]
    report.rows_out = len(train) + len(out["valid"]) + len(out["test"])
    return Splits(train=train.reset_index(drop=True)[INTERACTION_COLUMNS], **out)


def render_item_text(items: pd.DataFrame, template: str | None = None,
                     max_chars: int | None = 512) -> pd.Series:
    """One text per item for the embedder: the template filled, HTML removed, length capped.

    template None picks GOOGLE_ITEM_TEMPLATE when any item has an address (Google Local),
    else AMAZON_ITEM_TEMPLATE. Tags are stripped, entities decoded, whitespace collapsed,
    empty " | " slots removed, and the text cut to max_chars (None or 0: no cap).

    >>> items = pd.DataFrame({"title": ["Tee <b>Shirt</b>"], "category": ["Fashion"],
    ...     "description": ["Soft &amp; light"], "features": [["cotton", "blue"]],
    ...     "categories": [[]], "store": [""], "price": [float("nan")], "address": [""]})
    >>> render_item_text(items).tolist()
    ['Tee Shirt | cotton, blue | Soft & light']
    """
    if template is None:
        has_address = "address" in items and (items["address"].fillna("").astype(str) != "").any()
        template = GOOGLE_ITEM_TEMPLATE if has_address else AMAZON_ITEM_TEMPLATE
    texts = []
    for start in range(0, len(items), _TEXT_BATCH):  # the fields of a few items at a time
        batch = items.iloc[start:start + _TEXT_BATCH]
        texts += [_clean(template.format(**fields), max_chars) for fields in _template_fields(batch)]
    return pd.Series(texts, index=items.index, dtype=str, name="text")


_TEXT_BATCH = 20_000


def prepare(domain: Domain, data_cfg) -> Prepared:
    """dedupe -> drop items without metadata -> k-core -> split -> item text, in memory.

    Uses data_cfg.k_core, .split ("last_out" | "timestamp"), .timestamp_cuts,
    .max_history, .item_text_template and .max_item_text_chars. The items kept are those
    with at least one remaining interaction, in metadata order. bluekit.data.spill runs the
    same steps on files of any size (load_prepared uses it).
    """
    reports = list(domain.reports)
    interactions = dedupe(domain.interactions, add_report(reports, "dedupe"))
    interactions = drop_items_without_metadata(interactions, domain.items,
                                               add_report(reports, "drop items without metadata"))
    interactions = k_core(interactions, data_cfg.k_core,
                          add_report(reports, f"k_core(k={data_cfg.k_core})"))
    return finish(domain.name, interactions, domain.items, data_cfg, reports)


def finish(name: str, interactions: pd.DataFrame, items: pd.DataFrame, data_cfg,
           reports: list[LoadReport], n_metadata_items: int | None = None,
           splits: Splits | None = None) -> Prepared:
    """The filtered interactions -> items kept, split, item text: the end of every prep.

    n_metadata_items: how many metadata rows there were when `items` comes pre-filtered (the
    streaming prep); splits: given splits (the official files) instead of data_cfg.split.
    """
    reports = list(reports)
    item_report = add_report(reports, "items kept (with interactions left)")
    items = items.drop_duplicates("item_id", keep="first")
    item_report.rows_in = len(items) if n_metadata_items is None else n_metadata_items
    # isin on the distinct ids: pandas' string isin costs per value looked up
    kept = items["item_id"].isin(interactions["item_id"].unique())
    items = items.loc[kept].reset_index(drop=True)
    item_report.rows_out = len(items)
    item_report.drop("items without interactions after filtering", item_report.rows_in - len(items))

    if splits is None:
        splits = _configured_split(interactions, data_cfg, reports)
    items = items.copy()
    items["text"] = render_item_text(items, data_cfg.item_text_template,
                                     data_cfg.max_item_text_chars)
    item_index = {item_id: row for row, item_id in enumerate(items["item_id"])}
    _check_examples(splits, item_index)
    return Prepared(name, interactions, items, item_index, splits, reports)


def _configured_split(interactions: pd.DataFrame, data_cfg, reports: list[LoadReport]) -> Splits:
    if data_cfg.split == "last_out":
        return split_last_out(interactions, data_cfg.max_history, add_report(reports, "split last_out"))
    if data_cfg.split == "timestamp":
        return split_timestamp(interactions, data_cfg.timestamp_cuts, data_cfg.max_history,
                               add_report(reports, "split timestamp"))
    raise ValueError(f"data.split must be 'last_out' or 'timestamp', got {data_cfg.split!r}")


def split_users(examples: pd.DataFrame, test_fraction: float,
                seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic user-level split -> (train_user_ids, test_user_ids), each sorted.

    round(test_fraction * n_users) users are held out, drawn with numpy's generator for
    `seed`; the same users and seed always give the same split.

    >>> ex = pd.DataFrame({"user_id": ["a", "b", "c", "d", "a"]})
    >>> train, test = split_users(ex, 0.5, seed=0)
    >>> len(train), len(test), sorted(train + test)
    (2, 2, ['a', 'b', 'c', 'd'])
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    users = np.array(sorted(examples["user_id"].astype(str).unique()), dtype=object)
    order = np.random.default_rng(seed).permutation(len(users))
    n_test = int(round(test_fraction * len(users)))
    test = sorted(users[order[:n_test]].tolist())
    train = sorted(users[order[n_test:]].tolist())
    return train, test


def train_test_users(prepared: Prepared, cfg) -> tuple[list[str], list[str]]:
    """THE user split of the zero-shot protocol, used by training, baselines and evaluation.

    Held-out users (cfg.eval.test_user_fraction, seeded by cfg.data.seed) are never trained on;
    the first cfg.eval.test_users of them in sorted order are evaluated. Training users are those
    with a second-to-last item (a valid example), capped at cfg.train.train_users (a seeded
    sample by cfg.train.seed, sorted).
    """
    train, test = _trainable_users(prepared, cfg)
    held = set(validation_users(prepared, cfg))
    train = [u for u in train if u not in held]  # carved out to choose a checkpoint, never trained on
    if cfg.train.train_users is not None and len(train) > cfg.train.train_users:
        picks = np.random.default_rng(cfg.train.seed).choice(len(train), cfg.train.train_users,
                                                             replace=False)
        train = sorted(train[i] for i in picks)
    test = sorted(test)[: cfg.eval.test_users] if cfg.eval.test_users else sorted(test)
    return train, test


def _trainable_users(prepared: Prepared, cfg) -> tuple[list[str], list[str]]:
    """The non-held-out users with a second-to-last item (a valid training example), and the
    held-out users, before any cap or validation carve-out."""
    train, test = split_users(prepared.splits.test, cfg.eval.test_user_fraction, cfg.data.seed)
    valid_users = set(prepared.splits.valid["user_id"].astype(str))
    return [u for u in train if u in valid_users], test


def validation_users(prepared: Prepared, cfg) -> list[str]:
    """cfg.train.validation_users of the would-be training users (seeded by cfg.data.seed, sorted),
    held out of training to choose a checkpoint (bluekit.selection), so the test users never
    choose anything. Empty when the setting is 0 (the default)."""
    n = int(getattr(cfg.train, "validation_users", 0) or 0)
    if n <= 0:
        return []
    train = sorted(_trainable_users(prepared, cfg)[0])
    if n >= len(train):
        raise ValueError(f"train.validation_users = {n} leaves no training users (of {len(train)})")
    picks = np.random.default_rng([cfg.data.seed, 1]).choice(len(train), n, replace=False)
    return sorted(train[i] for i in picks)


# ---- helpers ----


def add_report(reports: list[LoadReport], name: str) -> LoadReport:
    """A new report for the step `name`, appended to `reports`."""
    reports.append(LoadReport(name))
    return reports[-1]


def _start(report: LoadReport | None, name: str, frame: pd.DataFrame) -> LoadReport:
    report = report if report is not None else LoadReport(name)
    report.rows_in = len(frame)
    return report


def _finish(report: LoadReport, out: pd.DataFrame, reason: str) -> pd.DataFrame:
    report.rows_out = len(out)
    report.drop(reason, report.rows_in - len(out))
    return out


def _time_order(interactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(row positions grouped by user (in user_id order), oldest first, equal timestamps in
    their original order; each of those rows' user code), found on integer keys."""
    users = pd.factorize(interactions["user_id"], sort=True)[0]
    order = np.lexsort((interactions["timestamp"].to_numpy(), users))  # stable: ties by row
    return order, users[order]


def _in_time_order(interactions: pd.DataFrame) -> pd.DataFrame:
    """The rows in _time_order, copied once."""
    return interactions.take(_time_order(interactions)[0]).reset_index(drop=True)


def _truncate(history: list[str], max_history: int | None) -> list[str]:
    if max_history is None:
        return list(history)
    return list(history[-max_history:]) if max_history > 0 else []


def _examples(frame: pd.DataFrame, rows, histories: list[list[str]]) -> pd.DataFrame:
    picked = frame.iloc[np.asarray(rows, dtype=int)]
    return pd.DataFrame({
        "user_id": picked["user_id"].to_numpy(),
        "item_id": picked["item_id"].to_numpy(),
        "rating": picked["rating"].to_numpy(dtype="float64"),
        "timestamp": picked["timestamp"].to_numpy(dtype="int64"),
        "history": pd.Series(histories, dtype=object),
    })[EXAMPLE_COLUMNS]


TEMPLATE_FIELDS = ("title", "category", "description", "features", "categories", "store",
                   "price", "address")


def _template_fields(items: pd.DataFrame) -> list[dict[str, str]]:
    """Item rows -> the template fields as strings (built column by column: fast)."""
    columns = {}
    for name in TEMPLATE_FIELDS:
        values = items[name].tolist() if name in items else [None] * len(items)
        columns[name] = [_price_text(v) if name == "price" else _field_text(v) for v in values]
    return [dict(zip(TEMPLATE_FIELDS, row)) for row in zip(*columns.values())]


def _field_text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    return "" if value is None or pd.isna(value) else str(value)


def _price_text(value) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):.2f}"


def _clean(text: str, max_chars: int | None) -> str:
    if "<" in text:
        text = _TAG_RE.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    text = _EMPTY_SLOT_RE.sub("|", _SPACE_RE.sub(" ", text)).strip(" |")
    if max_chars:
        text = text[:max_chars].rstrip(" |")
    return text


def _check_examples(splits: Splits, item_index: dict[str, int]) -> None:
    """Every target and history item must have a row in items (guaranteed by prepare)."""
    for name, frame in (("valid", splits.valid), ("test", splits.test)):
        missing = set(frame["item_id"]) - item_index.keys()
        missing |= {i for h in frame["history"] for i in h} - item_index.keys()
        if missing:
            raise DataError(f"{name} examples name {len(missing)} item(s) with no item row, "
                            f"e.g. {sorted(missing)[:3]}")

