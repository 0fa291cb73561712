"""One paper-style table: every method on every domain, from the PUBLISHED runs only.

    table = paper_table(users=100, out="runs/paper-table")
    python -m bluekit paper-table --out runs/paper-table --users 100
    make paper-table

Rows (ROWS): raw history text (as many items as the profiler saw, and 20), the untrained
profiler, the RLPF-style, LangPTune-style and cpu-long runs, cpu-long's recipe with its tuned
embedder, SASRec, last item and the demo world's ceiling. Columns: the source domain (Clothing)
then the zero-shot targets (Sports, Books, the demo city), then the QA columns on the source
domain, and readability beside rank on the source domain (item descriptions, repetition, history
coverage, fluency). A run that is not in data/pretrained/ names itself and the command that publishes it in
its cells; nothing is trained here and nothing is written into data/pretrained/.

Cells: Recall@10 / NDCG@10 / MRR, each with a 95% bootstrap CI (bluekit.evaluate.bootstrap_ci),
and a mark on MRR from a paired Wilcoxon test against cpu-long on the same users
(bluekit.evaluate.paired_test): ▲ / ▼ significantly higher / lower (p < 0.05). MRR is the tested
metric because every user's target moves; NDCG@10 is zero for ~90% of users under both methods
and a paired test needs ~4,000 users to find the effect sizes seen here, not 240
(docs/TRAINING-ON-CPU.md section 4).

Protocol, stated in every output:
- Settings: the `config` preset (cpu-long: the published run's own) with data.domain set per
  column; the untrained profiler is prompted with them, each run with its own config.yaml.
- Users: each domain's evaluated users (eval.users: held-out by default; --users N caps them at
  the first N in sorted order) minus every user id a published run could train on in its source
  domain (bluekit.transfer.source_users): the same users for every row of a column.
- SASRec is ID-based and NOT zero-shot: trained on the source domain's training interactions
  (every user's, the evaluated users' histories included; eval.sasrec settings) and shown in the
  source column only. Its item-id vectors do not exist in another catalogue, so its transfer cells
  say "n/a"; an in-domain SASRec in a zero-shot column would compare unlike with like.
- "cpu-long + tuned embedder" is the published run `cpu-long-tuned` (cpu-long's recipe with
  embed.trainable: true), its profiles ranked under its own tuned embedder (bluekit.embedder_training).
- QA (bluekit.qa, source domain): next-item choice among K options read from each option title's
  PMI under the context (the "likelihood" form: the offline 135M reader answers the letter form
  "A" almost always), and the reader's expected rating of the held-out item (MAE, lower is
  better), each row's text as the reader's context, on the first QA_USERS (48) evaluated users by
  default: the reader is the table's largest cost. Rows without text (SASRec) say n/a.

Expensive parts are cached: profiles per (run, domain) by bluekit.pipeline, item vectors per
embedder, SASRec's per-user results and each QA context's reader outputs under
{embed.cache_dir}/paper-table/.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

DOMAINS = ("Clothing", "Sports", "Books", "local")  # the source first (bluekit.data.domains names)
REFERENCE = "cpu-long"  # the run every mark is tested against
METRICS = ("recall@10", "ndcg@10", "mrr")
SHORT = {"recall@10": "R@10", "ndcg@10": "N@10", "mrr": "MRR"}
QA_METRICS = {"mcq_likelihood": "QA next-item choice (acc.)", "rating_abs_error": "QA rating MAE"}
# Readability beside rank (bluekit.readability), on the source domain's texts: the share of texts
# that describe one item or repeat words, the history's share of the text's top 50 items (frozen
# embedder), and fluency under the frozen reader. The quiz is left to the QA column.
READABLE = {"item_description": "item", "repetitive": "rep.", "history_coverage": "cov.",
            "fluency": "flu."}
READABLE_KINDS = ("raw", "raw20", "untrained", "run", "ceiling")  # rows whose text is a profile
ALPHA = 0.05
# The QA reads every row's text with a 135M reader, the table's largest cost: about 25 CPU-minutes
# per 100 users for six contexts (bluekit.qa, commit ac35d31), so by default it reads the first 48
# users (a multiple of K = 4: the rotated answers stay balanced); --qa-users changes it.
QA_USERS = 48
UP, DOWN = "▲", "▼"


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the table: how its query is made, and for a run, where it is published."""
    label: str
    kind: str  # raw | raw20 | untrained | run | sasrec | last | ceiling
    run: str | None = None  # published name in data/pretrained/
    embedder: str = "frozen"  # frozen | tuned (the run's own tuned embedder)
    make: str = ""  # what publishes the run


