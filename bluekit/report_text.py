"""The words of the report: the three summary sentences, the how-to-read box and the captions.

Written for a reader who never opens code: plain sentences, numbers with their meaning, the
held-out test as the verdict. Pure functions (numbers in, HTML-escaped text out), so the report
(bluekit.report) only arranges them.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

# The baselines the summary compares with (bluekit.baselines' names).
RAW_HISTORY, LAST_ITEM = "raw history text", "last item"


def _e(text) -> str:
    return html.escape(str(text))


def p_in_words(p: float) -> str:
    """How often a difference this large turns up by chance alone, in words.

    >>> p_in_words(3e-9), p_in_words(0.0031), p_in_words(0.4)
    ('less than once in a million', 'about once in 320', 'about 40 times in 100')
    """
    if not np.isfinite(p):
        return "(no test)"
    if p < 1e-6:
        return "less than once in a million"
    if p < 0.05:
        return f"about once in {float(f'{1 / p:.2g}'):,.0f}"
    return f"about {max(5, round(p * 100))} times in 100"


def trained_sentence(cfg, run_info: dict, steps: int, n_items: int) -> str:
    """Sentence 1: what was trained, on what, for how long, towards what."""
    rewards = ", ".join(r.name for r in getattr(cfg.train, "rewards", []) or []) or "?"
    wall = run_info.get("total_wall_time_s") or run_info.get("wall_time_s")
    time = "" if not wall else f" ({wall / 60:.0f} minutes)" if wall >= 90 else f" ({wall:.0f} seconds)"
    users = run_info.get("train_users")
    who = f"{users} training users'" if users else "training users'"
    return (f"<b>What was trained:</b> the language model <b>{_e(cfg.profiler.model)}</b> learned, over "
            f"<b>{steps} GRPO steps</b>{time}, to write a short text profile from {who} purchase "
            f"histories, rewarded ({_e(rewards)}) when the profile's embedding lands near the item the "
            f"user bought next among the {n_items} items of the {_e(cfg.data.domain)} catalogue.")


def _rank(value) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.0f}"


def median_rank(result) -> float:
    ranks = result.per_user["rank"].to_numpy(dtype=float) if "rank" in result.per_user else []
    return float(np.median(ranks)) if len(ranks) else float("nan")


def held_out_sentence(test: dict | None, untrained, trained, n_items: int) -> str:
    """Sentence 2: did the held-out users' next items move up, and could it be chance?"""
    if test is None or untrained is None or trained is None:
        return ("<b>Held-out users:</b> these results hold no paired comparison of the trained and "
                "the untrained profiler on the same held-out users, so this report cannot say "
                "whether training helped.")
    a, b, p = test["mean_a"], test["mean_b"], test["p_value"]
    ranks = (f" (median rank of the next item {_rank(median_rank(untrained))} → "
             f"{_rank(median_rank(trained))} of {n_items})")
    chance = (f"if training had changed nothing, a difference this large would turn up by chance "
              f"{p_in_words(p)} (Wilcoxon signed-rank test, p = {p:.2g})")
    if p < 0.05:
        verdict = "moved <b>up</b>" if b > a else "moved <b>down</b> (worse)"
        return (f"<b>Held-out users:</b> for {test['n']} users the profiler never trained on, the item "
                f"each bought next {verdict}: MRR {a:.3f} → <b>{b:.3f}</b>{ranks}; {chance}.")
    return (f"<b>Held-out users:</b> for {test['n']} users the profiler never trained on, the item each "
            f"bought next did <b>not move measurably</b>: MRR {a:.3f} → {b:.3f}{ranks}; {chance}, so "
            "the difference may well be noise.")


def baselines_sentence(trained, baselines: dict) -> str:
    """Sentence 3: the trained profiler against raw history text and the last item (MRR)."""
    if trained is None or not baselines:
        return ("<b>Against simple baselines:</b> no baseline was evaluated on these users.")
    mine = float(trained.per_user["mrr"].mean())
    parts = []
    for name, what in ((RAW_HISTORY, "embedding the raw history text"),
                       (LAST_ITEM, "the last item bought alone")):
        if name in baselines:
            theirs = float(baselines[name].per_user["mrr"].mean())
            parts.append((mine > theirs, f"{what} (MRR {theirs:.3f})"))
    if not parts:
        return "<b>Against simple baselines:</b> no raw-history or last-item baseline in these results."
    first_beats = parts[0][0]
    text = ("beats " if first_beats else "falls short of ") + parts[0][1]
    if len(parts) > 1:
        same = parts[1][0] == first_beats
        text += (" and " if same else " but ") + ("" if same else
                                                  ("falls short of " if first_beats else "beats "))
        text += parts[1][1]
    return (f"<b>Against simple baselines</b> on the same users, the trained profiler (MRR {mine:.3f}) "
            f"{text}.")


