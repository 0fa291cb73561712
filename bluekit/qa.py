"""Profiles as QA context: what a frozen reader LLM answers about a held-out user given no context,
raw history text, the untrained profile or the trained profile (and, as a check of the reader,
the ceiling: the next item's own title).

    table, results = qa(ws, "data/pretrained/cpu-long", n_users=100)
    python -m bluekit qa --config cpu-demo --run data/pretrained/cpu-long --users 100

(a) Next-item multiple choice with K options: the target and K-1 catalogue items the user never
had, the answer's position rotated over the users (bluekit.quiz.quiz_questions), so a reader with a
favourite option scores exactly chance (1/K). Two forms, both reported:
- letter: the lettered question (bluekit.rewards.text.mcq_prompt), answered by the option letter
  with the highest logit at the next-token position (option_probabilities), never parsed text;
- likelihood: each option title's PMI under the context (bluekit.quiz.pmi_scores). The offline
  135M reader (SmolLM2) answers the letter form "A" almost whatever it reads, so only this form
  carries a signal on CPU (bluekit/quiz.py); `answered_a` shows the letter form's habit. Measured
  on 24 held-out users of cpu-demo given the ceiling context (the answer's own title): by letter
  0.17 [0.04, 0.33], "A" 67% of the time, below chance; by likelihood 1.00 (`qa --contexts ceiling`).
(b) Rating prediction: the reader's expected rating of the held-out item, sum_r r * p(r), with p
the softmax over the digit tokens "1".."5" after "Answer:"; its absolute error beside two
baselines: the global mean (training interactions) and the user's mean (their history's ratings).
The demo's ratings sit mostly at 4-5, so the global mean is already close for most users and
MAE rewards a reader that always says about 4.3: read a context's MAE against the baselines, not
against 0.

Every accuracy and MAE has a 95% bootstrap CI (bluekit.evaluate.bootstrap_ci) and paired tests
(bluekit.evaluate.paired_test, Wilcoxon + bootstrap CI of the difference, user by user).
The raw-history contexts are the ranking baseline's text (bluekit.baselines.history_texts): the
last `profiler.max_history_items` titles (what the profiler saw) and the last 20.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

RATING_QUESTION = 'How would this user rate "{title}" from 1 (worst) to 5 (best)?'
RATINGS = np.arange(1, 6, dtype=float)
NO_CONTEXT, UNTRAINED, TRAINED = "no context", "untrained profile", "trained profile"
CEILING = "ceiling (next item's title)"
GLOBAL_MEAN, USER_MEAN = "global mean rating", "user's mean rating"
FORMS = ("letter", "likelihood")


def rating_prompt(context: str, title: str) -> str:
    """The rating question the reader sees (before its chat template).

    >>> print(rating_prompt("Loves hiking.", "Trail boots"))
    Here is a description of a user:
    Loves hiking.
    <BLANKLINE>
    How would this user rate "Trail boots" from 1 (worst) to 5 (best)?
    Reply with one digit.
    """
    return "\n".join(["Here is a description of a user:", str(context or "").strip() or "(no description)",
                      "", RATING_QUESTION.format(title=str(title).strip()), "Reply with one digit."])


def expected_ratings(digit_logits: np.ndarray) -> np.ndarray:
    """sum_r r * softmax(logits)_r over the digits 1..5: the reader's expected rating per row.

    >>> expected_ratings(np.array([[0.0, 0, 0, 0, 0], [-50, -50, -50, -50, 0]])).round(3).tolist()
    [3.0, 5.0]
    """
    logits = np.asarray(digit_logits, dtype=float)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (probs / probs.sum(axis=1, keepdims=True)) @ RATINGS


def rating_logits(contexts: Sequence[str], titles: Sequence[str], model, tokenizer,
                  batch_size: int = 16, max_context_chars: int = 2000) -> np.ndarray:
    """(n, 5) the reader's logits of the digits "1".."5" as its answer to rating_prompt."""
    from bluekit.llm import option_letter_ids
    from bluekit.rewards.text import next_token_logits

    digits = option_letter_ids(tokenizer, 5, symbols="12345")
    out = np.zeros((len(contexts), 5))
    for start in range(0, len(contexts), batch_size):
        rows = slice(start, start + batch_size)
        prompts = [rating_prompt(str(c or "")[:max_context_chars], t)
                   for c, t in zip(contexts[rows], titles[rows])]
        out[rows] = next_token_logits(model, tokenizer, prompts)[:, digits].numpy()
    return out


