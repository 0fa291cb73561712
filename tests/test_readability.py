"""Readability measures: the item-description detector against hand labels, repetition, history
coverage, the quiz's rotation, fluency, and their place in a profiler's evaluation."""
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bluekit import quiz, readability
from bluekit.readability import describes_item, repetitive

LABELS = Path(__file__).parent / "data" / "readability_labels.csv"
HOLDOUT = Path(__file__).parent / "data" / "readability_labels_holdout.csv"  # labelled after the rules froze


def test_detector_agrees_with_the_hand_labels():
    rows = list(csv.DictReader(LABELS.open()))
    assert len(rows) >= 150
    sources = {r["source"].split("-step")[0] for r in rows}
    assert {"cpu-long-test", "cpu-long", "untrained-brief", "hand-written"} <= sources
    truth = np.array([r["label"] == "item" for r in rows])
    said = np.array([describes_item(r["text"]) for r in rows])
    assert (said == truth).mean() >= 0.93  # docs/READABILITY.md states the measured agreement
    assert said[truth].mean() >= 0.9 and (~said[~truth]).mean() >= 0.9  # both classes


def test_detector_agrees_with_labels_it_was_not_tuned_on():
    rows = list(csv.DictReader(HOLDOUT.open()))
    agree = [describes_item(r["text"]) == (r["label"] == "item") for r in rows]
    assert len(rows) >= 50 and np.mean(agree) >= 0.9


@pytest.mark.parametrize("template", ["User profile: {}", "The user: {}", "Profile of the user - {}"])
def test_a_label_in_front_does_not_fool_the_detector(template):
    for text in ("This knit sweater is knit by the knit of a woolen yarn.",
                 "This hat is a flattering straw, and the straw is a swoon-worthy choice."):
        assert describes_item(template.format(text))


def test_profiles_about_people_are_not_item_descriptions():
    for text in ("The user prefers comfortable, breathable running gear.",
                 "Loves waterproof hiking boots and long trail walks.",
                 "This child favors a mix of eco-friendly and kid-friendly items.",
                 "hiking, trail running, wool socks, lightweight gear", ""):
        assert not describes_item(text), text


def test_repetition():
    assert repetitive("This knit beanie is a unique wool knit knit.")
    assert repetitive("a fan of trail shoes and a fan of trail maps")  # a 3-gram twice
    assert not repetitive("Prefers light trail shoes and warm wool socks for winter hikes.")


def test_history_coverage_counts_history_items_in_the_top_k():
    items = np.eye(5, dtype=np.float32)
    profile = np.array([[0.9, 0.8, 0.1, 0, 0], [0, 0, 0, 0, 0]], dtype=np.float32)
    cov = readability.history_coverage(profile, items, [[0, 1, 4], [0]], k=2)
    assert cov[0] == pytest.approx(2 / 3) and cov[1] == 0.0


def test_quiz_rotates_the_answer_and_avoids_the_history():
    examples = pd.DataFrame({"user_id": [f"u{i}" for i in range(8)], "item_id": ["i0"] * 8,
                             "history": [["i1", "i2"]] * 8})
    index = {f"i{k}": k for k in range(10)}
    titles = [f"title {k}" for k in range(10)]
    choices, answers = quiz.quiz_questions(examples, index, titles, num_choices=4)
    assert answers == [0, 1, 2, 3, 0, 1, 2, 3]  # every position equally often
    for options, answer in zip(choices, answers):
        assert options[answer] == "title 0" and not {"title 1", "title 2"} & set(options)
    assert quiz.quiz_questions(examples, index, titles)[0] == choices  # seeded


def test_a_reader_that_always_answers_a_scores_chance(monkeypatch):
    examples = pd.DataFrame({"user_id": [f"u{i}" for i in range(8)], "item_id": ["i0"] * 8,
                             "history": [[]] * 8})
    index = {f"i{k}": k for k in range(10)}
    choices, answers = quiz.quiz_questions(examples, index, [str(k) for k in range(10)])
    monkeypatch.setattr("bluekit.rewards.text.option_probabilities",
                        lambda model, tok, texts, titles: [np.array([0.7, 0.1, 0.1, 0.1])] * len(texts))
    hits = quiz.quiz_accuracy(["x"] * 8, choices, answers, None, None, method="letter")
    assert hits.mean() == 0.25