ROWS = (
    Row("raw history text (items the profiler saw)", "raw"),
    Row("raw history text (20 items)", "raw20"),
    Row("untrained profiler", "untrained"),
    Row("RLPF-style", "run", "rlpf-cpu", make="make train-rlpf"),
    Row("LangPTune-style", "run", "langptune-cpu", make="make train-langptune"),
    Row("cpu-long (the kit's BLUE-style run)", "run", REFERENCE, make="make train-long"),
    Row("cpu-long + tuned embedder", "run", "cpu-long-tuned", "tuned", make="make train-long-tuned"),
    Row("SASRec (ID-based, not zero-shot)", "sasrec"),
    Row("last item", "last"),
    Row("ceiling (true tastes)", "ceiling"),
)


# --------------------------------------------------------------------------- marks and cells

def significance_mark(test: dict, alpha: float = ALPHA) -> str:
    """▲ when b (the row) is significantly above a (cpu-long), ▼ below, "" otherwise.

    >>> significance_mark({"p_value": 0.01, "mean_a": 0.1, "mean_b": 0.2})
    '▲'
    >>> significance_mark({"p_value": 0.2, "mean_a": 0.1, "mean_b": 0.2})
    ''
    """
    if not test or not np.isfinite(test.get("p_value", np.nan)) or test["p_value"] >= alpha:
        return ""
    return UP if test["mean_b"] > test["mean_a"] else DOWN


def _num(value: float) -> str:
    return f"{value:.3f}"


def metric_numbers(result, metrics: Sequence[str] = METRICS) -> dict:
    """Each metric's mean and 95% bootstrap CI from a MethodResult's per-user column."""
    from bluekit.evaluate import bootstrap_ci
    out = {"n": int(len(result.per_user))}
    for metric in metrics:
        values = result.per_user[metric].to_numpy(float)
        out[metric] = float(np.nanmean(values)) if len(values) else float("nan")
        out[f"{metric}_ci_low"], out[f"{metric}_ci_high"] = bootstrap_ci(values)
    return out


def cell_text(numbers: dict, metrics: Sequence[str], mark_on: str, mark: str, short=SHORT) -> str:
    """'R@10 0.125 [0.090, 0.170] / N@10 ... / MRR 0.054 [0.041, 0.069] ▲'"""
    parts = [f"{short.get(m, m)} {_num(numbers[m])} [{_num(numbers[f'{m}_ci_low'])}, "
             f"{_num(numbers[f'{m}_ci_high'])}]" + (f" {mark}" if m == mark_on and mark else "")
             for m in metrics]
    return " / ".join(parts)