def qa_contexts(ws, run_dir: str | Path | None, examples: pd.DataFrame) -> dict[str, list[str]]:
    """The reader's context per example row, by name (profiles from the cache, bluekit.pipeline)."""
    from bluekit import pipeline
    from bluekit.baselines import history_texts

    data = ws.prepared
    seen = ws.cfg.profiler.max_history_items
    title_of = dict(zip(data.items.item_id.astype(str), data.items.title.fillna("").astype(str)))
    contexts = {NO_CONTEXT: [""] * len(examples),
                f"raw history ({seen} items)": history_texts(examples, data.items, data.item_index, seen),
                "raw history (20 items)": history_texts(examples, data.items, data.item_index, 20),
                UNTRAINED: [pipeline.test_profiles(ws, None).get(u, "") for u in examples.user_id]}
    if run_dir is not None:
        trained = pipeline.test_profiles(ws, run_dir)
        contexts[TRAINED] = [trained.get(u, "") for u in examples.user_id]
    contexts[CEILING] = [title_of.get(str(i), "") for i in examples.item_id]
    return contexts


def rating_baselines(prepared, examples: pd.DataFrame) -> dict[str, np.ndarray]:
    """Predicted ratings per example: the training interactions' mean, and each user's mean over
    their history (the global mean for a user with no rated history)."""
    global_mean = float(prepared.splits.train["rating"].mean())
    rating_of = {(u, i): r for u, i, r in zip(prepared.interactions.user_id.astype(str),
                                               prepared.interactions.item_id.astype(str),
                                               prepared.interactions.rating)}
    user_means = []
    for user, history in zip(examples.user_id.astype(str), examples.history):
        rated = [rating_of[(user, str(h))] for h in (history if history is not None else [])
                 if (user, str(h)) in rating_of and np.isfinite(rating_of[(user, str(h))])]
        user_means.append(float(np.mean(rated)) if rated else global_mean)
    return {GLOBAL_MEAN: np.full(len(examples), global_mean), USER_MEAN: np.array(user_means)}


def qa_result(name: str, examples: pd.DataFrame, answers: Sequence[int] | None = None,
              option_scores: Mapping[str, np.ndarray] | None = None,
              predicted_rating: np.ndarray | None = None):
    """One context's MethodResult from the reader's outputs: per user, `mcq_FORM` (1 when the
    form's top option is the answer), `picked_FORM` (its option), `rating_pred` and `rating_abs_error`
    (|predicted - true|); the summary holds their means (`mcq_FORM`, `answered_a_FORM`, `rating_mae`)."""
    from bluekit.evaluate import MethodResult
    from bluekit.quiz import chosen

    per_user = pd.DataFrame({"user_id": examples.user_id.astype(str).to_numpy(),
                             "item_id": examples.item_id.astype(str).to_numpy()})
    summary = {"n": len(examples)}
    for form, scores in (option_scores or {}).items():
        picks = chosen(scores)
        per_user[f"picked_{form}"] = picks
        per_user[f"mcq_{form}"] = (picks == np.asarray(answers)).astype(float)
        summary[f"mcq_{form}"] = float(per_user[f"mcq_{form}"].mean())
        summary[f"answered_a_{form}"] = float(np.mean(picks == 0))
    if predicted_rating is not None:
        per_user["rating_pred"] = np.asarray(predicted_rating, dtype=float)
        per_user["rating_abs_error"] = np.abs(per_user["rating_pred"] - examples.rating.to_numpy(float))
        summary["rating_mae"] = float(per_user["rating_abs_error"].mean())
    return MethodResult(name, per_user, summary)


def qa(ws, run_dir: str | Path | None = None, n_users: int | None = None, num_choices: int = 4,
       reader=None, seed: int = 0, batch_size: int = 16, contexts: Sequence[str] | None = None,
       progress: bool = False) -> tuple[pd.DataFrame, list]:
    """The QA table and its results on the first `n_users` held-out users (all by default): each
    context read by `reader` (model, tokenizer; default the frozen base profiler, pipeline.base_reader),
    then the rating baselines. See the module doc. `contexts` keeps only the contexts whose name
    contains one of these words (e.g. ["ceiling", "profile"]): the reader's cost grows with the
    context's length, and raw history of 20 titles is the longest by far. `progress` prints each
    context's accuracies and seconds as it finishes."""
    import time
    from bluekit import pipeline
    from bluekit.quiz import option_scores, quiz_questions

    examples = ws.test_examples
    examples = examples.iloc[:n_users].reset_index(drop=True) if n_users else examples
    model, tokenizer = reader or pipeline.base_reader(ws)
    titles = ws.prepared.items.title.fillna("").astype(str).tolist()
    choices, answers = quiz_questions(examples, ws.prepared.item_index, titles, num_choices, seed)
    item_titles = dict(zip(ws.prepared.items.item_id.astype(str), titles))
    target_titles = [item_titles.get(str(i), "") for i in examples.item_id]
    results = []
    for name, texts in qa_contexts(ws, run_dir, examples).items():
        if contexts and not any(word.lower() in name.lower() for word in contexts):
            continue
        start = time.perf_counter()
        scores = {form: option_scores(texts, choices, model, tokenizer, form, batch_size) for form in FORMS}
        ratings = None if name == CEILING else expected_ratings(
            rating_logits(texts, target_titles, model, tokenizer, batch_size))
        results.append(qa_result(name, examples, answers, scores, ratings))
        if progress:
            shown = {k: round(v, 3) for k, v in results[-1].summary.items() if k != "n"}
            print(f"qa: {name}: {len(examples)} users, {time.perf_counter() - start:.0f} s, {shown}", flush=True)
    for name, predicted in rating_baselines(ws.prepared, examples).items():
        results.append(qa_result(name, examples, predicted_rating=predicted))
    return qa_table(results, num_choices), results