def test_fluency_prefers_the_models_own_text(tiny_lm):
    model, tok = tiny_lm
    scores = quiz.fluency(["the the the the", "zq xv kj wp", ""], model, tok)
    assert np.isfinite(scores[:2]).all() and np.isnan(scores[2]) and (scores[:2] < 0).all()


def test_profiler_results_carry_readability_beside_rank(ws):
    from bluekit import pipeline
    result = pipeline.profiler_result(ws, "untrained profiler")
    for metric in readability.READABILITY_METRICS:
        assert metric in result.per_user and metric in result.summary
        assert result.summary[f"{metric}_ci_low"] <= result.summary[metric] <= result.summary[f"{metric}_ci_high"]
    assert 0.0 <= result.summary["quiz_accuracy"] <= 1.0
    raw, empty = pipeline.readability_references(ws)
    assert raw.name == "raw history text" and empty.summary["ndcg@10"] == 0.0
    assert raw.summary["history_coverage"] > empty.summary["history_coverage"] == 0.0


def test_likelihood_quiz_with_no_profile_scores_exactly_chance(tiny_lm):
    model, tok = tiny_lm
    choices = [[f"item {i}-{k}" for k in range(4)] for i in range(8)]
    answers = [i % 4 for i in range(8)]
    assert quiz.quiz_accuracy([""] * 8, choices, answers, model, tok).mean() == 0.25


def test_continuation_loglik_reads_only_the_continuation(tiny_lm):
    model, tok = tiny_lm
    a = quiz.continuation_loglik(model, tok, ["short context", "a much longer context here"], ["boots", "boots"])
    assert np.isfinite(a).all() and (a < 0).all()
    assert np.isnan(quiz.continuation_loglik(model, tok, ["x"], [""])[0])


def test_readability_table_tests_each_measure_against_the_untrained_profiler():
    from bluekit.evaluate import MethodResult
    n = 40
    def result(name, item_share):
        per_user = pd.DataFrame({"user_id": [f"u{i}" for i in range(n)]})
        r = MethodResult(name, per_user, {})
        measures = pd.DataFrame({m: np.zeros(n) for m in readability.READABILITY_METRICS})
        measures["item_description"] = (np.arange(n) < item_share * n).astype(float)
        return readability.add_readability(r, measures)
    table = readability.readability_table([result("untrained profiler", 0.0), result("trained", 0.9)])
    assert table.loc["trained", "item_description"] == pytest.approx(0.9)
    assert table.loc["trained", "item_description_p"] < 1e-6
    assert np.isnan(table.loc["untrained profiler", "item_description_p"])


def test_readability_measures_are_cached_per_texts(ws, monkeypatch):
    from bluekit import pipeline
    first = pipeline.profiler_result(ws, "untrained profiler")
    monkeypatch.setattr("bluekit.readability.measure", lambda *a, **k: pytest.fail("measured again"))
    again = pipeline.profiler_result(ws, "untrained profiler")
    pd.testing.assert_frame_equal(first.per_user, again.per_user)


def test_batched_loglik_equals_one_sequence_at_a_time(tiny_lm):
    import torch
    model, tok = tiny_lm
    contexts = ["a short context", "a much longer context with many more words in it", "x"]
    continuations = ["boots", "waterproof hiking boots for trails", "y z"]
    batched = quiz.continuation_loglik(model, tok, contexts, continuations, batch_size=3)
    for got, context, cont in zip(batched, contexts, continuations):
        a = tok(context, add_special_tokens=False)["input_ids"]
        b = tok(" " + cont, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([a + b])).logits.float(), -1)[0]
        assert got == pytest.approx(np.mean([logp[len(a) - 1 + k, b[k]].item() for k in range(len(b))]),
                                    abs=1e-5)