def assemble(cells: Mapping[tuple[str, str], object], rows: Sequence[str], columns: Sequence[str],
             reference: str, metrics: Sequence[str] = METRICS, test_metric: str = "mrr",
             short=SHORT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long table (one row per (row, column): every number, and the paired test of
    `test_metric` against the reference row of the same column: row minus reference, p, mark; no
    test when test_metric is None) and the wide table (row x column text cells). A cell is a
    MethodResult or a string saying why it is empty (a missing run, n/a)."""
    from bluekit.evaluate import paired_test

    long, wide = [], {}
    for column in columns:
        ref = cells.get((reference, column))
        ref = ref if not isinstance(ref, str) else None
        for row in rows:
            cell = cells.get((row, column), "not evaluated")
            if isinstance(cell, str):
                wide.setdefault(row, {})[column] = cell
                long.append({"method": row, "column": column, "status": cell})
                continue
            numbers = metric_numbers(cell, metrics)
            test = paired_test(ref, cell, test_metric) \
                if test_metric and ref is not None and row != reference else {}
            mark = significance_mark(test)
            wide.setdefault(row, {})[column] = cell_text(numbers, metrics, test_metric, mark, short) \
                + (" (reference)" if row == reference else "")
            long.append({"method": row, "column": column, "status": "ok", **numbers,
                         "reference": reference, "diff_vs_reference": -test["mean_diff"] if test else np.nan,
                         "p_vs_reference": test.get("p_value", np.nan), "mark": mark, "name": cell.name})
    frame = pd.DataFrame.from_dict(wide, orient="index").reindex(index=list(rows), columns=list(columns))
    frame.index.name = "method"
    return pd.DataFrame(long), frame


# --------------------------------------------------------------------------- one domain

def published_runs(rows: Sequence[Row] = ROWS, root: str | Path | None = None) -> dict:
    """Published name -> its folder, or the one line saying why its cells are empty."""
    from bluekit.embedder_training import EMBEDDER_DIR, ROUND_FILE
    from bluekit.train import pretrained

    root = Path(root or pretrained.PRETRAINED_DIR)
    found = {}
    for row in rows:
        if row.run is None:
            continue
        folder = root / row.run
        if not (folder / "config.yaml").exists():
            found[row.run] = f"not published: {row.make} (data/pretrained/{row.run})"
        elif row.embedder == "tuned" and not (folder / EMBEDDER_DIR / ROUND_FILE).exists():
            found[row.run] = f"n/a: {row.run} has no tuned embedder ({EMBEDDER_DIR}/{ROUND_FILE})"
        else:
            found[row.run] = folder
    return found


def domain_workspace(config, domain: str, overrides: Mapping | None, embedder=None,
                     drop: set[str] = frozenset()):
    """The base config's workspace on `domain` (SOURCE:DOMAIN also sets data.source), its users
    less `drop`."""
    from bluekit import pipeline
    from bluekit.config import load_config

    source, _, name = domain.rpartition(":")
    cfg = load_config(config, {**(overrides or {}), "data.domain": name,
                               **({"data.source": source} if source else {})})
    ws = pipeline.workspace(cfg, embedder)
    return dataclasses.replace(ws, test_users=[u for u in ws.test_users if u not in drop])


def _cached(path: Path, compute):
    """A list of MethodResults from `path` when it exists, else computed and saved there."""
    from bluekit.evaluate import load_results, save_results
    if path.exists():
        return load_results(path)
    results = compute()
    save_results(results, path)
    return results


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def sasrec_result(ws, name: str):
    """SASRec trained on the workspace's training interactions, on its users (cached)."""
    from bluekit.baselines import sasrec
    from bluekit.pipeline import _eval_kwargs
    from bluekit.sasrec import SASRecSettings

    settings = SASRecSettings.from_dict(ws.cfg.eval.sasrec)
    train = ws.prepared.splits.train
    valid = ws.prepared.splits.valid  # stopped on the validation examples' MRR, as the baseline row
    key = _key(dataclasses.asdict(settings), ws.prepared.name, ws.test_users, len(ws.prepared.items),
               pd.util.hash_pandas_object(train[["user_id", "item_id"]], index=False).sum(),
               ws.cfg.eval.exclude_history, list(ws.cfg.eval.ks), "valid-stop", len(valid))
    path = Path(ws.cfg.embed.cache_dir) / "paper-table" / f"sasrec-{key}.json"
    result = _cached(path, lambda: [sasrec(ws.test_examples, train_interactions=train,
                                           valid_examples=valid, settings=settings,
                                           **_eval_kwargs(ws))])[0]
    result.name = name
    return result


def domain_cells(ws, rows: Sequence[Row], runs: Mapping, source: bool, config, overrides,
                 domain: str, column: str, texts: dict | None = None) -> dict:
    """{(row label, column): MethodResult or why not} for one domain. `texts` (when given) gets
    each row's query text per evaluated example, for the QA columns."""
    from bluekit import pipeline
    from bluekit.baselines import history_texts, last_item, raw_history_text
    from bluekit.evaluate import evaluate_texts

    kw = pipeline._eval_kwargs(ws)
    ex, data = ws.test_examples, ws.prepared
    seen = ws.cfg.profiler.max_history_items
    cells = {}
    for row in rows:
        key, text = (row.label, column), None
        if row.kind in ("raw", "raw20"):
            n = seen if row.kind == "raw" else 20
            cells[key] = raw_history_text(ex, max_items=n, name=f"raw history text ({n} items)", **kw)
            text = history_texts(ex, data.items, data.item_index, n)
        elif row.kind == "last":
            cells[key] = last_item(ex, **kw)
            text = history_texts(ex, data.items, data.item_index, 1)
        elif row.kind == "untrained":
            cells[key] = pipeline.profiler_result(ws, row.label, None, readability=False)
            profiles = pipeline.test_profiles(ws, None)
            text = [profiles.get(u, "") for u in ex.user_id]
        elif row.kind == "run":
            run = runs[row.run]
            if isinstance(run, str):
                cells[key] = run
                continue
            run_ws = ws
            if row.embedder == "tuned":
                from bluekit.config import load_config
                from bluekit.embedder_training import load_tuned_embedder
                tuned = load_tuned_embedder(run, load_config(Path(run) / "config.yaml").embed)
                run_ws = dataclasses.replace(domain_workspace(config, domain, overrides, tuned),
                                             test_users=ws.test_users)
            cells[key] = pipeline.profiler_result(run_ws, row.label, run, readability=False)
            profiles = pipeline.test_profiles(run_ws, run)
            text = [profiles.get(u, "") for u in ex.user_id]
        elif row.kind == "sasrec":
            cells[key] = sasrec_result(ws, row.label) if source else \
                "n/a: ID-based, trained on the source domain; its item ids do not carry over"
        elif row.kind == "ceiling":
            if ws.cfg.data.source != "demo":
                cells[key] = "n/a: true tastes exist only in the demo world"
                continue
            from bluekit.data import synth
            ceiling = synth.ceiling_profiles(ws.cfg.data.demo_dir, data.name)
            cells[key] = evaluate_texts(row.label, ceiling, ex, **kw)
            text = [ceiling.get(u, "") for u in ex.user_id]
        else:
            raise ValueError(f"paper table row {row.label!r}: unknown kind {row.kind!r}")
        if texts is not None and text is not None:
            texts[row.label] = text
    return cells


# --------------------------------------------------------------------------- readability

def readability_cells(ws, texts: Mapping[str, list[str]], ranked: Mapping, rows: Sequence[Row],
                      runs: Mapping, ranked_column: str, column: str) -> dict:
    """{(row label, column): the row's source-column result with the readability measures of its
    texts attached (bluekit.pipeline.with_readability, fluency without the quiz; cached), or why
    not}. Rows whose text is not a profile (last item's title, SASRec) say n/a."""
    from bluekit import pipeline

    cells = {}
    for row in rows:
        result = ranked.get((row.label, ranked_column))
        if isinstance(result, str) or result is None:
            run = runs.get(row.run)
            cells[(row.label, column)] = run if isinstance(run, str) else "n/a: not evaluated"
        elif row.kind not in READABLE_KINDS or row.label not in texts:
            cells[(row.label, column)] = "n/a: its text is not a profile"
        else:
            cells[(row.label, column)] = pipeline.with_readability(ws, result, texts[row.label], quiz=False)
    return cells


# --------------------------------------------------------------------------- QA (adapter over bluekit.qa)

def qa_cells(ws, texts: Mapping[str, list[str]], rows: Sequence[Row], runs: Mapping, n_users: int | None,
             column: str, num_choices: int = 4, reader=None, batch_size: int = 16) -> tuple[dict, dict]:
    """{(row label, column): QA MethodResult or why not} on the first n_users evaluated users, and
    the rating baselines' MAE. bluekit.qa.qa reads one run at a time and recomputes the shared
    contexts per run; this reads every row's text once with bluekit.qa's pieces, caching each
    context's reader outputs when the reader is the workspace's base reader."""
    from bluekit import pipeline, qa
    from bluekit.hardware import resolve_dtype
    from bluekit.quiz import option_scores, quiz_questions

    ex = ws.test_examples.iloc[:n_users].reset_index(drop=True) if n_users else ws.test_examples
    titles = ws.prepared.items.title.fillna("").astype(str).tolist()
    choices, answers = quiz_questions(ex, ws.prepared.item_index, titles, num_choices)
    title_of = dict(zip(ws.prepared.items.item_id.astype(str), titles))
    targets = [title_of.get(str(i), "") for i in ex.item_id]
    cache = None if reader is not None else \
        [ws.cfg.profiler.model, resolve_dtype(ws.cfg.profiler.dtype)]  # only the default reader is cached
    model, tok = reader or pipeline.base_reader(ws)
    cells = {}
    for row in rows:
        if row.label not in texts:
            run = runs.get(row.run)
            cells[(row.label, column)] = run if isinstance(run, str) else "n/a: no text to read"
            continue
        context = texts[row.label][: len(ex)]

        def compute(context=context, label=row.label):
            scores = option_scores(context, choices, model, tok, "likelihood", batch_size)
            ratings = qa.expected_ratings(qa.rating_logits(context, targets, model, tok, batch_size))
            return [qa.qa_result(label, ex, answers, {"likelihood": scores}, ratings)]

        if cache is None:
            result = compute()[0]
        else:
            key = _key(cache, context, choices, answers, targets, ex.rating.tolist())
            result = _cached(Path(ws.cfg.embed.cache_dir) / "paper-table" / f"qa-{key}.json", compute)[0]
            result.name = row.label
        cells[(row.label, column)] = result
    baselines = {name: float(np.mean(np.abs(pred - ex.rating.to_numpy(float))))
                 for name, pred in qa.rating_baselines(ws.prepared, ex).items()}
    return cells, baselines


# --------------------------------------------------------------------------- the table

def paper_table(config: str | Path | dict = "cpu-long", domains: Sequence[str] | None = DOMAINS,
                users: int | None = None, qa_users: int | None = None, out: str | Path | None = None,
                overrides: Mapping | None = None, rows: Sequence[Row] = ROWS, root: str | Path | None = None,
                embedder=None, reader=None, num_choices: int = 4) -> dict:
    """The table (see the module doc). domains[0] is the source (SASRec and QA columns); `users`
    caps each domain's evaluated users (eval.test_users), `qa_users` the QA's (default: QA_USERS,
    or `users` when fewer).
    Returns {"table": wide DataFrame, "long": every number, "notes": [...], "wall_s"}; with `out`,
    writes out/paper-table.csv (every number), .md (the table and its notes) and .json (both)."""
    from bluekit.transfer import source_users

    start = time.perf_counter()
    domains = list(domains or DOMAINS)
    overrides = {**(overrides or {}), **({"eval.test_users": users} if users else {})}
    runs = published_runs(rows, root)
    drop = set().union(*(source_users(r) for r in dict.fromkeys(runs.values()) if not isinstance(r, str)))
    cells, columns, qa_baselines, labels = {}, [], {}, [r.label for r in rows]
    for i, domain in enumerate(domains):
        ws = domain_workspace(config, domain, overrides, embedder, drop)
        column = ws.prepared.name + (" (source)" if i == 0 else " (zero-shot)")
        columns.append(column)
        texts = {} if i == 0 else None
        cells.update(domain_cells(ws, rows, runs, i == 0, config, overrides, domain, column, texts))
        print(f"paper table: {column} done, {len(ws.test_users)} users, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        if i == 0:
            source_ws, source_texts = ws, texts
    long, wide = assemble(cells, labels, columns, rows_label(rows, REFERENCE))
    long.insert(0, "kind", "ranking")
    source_name = columns[0].split(" ")[0]
    read_column = f"readability on {source_name}"
    read_cells = readability_cells(source_ws, source_texts, cells, rows, runs, columns[0], read_column)
    read_long, read_wide = assemble(read_cells, labels, [read_column], rows_label(rows, REFERENCE),
                                    metrics=tuple(READABLE), test_metric=None, short=READABLE)
    wide[read_column] = read_wide[read_column]
    long = pd.concat([long, read_long.assign(kind="readability")], ignore_index=True)
    qa_column = f"QA on {source_name}"
    qa_n = qa_users or min(users or QA_USERS, QA_USERS)
    qa_by_row, qa_baselines = qa_cells(source_ws, source_texts, rows, runs, qa_n, qa_column, num_choices, reader)
    for metric, title in QA_METRICS.items():
        qa_long, qa_wide = assemble(qa_by_row, labels, [qa_column], rows_label(rows, REFERENCE),
                                    metrics=(metric,), test_metric=metric,
                                    short={metric: ""})
        wide[title] = qa_wide[qa_column].str.strip()
        long = pd.concat([long, qa_long.assign(kind=f"qa: {metric}")], ignore_index=True)
    notes = table_notes(long, qa_baselines, num_choices, runs, overrides)
    result = {"table": wide, "long": long, "notes": notes, "wall_s": time.perf_counter() - start}
    if out is not None:
        save_paper_table(result, out)
    return result


def rows_label(rows: Sequence[Row], run: str) -> str:
    return next(r.label for r in rows if r.run == run and r.embedder == "frozen")


def table_notes(long: pd.DataFrame, qa_baselines: Mapping[str, float], num_choices: int, runs: Mapping,
                overrides: Mapping) -> list[str]:
    ranking = long[long.kind == "ranking"]
    n = ranking.groupby("column")["n"].max().dropna().astype(int).to_dict() if "n" in ranking else {}
    qa_n = long.loc[long.kind.str.startswith("qa"), "n"].max() if "n" in long else np.nan
    missing = [v for v in runs.values() if isinstance(v, str)]
    return [
        f"Users per column: {n} (each domain's evaluated users, the same for every row; overrides "
        f"{dict(overrides)}).",
        f"{UP} / {DOWN}: MRR significantly higher / lower than cpu-long on the same users (paired "
        f"Wilcoxon, p < {ALPHA}); no mark: no significant difference. NDCG@10 is not tested: it is 0 "
        "for ~90% of users under both methods, and a paired test needs ~4,000 users for the effect "
        "sizes seen here, not 240 (docs/TRAINING-ON-CPU.md section 4). Brackets: 95% bootstrap CIs.",
        "SASRec is ID-based and not zero-shot: trained on the source domain's training interactions "
        "(every user's); its item ids do not exist in another catalogue, so its transfer cells are n/a.",
        f"QA (source domain, {'' if pd.isna(qa_n) else int(qa_n)} users): next-item choice among "
        f"{num_choices} options (chance {1 / num_choices:.2f}), read from each option title's PMI under "
        "the row's text (bluekit.qa, likelihood form); rating: the frozen reader's expected rating, "
        "MAE (lower is better; marks as above, on accuracy and on per-user absolute error). Rating "
        "baselines: " + ", ".join(f"{k} MAE {v:.3f}" for k, v in qa_baselines.items()) + ": the "
        "demo's ratings sit mostly at 4-5, so a constant near the mean is already close.",
        "Readability (source domain, every evaluated user; docs/READABILITY.md): item = share of "
        "texts that describe one item rather than the user, rep. = share that repeat words (both: "
        "lower is better), cov. = the history's share of the text's 50 nearest items (frozen "
        "embedder), flu. = mean log-likelihood per token under the frozen reader (higher reads "
        "more fluently). Not tested against cpu-long; read them beside the rank.",
        "Missing runs: " + ("; ".join(missing) if missing else "none") + ".",
    ]


def save_paper_table(result: dict, out: str | Path) -> Path:
    """out/paper-table.csv (every number), paper-table.md, paper-table.json."""
    from bluekit.atomic import write_text
    from bluekit.study_table import markdown_table

    out = Path(out)
    long, wide = result["long"], result["table"]
    write_text(out / "paper-table.csv", long.to_csv(index=False, float_format="%.6g"))
    notes = "\n".join(f"- {n}" for n in result["notes"])
    write_text(out / "paper-table.md", "# Paper table: every method on every domain (published runs)\n\n"
               + markdown_table(wide.fillna("").reset_index()) + "\n\n" + notes
               + f"\n\nWall time: {result['wall_s']:.0f} s.\n")
    write_text(out / "paper-table.json", json.dumps(
        {"notes": result["notes"], "wall_s": result["wall_s"],
         "table": json.loads(wide.to_json(orient="index")),
         "long": json.loads(long.to_json(orient="records"))}, indent=1, ensure_ascii=False))
    return out


__all__ = ["DOMAINS", "ROWS", "Row", "assemble", "paper_table", "published_runs", "save_paper_table",
           "significance_mark"]