def qa_table(results: Sequence, num_choices: int,
             references: Mapping[str, str] = {"untrained": UNTRAINED, "raw": "raw history"}) -> pd.DataFrame:
    """One row per context: each form's accuracy with its 95% CI and the share answered "A", the
    rating MAE with its CI, and paired p-values against each reference row that is present
    (column p_METRIC_vs_LABEL; "raw history" means the shorter raw-history row: what the profiler saw)."""
    from bluekit.evaluate import bootstrap_ci, paired_test

    refs = {}
    for label, ref in references.items():
        match = next((r for r in results if r.name == ref or r.name.startswith(ref + " (")), None)
        if match is not None:
            refs[label] = match
    rows = {}
    for result in results:
        row = {"n": result.summary["n"]}
        for metric in [*(f"mcq_{f}" for f in FORMS), "rating_abs_error"]:
            if metric not in result.per_user or result.per_user[metric].isna().all():
                continue
            label = "rating_mae" if metric == "rating_abs_error" else metric
            row[label] = float(result.per_user[metric].mean())
            row[f"{label}_ci_low"], row[f"{label}_ci_high"] = bootstrap_ci(result.per_user[metric].to_numpy())
            if metric.startswith("mcq_"):
                row[f"answered_a_{metric[4:]}"] = result.summary[f"answered_a_{metric[4:]}"]
            for ref, other in refs.items():
                if other is not result and metric in other.per_user:
                    row[f"p_{label}_vs_{ref}"] = paired_test(result, other, metric)["p_value"]
        rows[result.name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "context"
    table.attrs["chance"] = 1.0 / num_choices
    return table


def reader_check(table: pd.DataFrame) -> dict[str, bool]:
    """Per form: is the reader above chance (the CI's lower end above 1/K) given the ceiling
    context, the next item's own title? A form that is not cannot tell good context from bad."""
    chance = table.attrs.get("chance", float("nan"))
    return {form: bool(table.loc[CEILING, f"mcq_{form}_ci_low"] > chance) for form in FORMS
            if CEILING in table.index and f"mcq_{form}_ci_low" in table}


def format_qa_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table for reading: each accuracy and MAE as "value [CI]", then its share answered "A"
    and its p-values (numbers, kept for markdown_table to format)."""
    shown = pd.DataFrame(index=table.index)
    shown["n"] = table["n"]
    for label in [*(f"mcq_{f}" for f in FORMS), "rating_mae"]:
        if label not in table:
            continue
        shown[label] = [f"{v:.3f} [{lo:.3f}, {hi:.3f}]" if pd.notna(v) else ""
                        for v, lo, hi in zip(table[label], table[f"{label}_ci_low"], table[f"{label}_ci_high"])]
        for column in [c for c in table.columns if c.startswith((f"answered_a_{label[4:]}", f"p_{label}_"))]:
            shown[column] = table[column].round(4)
    return shown


def save_qa(table: pd.DataFrame, results: Sequence, stem: str | Path) -> Path:
    """stem.csv (every number), stem.md (the formatted table, chance and the reader check) and
    stem.json (per-user outputs, bluekit.evaluate.save_results)."""
    from bluekit.atomic import write_text
    from bluekit.evaluate import save_results
    from bluekit.study_table import markdown_table

    stem = Path(stem)
    write_text(stem.with_suffix(".csv"), table.to_csv(float_format="%.6g"))
    check = reader_check(table)
    notes = (f"Chance (multiple choice): {table.attrs['chance']:.3f}. Reader above chance given the "
             f"ceiling context: {check}.")
    write_text(stem.with_suffix(".md"), f"# Profiles as QA context\n\n{notes}\n\n"
               + markdown_table(format_qa_table(table).reset_index()) + "\n")
    save_results(results, stem.with_suffix(".json"))
    return stem