def readable_sentence(untrained, trained) -> str | None:
    """Sentence 4, when measured: are the trained profiles still about the user? (rank can rise
    while profiles turn into descriptions of the next item: docs/READABILITY.md)

    >>> import pandas as pd
    >>> from bluekit.evaluate import MethodResult
    >>> u = MethodResult("u", pd.DataFrame({"item_description": [0.0] * 4}), {})
    >>> t = MethodResult("t", pd.DataFrame({"item_description": [1.0, 1.0, 1.0, 0.0]}), {})
    >>> readable_sentence(u, t).startswith("<b>Still user profiles?</b> <b>No</b>: 75% ")
    True
    """
    column = "item_description"
    if untrained is None or trained is None or column not in trained.per_user \
            or column not in untrained.per_user:
        return None
    mine, base = float(trained.per_user[column].mean()), float(untrained.per_user[column].mean())
    verdict = "<b>No</b>" if mine > base + 0.10 else "Yes"
    return (f"<b>Still user profiles?</b> {verdict}: {mine:.0%} of the trained profiler's held-out "
            f"profiles describe a product rather than the user (untrained: {base:.0%}); the readability "
            "columns below give the rest (repetition, fluency, the quiz).")


HOW_TO_READ = """
<div class="box" id="how-to-read"><b>How to read this report</b>
<ul>
<li><b>Rank</b>: sort all items by how close they are to a user's profile; the rank is where the item
the user really bought next lands (1 = first). <b>MRR</b> is the average of 1/rank (higher is better;
0.1 means the next item typically sits around the top 10). <b>NDCG@10</b> and <b>Recall@10</b> score
the top 10 only.</li>
<li><b>Held-out users</b> were never trained on: only they show whether the profiler learned something
general. <b>p</b> is the chance of a difference this large if training had changed nothing; below 0.05
is the usual bar.</li>
<li><b>Baselines</b>: <i>raw history text</i> embeds the list of bought titles directly, with no
profiler; <i>last item</i> recommends what is closest to the last item bought.</li>
<li><b>The map and the panel</b> further down follow a handful of users during training: they
illustrate, the held-out test above decides. On the map each user's bold arrow runs from the first
profile to the last; earlier steps are faint; green points mean the next item ranks near the top.</li>
</ul></div>
"""


def panel_caption(summary: dict, worse: int) -> str:
    """The panel's label: an illustration of a few users, with how many improved and worsened."""
    n = summary.get("users", 0)
    if not n:
        return ""
    same = n - summary["users_rank_improved"] - worse
    return (f"An illustration of <b>{n} held-out users</b>, not evidence: between the first and the "
            f"last snapshot the next item's rank improved for <b>{summary['users_rank_improved']}</b> and "
            f"got worse for <b>{worse}</b>" + (f" ({same} unchanged)" if same else "")
            + f". {n} users prove nothing either way; the held-out test at the top decides.")


def reward_falls_while_ranks_rise(metrics: pd.DataFrame, ranks_rose: bool) -> str | None:
    """A caption for the reward curves when the total reward falls over the last quarter of
    training (against the quarter before) while the held-out ranks rose; else None."""
    if not ranks_rose or "reward" not in metrics or "step" not in metrics:
        return None
    train = metrics[metrics["reward"].notna()]
    steps = pd.to_numeric(train["step"], errors="coerce")
    if len(train) < 8:
        return None
    hi = steps.max()
    third = train[(steps > hi * 0.5) & (steps <= hi * 0.75)]["reward"].mean()
    last = train[steps > hi * 0.75]["reward"].mean()
    if not last < third:
        return None
    return (f"The total reward fell over the last quarter of training ({third:.3f} → {last:.3f} on "
            "average) while the held-out ranks rose. That is not a contradiction: the reward is "
            "scored on each step's own batch of training users and sampled profiles (noisy, and "
            "pulled down by format penalties and harder users), while the held-out test measures "
            "greedy profiles of unseen users. The held-out test is the verdict.")
