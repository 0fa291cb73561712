"""Profiles as QA context (bluekit.qa): accuracy, MAE, CIs and paired tests equal hand-computed
values on fixed reader outputs; the rating question reads the digit logits; end to end on the tiny
reader every context gets a row."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest


def examples(ratings):
    n = len(ratings)
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "item_id": [f"i{i}" for i in range(n)],
                         "rating": ratings, "history": [["h1", "h2"]] * n})


def test_accuracy_and_mae_equal_hand_computed_values_on_fixed_reader_outputs():
    from bluekit import qa
    from bluekit.evaluate import bootstrap_ci, paired_test

    ex = examples([5.0, 4.0, 3.0, 1.0])
    answers = [0, 1, 2, 3]  # rotated: user i's answer is option i mod 4
    letter = np.array([[.7, .1, .1, .1],    # picks A: right
                       [.6, .2, .1, .1],    # picks A: wrong
                       [.1, .1, .5, .3],    # picks C: right
                       [.25, .25, .25, .25]])  # a tie goes to A: wrong
    likelihood = np.array([[0., 0, 0, 0], [-1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 3]])  # A, B, C, D: all right
    # digit logits: uniform -> 3; all mass on "5" -> 5; on "4" -> 4; 1 and 2 equally -> 1.5
    big = 50.0
    logits = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, big], [0, 0, 0, big, 0], [big, big, 0, 0, 0]], float)
    predicted = qa.expected_ratings(logits)
    assert np.allclose(predicted, [3.0, 5.0, 4.0, 1.5])
    profile = qa.qa_result(qa.UNTRAINED, ex, answers, {"letter": letter, "likelihood": likelihood}, predicted)
    assert profile.per_user["mcq_letter"].tolist() == [1, 0, 1, 0]
    assert profile.per_user["picked_letter"].tolist() == [0, 0, 2, 0]
    assert profile.summary["mcq_letter"] == 0.5 and profile.summary["answered_a_letter"] == 0.75
    assert profile.summary["mcq_likelihood"] == 1.0 and profile.summary["answered_a_likelihood"] == 0.25
    # |3-5|, |5-4|, |4-3|, |1.5-1| = 2, 1, 1, 0.5
    assert profile.per_user["rating_abs_error"].tolist() == [2.0, 1.0, 1.0, 0.5]
    assert profile.summary["rating_mae"] == 1.125
    nothing = qa.qa_result(qa.NO_CONTEXT, ex, answers, {"letter": np.tile([1., 0, 0, 0], (4, 1)),
                                                        "likelihood": np.zeros((4, 4))}, np.full(4, 4.0))
    assert nothing.summary["mcq_letter"] == nothing.summary["mcq_likelihood"] == 0.25  # exactly chance
    assert nothing.summary["rating_mae"] == (1 + 0 + 1 + 3) / 4

    table = qa.qa_table([nothing, profile], num_choices=4)
    assert table.attrs["chance"] == 0.25
    assert table.loc[qa.UNTRAINED, "mcq_likelihood"] == 1.0 and table.loc[qa.NO_CONTEXT, "rating_mae"] == 1.25
    lo, hi = bootstrap_ci(np.array([2.0, 1.0, 1.0, 0.5]))
    assert (table.loc[qa.UNTRAINED, "rating_mae_ci_low"], table.loc[qa.UNTRAINED, "rating_mae_ci_high"]) == (lo, hi)
    p = paired_test(nothing, profile, "mcq_likelihood")["p_value"]
    assert table.loc[qa.NO_CONTEXT, "p_mcq_likelihood_vs_untrained"] == p < 1
    assert pd.isna(table.loc[qa.UNTRAINED, "p_mcq_likelihood_vs_untrained"])  # not against itself
    shown = qa.format_qa_table(table)
    assert shown.loc[qa.UNTRAINED, "rating_mae"] == f"1.125 [{lo:.3f}, {hi:.3f}]"


def test_rating_baselines_are_the_global_and_the_users_mean():
    from bluekit import qa

    interactions = pd.DataFrame({"user_id": ["u0", "u0", "u1", "u1", "u2"],
                                 "item_id": ["h1", "h2", "h1", "x", "h1"],
                                 "rating": [5.0, 3.0, 2.0, 1.0, np.nan]})
    prepared = SimpleNamespace(interactions=interactions,
                               splits=SimpleNamespace(train=pd.DataFrame({"rating": [5.0, 3.0, 2.0, 2.0]})))
    ex = examples([4.0, 4.0, 4.0])  # histories are h1, h2 for everyone
    base = qa.rating_baselines(prepared, ex)
    assert base[qa.GLOBAL_MEAN].tolist() == [3.0, 3.0, 3.0]
    # u0 rated h1 5 and h2 3; u1 rated h1 2 (x is not in the history); u2's only rating is missing
    assert base[qa.USER_MEAN].tolist() == [4.0, 2.0, 3.0]


def test_reader_check_asks_the_ceiling_for_more_than_chance():
    from bluekit import qa

    table = pd.DataFrame({"mcq_letter_ci_low": [0.20], "mcq_likelihood_ci_low": [0.9]}, index=[qa.CEILING])
    table.attrs["chance"] = 0.25
    assert qa.reader_check(table) == {"letter": False, "likelihood": True}


def test_rating_question_reads_the_digit_logits(tiny_lm):
    import torch

    from bluekit import qa
    from bluekit.llm import option_letter_ids
    from bluekit.rewards.text import next_token_logits

    model, tok = tiny_lm
    logits = qa.rating_logits(["Loves hiking.", ""], ["Trail boots", "Pan"], model, tok)
    digits = option_letter_ids(tok, 5, symbols="12345")
    full = next_token_logits(model, tok, [qa.rating_prompt("Loves hiking.", "Trail boots"),
                                          qa.rating_prompt("", "Pan")])
    assert torch.allclose(torch.tensor(logits, dtype=torch.float32), full[:, digits])
    assert ((qa.expected_ratings(logits) >= 1) & (qa.expected_ratings(logits) <= 5)).all()


def test_qa_end_to_end_on_the_tiny_reader(ws, tiny_lm):
    from bluekit import qa

    table, results = qa.qa(ws, None, n_users=8, reader=tiny_lm)
    assert list(table.index) == [qa.NO_CONTEXT, "raw history (8 items)", "raw history (20 items)",
                                 qa.UNTRAINED, qa.CEILING, qa.GLOBAL_MEAN, qa.USER_MEAN]
    assert (table["n"] == 8).all()
    assert table.loc[qa.NO_CONTEXT, "mcq_likelihood"] == pytest.approx(0.25)  # PMI 0 -> A, rotated answers
    assert table[["mcq_letter", "mcq_likelihood"]].iloc[:5].notna().all().all()
    assert table["rating_mae"].drop(qa.CEILING).notna().all() and pd.isna(table.loc[qa.CEILING, "rating_mae"])
    some, _ = qa.qa(ws, None, n_users=4, reader=tiny_lm, contexts=["ceiling", "PROFILE"])
    assert list(some.index) == [qa.UNTRAINED, qa.CEILING, qa.GLOBAL_MEAN, qa.USER_MEAN]
