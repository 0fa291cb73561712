"""bluekit.rewards: hand-computed values, good-above-bad rankings, the TRL contract, the registry."""
import doctest
import logging
import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from bluekit.config import RewardSpec
from bluekit.rewards import (HashingEmbedder, InfoNCE, ItemsToProfile, LengthFormat, NextItemMCQ,
                             Reward, RewardContext, RewardError, build_reward, build_reward_funcs,
                             completion_text, make_batch, registered_names, resolve,
                             score_profiles, toy_context)
from bluekit.rewards.core import TOY_CATALOGUE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GOOD = "loves waterproof hiking boots and trail gear"
BAD = "likes things"
OTHER = "cooks every day with a sharp chef's knife and a frying pan"

CATALOGUE = {
    "boots": "Waterproof leather hiking boots",
    "tent": "Lightweight two person camping tent",
    "knife": "Stainless steel chef's kitchen knife",
    "pan": "Non-stick frying pan",
    "novel": "Romance novel paperback",
    "earbuds": "Wireless bluetooth earbuds",
    "yoga": "Yoga mat",
    "lipstick": "Matte red lipstick",
    "blender": "High speed kitchen blender",
    "dogbed": "Orthopedic dog bed",
}
EMBEDDING_REWARDS = {
    "infonce": {"num_negatives": 5},
    "items_to_profile": {},
    "bidirectional_infonce": {"num_negatives": 5},
    "cosine": {},
    "rank_reward": {"metric": "mrr"},
}


def messages(text):
    return [{"role": "assistant", "content": text}]


class FixedEmbedder:
    """Maps known texts to given vectors (hand-computed tests); counts encode calls."""

    def __init__(self, table):
        self.table = {k: np.asarray(v, dtype=np.float32) for k, v in table.items()}
        self.calls = 0

    def encode_queries(self, texts):
        self.calls += 1
        return np.stack([self.table[t] for t in texts])


@pytest.fixture(scope="module")
def minilm_ctx(embedder):
    return RewardContext.from_texts(embedder, list(CATALOGUE), list(CATALOGUE.values()))


def angle(deg):
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def plane_ctx(profiles):
    """Items at 0, 90 and 180 degrees in the plane; profiles at the given angles."""
    items = np.array([angle(0), angle(90), angle(180)], dtype=np.float32)
    embedder = FixedEmbedder({name: angle(deg) for name, deg in profiles.items()})
    return RewardContext(embedder, ["a", "b", "c"], items, ["item a", "item b", "item c"], strict=True)


# --------------------------------------------------------------------------- real embedder

@pytest.mark.parametrize("name", sorted(EMBEDDING_REWARDS))
def test_each_embedding_reward_prefers_the_specific_profile_with_minilm(minilm_ctx, name):
    reward = resolve(name)(minilm_ctx, **EMBEDDING_REWARDS[name])
    good, bad, _ = reward(completions=[messages(GOOD), messages(BAD), messages(OTHER)],
                          positive=["boots", "boots", "knife"], user_id=["u1", "u1", "u2"])
    assert good > bad


def test_length_format_prefers_the_specific_profile():
    good, bad = LengthFormat(None, min_words=5)(completions=[GOOD + ".", BAD])
    assert good == 0.0 and bad < good


def test_hard_negatives_are_the_items_nearest_the_positive(minilm_ctx):
    rows = minilm_ctx.nearest_items(minilm_ctx.item_row("knife"), 3)
    sims = minilm_ctx.item_vecs @ minilm_ctx.item_vecs[minilm_ctx.item_row("knife")]
    expected = [r for r in np.argsort(-sims) if r != minilm_ctx.item_row("knife")][:3]
    assert list(rows) == expected
    assert {minilm_ctx.item_ids[r] for r in rows} & {"pan", "blender"}


def test_new_item_vectors_refresh_the_hard_negatives():
    ctx = plane_ctx({})
    assert list(ctx.nearest_items(0, 1)) == [1]  # a's nearest: b (90 deg) before c (180 deg)
    ctx.set_item_vecs(np.array([angle(0), angle(180), angle(20)]))
    assert list(ctx.nearest_items(0, 1)) == [2]


# --------------------------------------------------------------------------- hand-computed values

def test_infonce_equals_the_hand_computed_log_softmax():
    ctx = plane_ctx({"p": 30})
    s = np.array([math.cos(math.radians(30)), math.sin(math.radians(30)), -math.cos(math.radians(30))])
    tau = 0.5
    expected = s[0] / tau - math.log(np.exp(s / tau).sum())
    for negatives in ("sampled", "hard"):  # with 2 negatives both are "every other item"
        r = InfoNCE(ctx, tau=tau, num_negatives=2, negatives=negatives)(completions=["p"],
                                                                        positive=["a"])
        assert r[0] == pytest.approx(expected, abs=1e-6)
    scaled = InfoNCE(ctx, tau=tau, num_negatives=2, scale_by_tau=True)(completions=["p"], positive=["a"])
    assert scaled[0] == pytest.approx(tau * expected, abs=1e-6)


def test_in_batch_negatives_are_other_users_positives_only():
    ctx = plane_ctx({"p1": 30, "p2": 60, "q": 120})
    reward = InfoNCE(ctx, tau=0.5, negatives="in_batch")
    # u1 has two generations (positive a); u2's positive is b.
    kwargs = dict(completions=["p1", "p2", "q"], positive=["a", "a", "b"], user_id=["u1", "u1", "u2"])
    batch_negs = reward.negative_rows(make_batch(**kwargs))
    assert [list(n) for n in batch_negs] == [[1], [1], [0]]
    values = reward(**kwargs)
    s_a, s_b = np.cos(np.radians(30)), np.cos(np.radians(60))  # profile p1 vs items a, b
    assert values[0] == pytest.approx(s_a / 0.5 - np.logaddexp(s_a / 0.5, s_b / 0.5), abs=1e-6)
    # Two users sharing the positive are no negatives for each other; then s_pos / tau.
    alone = reward(completions=["p1", "q"], positive=["a", "a"], user_id=["u1", "u2"])
    assert alone[0] == pytest.approx(s_a / 0.5, abs=1e-6)


def test_exclude_history_keeps_the_users_own_items_out_of_the_negatives():
    ctx = plane_ctx({"p": 30})
    reward = InfoNCE(ctx, tau=0.5, num_negatives=2, exclude_history=True)
    value = reward(completions=["p"], positive=["a"], history=[["b", "not-in-catalogue"]])[0]
    s = np.cos(np.radians([30, 210]))  # profile vs a (positive) and c (the only negative left)
    assert value == pytest.approx(s[0] / 0.5 - np.logaddexp(*(s / 0.5)), abs=1e-6)


def test_items_to_profile_excludes_same_user_generations_and_picks_the_right_user():
    ctx = plane_ctx({"p1": 10, "p2": 80, "q": 170})
    reward = ItemsToProfile(ctx, tau=0.5)
    values = reward(completions=["p1", "p2", "q"], positive=["a", "a", "c"], user_id=["u1", "u1", "u2"])
    cos = lambda d: math.cos(math.radians(d))  # noqa: E731
    # Row 0: item a against p1 (own) and q (other user); p2 (same user) stays out.
    expected0 = cos(10) / 0.5 - np.logaddexp(cos(10) / 0.5, cos(170) / 0.5)
    # Row 2: item c (180 deg) against q (own, 10 deg away), p1 and p2 (170 and 100 deg away).
    expected2 = cos(10) / 0.5 - math.log(sum(math.exp(cos(d) / 0.5) for d in (10, 170, 100)))
    assert values[0] == pytest.approx(expected0, abs=1e-6)
    assert values[2] == pytest.approx(expected2, abs=1e-6)
    # The right assignment of profiles scores higher than the swapped one.
    right = reward(completions=["p1", "q"], positive=["a", "c"], user_id=["u1", "u2"])
    swapped = reward(completions=["q", "p1"], positive=["a", "c"], user_id=["u1", "u2"])
    assert min(right) > max(swapped)
    # One user only: no denominator, s_pos / tau.
    assert reward(completions=["p1"], positive=["a"])[0] == pytest.approx(cos(10) / 0.5, abs=1e-6)


def test_items_to_profile_picks_its_users_profile_with_minilm(minilm_ctx):
    reward = ItemsToProfile(minilm_ctx)
    right = reward(completions=[GOOD, OTHER], positive=["boots", "knife"], user_id=["u1", "u2"])
    swapped = reward(completions=[OTHER, GOOD], positive=["boots", "knife"], user_id=["u1", "u2"])
    assert right[0] > swapped[0] and right[1] > swapped[1]


def test_rank_reward_mrr_and_ndcg_from_hand_ranks():
    ctx = plane_ctx({"p": 30})  # a ranks 1st, b 2nd, c 3rd
    for pos, rank in (("a", 1), ("b", 2), ("c", 3)):
        mrr = resolve("rank_reward")(ctx, metric="mrr")(completions=["p"], positive=[pos])[0]
        ndcg = resolve("rank_reward")(ctx, metric="ndcg")(completions=["p"], positive=[pos])[0]
        assert mrr == pytest.approx(1 / rank) and ndcg == pytest.approx(1 / math.log2(rank + 1))


def test_rank_reward_masks_history_items_from_the_candidates():
    ctx = plane_ctx({"p": 30})  # a ranks 1st, b 2nd, c 3rd
    masked = resolve("rank_reward")(ctx, mask_history=True)
    # a and b bought before: c is the best candidate left; the positive itself is never masked
    assert masked(completions=["p"], positive=["c"], history=[["a", "b"]]) == [1.0]
    assert masked(completions=["p"], positive=["b"], history=[["b"]]) == [0.5]
    sampled = resolve("rank_reward")(ctx, candidates="sampled", num_candidates=3, mask_history=True)
    assert sampled(completions=["p"], positive=["c"], history=[["a", "b"]]) == [1.0]
    with pytest.raises(RewardError, match="history"):
        masked(completions=["p"], positive=["c"])


# --------------------------------------------------------------------------- the TRL contract

ODD_TEXTS = ["", "boots " * 5000, "Wanderstiefel für Bergtouren, 登山靴 🥾", None]


def all_rewards(ctx):
    names = sorted(EMBEDDING_REWARDS) + ["length_format", "next_item_mcq"]
    return [resolve(n)(ctx, **EMBEDDING_REWARDS.get(n, {})) for n in names]


def test_odd_text_gives_finite_values_and_message_and_string_forms_agree(tiny_lm):
    ctx = toy_context(reader=tiny_lm, strict=True)  # strict: a failure would raise here
    texts = ["Loves hiking boots.", "Likes things.", *ODD_TEXTS[:3]]
    columns = dict(positive=["boots", "boots", "knife", "knife", "tent"],
                   user_id=["u1", "u1", "u2", "u2", "u3"])
    for reward in all_rewards(ctx):
        as_strings = reward(completions=texts, **columns)
        as_messages = reward(completions=[messages(t) for t in texts], **columns)
        assert as_strings == as_messages, reward.__name__
        with_none = [messages(None) if t == "" else messages(t) for t in texts]
        assert reward(completions=with_none, **columns) == as_strings, reward.__name__  # None = ""
        assert all(math.isfinite(v) for v in as_strings), reward.__name__
    assert completion_text(messages(None)) == "" and completion_text({"content": "x"}) == "x"


def test_odd_text_is_finite_with_minilm(minilm_ctx):
    reward = InfoNCE(minilm_ctx, num_negatives=5)
    values = reward(completions=[messages(t) for t in ODD_TEXTS], positive=["boots"] * 4)
    assert all(math.isfinite(v) for v in values)


def test_profiles_are_encoded_in_one_batch_per_call():
    ctx = plane_ctx({"p1": 10, "p2": 80, "q": 170})
    for name in ("infonce", "bidirectional_infonce", "rank_reward", "cosine", "items_to_profile"):
        ctx.embedder.calls = 0
        reward = resolve(name)(ctx, **({"num_negatives": 2} if "infonce" in name else {}))
        reward(completions=["p1", "p2", "q"], positive=["a", "a", "c"], user_id=["u1", "u1", "u2"])
        assert ctx.embedder.calls == 1, name


def test_diagnostics_reach_trls_log_metric_hook(tiny_lm):
    logged = {}
    ctx = toy_context(reader=tiny_lm, strict=True)
    columns = dict(positive=["boots", "knife"], user_id=["u1", "u2"],
                   log_metric=lambda name, value: logged.__setitem__(name, value))
    resolve("cosine")(ctx)(completions=["hiking boots", "espresso"], **columns)
    NextItemMCQ(ctx)(completions=["hiking boots", "espresso"], **columns)
    assert logged["cosine/cos_pos"] == pytest.approx((2 / math.sqrt(12) + 0.0) / 2, abs=1e-6)
    assert logged["next_item_mcq/accuracy"] in (0.0, 0.5, 1.0)


def test_programming_errors_raise_clearly():
    reward = InfoNCE(toy_context())
    with pytest.raises(RewardError, match="no completions"):
        reward(completions=[], positive=[])
    with pytest.raises(RewardError, match=r"'user_id' has 1 rows but there are 2 completions"):
        reward(completions=["a", "b"], positive=["boots", "boots"], user_id=["u1"])
    with pytest.raises(RewardError, match="needs the dataset column 'positive'"):
        reward(completions=["a"])
    with pytest.raises(KeyError, match="'nope' is not in the reward catalogue"):
        reward(completions=["a"], positive=["nope"])
    with pytest.raises(RewardError, match="needs a RewardContext"):
        InfoNCE(None)
    with pytest.raises(RewardError, match=r"num_choices must lie in 2\.\.8"):
        NextItemMCQ(toy_context(), num_choices=9)


def test_a_failing_batch_scores_the_floor_and_warns_once(caplog):
    class Broken(HashingEmbedder):
        def encode_queries(self, texts):
            raise RuntimeError("out of memory")

    ctx = toy_context()
    ctx.embedder = Broken()
    reward = InfoNCE(ctx, tau=0.1, num_negatives=3)
    with caplog.at_level(logging.WARNING, logger="bluekit.rewards"):
        first = reward(completions=["a", "b"], positive=["boots", "boots"])
        reward(completions=["a"], positive=["boots"])
    assert first == [reward.floor] * 2 and math.isfinite(reward.floor) and reward.floor < -20
    assert len([r for r in caplog.records if "out of memory" in r.message]) == 1
    ctx.strict = True
    with pytest.raises(RuntimeError):
        reward(completions=["a"], positive=["boots"])
    ctx.embedder = HashingEmbedder(dim=8)  # a set-up mistake is loud even when not strict
    ctx.strict = False
    with pytest.raises(RewardError, match="item vectors have dim 256"):
        reward(completions=["a"], positive=["boots"])


def test_sampled_negatives_are_shared_by_a_users_generations_and_change_with_the_step():
    reward = InfoNCE(toy_context(), num_negatives=3)
    batch = make_batch(["x", "y", "z"], positive=["boots"] * 3, user_id=["u1", "u1", "u2"])
    negs = reward.negative_rows(batch)
    assert list(negs[0]) == list(negs[1]) and all(0 not in n for n in negs)

    class State:
        def __init__(self, step):
            self.global_step = step
    later = [list(reward.negative_rows(make_batch(["x"], trainer_state=State(step), positive=["boots"],
                                                  user_id=["u1"]))[0]) for step in range(1, 6)]
    assert any(draw != list(negs[0]) for draw in later)  # a new step draws anew
    assert list(reward.negative_rows(batch)[0]) == list(negs[0])  # same inputs, same draw


# --------------------------------------------------------------------------- text-space reward

def test_next_item_mcq_gives_a_distribution_over_the_options(tiny_lm):
    ctx = toy_context(reader=tiny_lm, strict=True)
    reward = NextItemMCQ(ctx, num_choices=3)
    columns = dict(positive=["boots", "knife"], user_id=["u1", "u2"])
    texts = ["Loves waterproof hiking boots.", "Cooks a lot and camps on weekends " * 3]
    dists = reward.distribution(texts, **columns)
    _, answers = reward.questions(make_batch(texts, **columns))
    for dist in dists:
        assert dist.shape == (3,) and np.all((dist >= 0) & (dist <= 1)) and dist.sum() == pytest.approx(1)
    probs = reward(completions=texts, **columns)
    assert probs == pytest.approx([dists[0][answers[0]], dists[1][answers[1]]])
    correct = NextItemMCQ(ctx, num_choices=3, mode="correct")(completions=texts, **columns)
    assert correct == [float(np.argmax(d) == a) for d, a in zip(dists, answers)]
    # Left padding does not change a profile's answer: alone == inside a batch with a longer one.
    alone = reward.distribution(texts[:1], positive=["boots"], user_id=["u1"])
    assert alone[0] == pytest.approx(dists[0], abs=1e-5)


def test_next_item_mcq_draws_num_choices_per_step_and_user_avoiding_the_history(tiny_lm):
    reward = NextItemMCQ(toy_context(reader=tiny_lm), num_choices=5)
    columns = dict(positive=["boots", "boots", "knife"], user_id=["u1", "u1", "u2"],
                   history=[["socks", "tent"], ["socks", "tent"], []])
    titles, answers = reward.questions(make_batch(["a", "b", "c"], **columns))
    assert titles[0] == titles[1] and len(titles[0]) == 5 and len(set(titles[0])) == 5
    assert titles[0][answers[0]] == TOY_CATALOGUE["boots"]
    assert titles[2][answers[2]] == TOY_CATALOGUE["knife"]
    assert not {TOY_CATALOGUE["socks"], TOY_CATALOGUE["tent"]} & set(titles[0])  # not had before

    class State:
        def __init__(self, step):
            self.global_step = step
    drawn = {tuple(reward.questions(make_batch(["a"], trainer_state=State(step), positive=["knife"],
                                               user_id=["u2"]))[0][0]) for step in range(6)}
    assert len(drawn) > 1  # a new step asks a new question


def test_the_reader_loads_lazily_once_per_model_and_failures_are_loud(tiny_lm):
    calls = []

    def factory(spec):
        calls.append(spec)
        if spec == "broken":
            raise OSError("no such model")
        return tiny_lm
    ctx = toy_context(reader_factory=factory)
    reward = NextItemMCQ(ctx)
    assert calls == []
    reward(completions=["x"], positive=["boots"])
    reward(completions=["y"], positive=["boots"])
    NextItemMCQ(ctx, reader="other")(completions=["y"], positive=["boots"])
    assert calls == [None, "other"]  # the default reader once, a configured reader once
    with pytest.raises(RewardError, match="reader LLM broken could not be loaded.*no such model"):
        NextItemMCQ(ctx, reader="broken")(completions=["y"], positive=["boots"])


# --------------------------------------------------------------------------- length/format

def test_length_format_orders_empty_below_flawed_below_clean():
    prompt = [{"role": "user", "content": "History:\n- Waterproof leather hiking boots for trail "
                                          "walking (5 stars)\nWrite a profile."}]
    reward = LengthFormat(None, min_words=5, max_completion_tokens=16)
    clean = "Enjoys long hikes and buys sturdy outdoor footwear and warm layers."
    texts = {
        "empty": "",
        "cut_off": "Enjoys long hikes and buys sturdy outdoor footwear and warm",
        "repetitive": "hikes boots hikes boots hikes boots hikes boots hikes boots hikes boots.",
        "copying": "Bought waterproof leather hiking boots for trail walking.",
        "clean": clean,
    }
    ids = {"cut_off": [0] * 16}  # hit the cap
    values = dict(zip(texts, reward(prompts=[prompt] * 5, completions=list(texts.values()),
                                    completion_ids=[ids.get(k, [0] * 12) for k in texts])))
    assert values["clean"] == 0.0 and values["empty"] == -1.0
    for flawed in ("cut_off", "repetitive", "copying"):
        assert values["empty"] < values[flawed] < values["clean"], flawed
    # The same unpunctuated text that stopped before the cap (EOS) is not cut off.
    stopped = reward(prompts=[prompt], completions=[texts["cut_off"]], completion_ids=[[0] * 9])
    assert stopped == [0.0]
    assert all(-1.0 <= v <= 0.0 for v in reward(completions=[t for t in ODD_TEXTS]))


def test_length_format_counts_too_short_and_too_long():
    reward = LengthFormat(None, min_words=10, max_words=20)
    def distinct_words(n):
        return " ".join(f"word{i}" for i in range(n)) + "."
    short, ok, long = reward(completions=[distinct_words(5), distinct_words(15), distinct_words(30)])
    assert short == pytest.approx(-0.3 * 5 / 10) and ok == 0.0 and long == pytest.approx(-0.3 * 10 / 20)


# --------------------------------------------------------------------------- registry

def test_registry_by_name_dotted_path_and_unknown(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    assert {"infonce", "items_to_profile", "bidirectional_infonce", "cosine", "rank_reward",
            "next_item_mcq", "length_format"} <= set(registered_names())
    assert resolve("infonce") is InfoNCE
    specs = [RewardSpec("infonce", 1.0, {"tau": 0.1, "num_negatives": 3}),
             RewardSpec("my_rewards.KeywordBonus", 0.2, {"keywords": ["hiking", "boots"]}),
             RewardSpec("infonce", 0.5, {"negatives": "hard", "num_negatives": 2}),
             RewardSpec("my_rewards.brevity", 0.1), RewardSpec("my_rewards.title_overlap", 0.3)]
    funcs, weights = build_reward_funcs(specs, toy_context())
    names = [f.__name__ for f in funcs]
    assert names == ["infonce", "keyword_bonus", "infonce_2", "brevity", "title_overlap"]
    assert weights == [1.0, 0.2, 0.5, 0.1, 0.3]
    assert funcs[1](completions=["hiking boots", "boots", "pans"]) == [1.0, 0.5, 0.0]
    assert funcs[3](completions=["two words"]) == [-0.04]  # a plain TRL function, as it is
    assert funcs[4](completions=["hiking boots"], positive=["boots"])[0] > 0  # ctx passed in
    with pytest.raises(RewardError, match=r"unknown reward 'infonse'.*'cosine'.*'infonce'"):
        resolve("infonse")
    with pytest.raises(RewardError, match="cannot import module 'no_such_module'"):
        resolve("no_such_module.reward")
    with pytest.raises(RewardError, match="bad params"):
        build_reward_funcs([RewardSpec("infonce", 1.0, {"temperature": 0.1})], toy_context())
    with pytest.raises(RewardError, match="bad params"):
        build_reward("my_rewards.title_overlap", toy_context(), {"scale": 2})


def test_a_reward_subclass_and_trls_factories_need_no_boilerplate():
    class TitleWords(Reward):  # no name, no factory: named title_words in logs and configs
        def __init__(self, ctx=None, bonus: float = 1.0):
            super().__init__(ctx)
            self.bonus = bonus

        def score(self, batch):
            return [self.bonus * len(text.split()) for text in batch.texts]
    reward = TitleWords(bonus=2.0)
    assert reward.__name__ == "title_words" and reward(completions=["a b"]) == [4.0]
    overlong = build_reward("trl.rewards.get_soft_overlong_punishment", None,
                            {"max_completion_len": 10, "soft_punish_cache": 5})
    assert overlong(completion_ids=[[1] * 4, [1] * 10]) == [0.0, -1.0]


def test_reward_funcs_pickle_and_keep_their_values():
    funcs, _ = build_reward_funcs([RewardSpec("bidirectional_infonce", 1.0, {"num_negatives": 3}),
                                   RewardSpec("length_format")], toy_context())
    kwargs = dict(completions=["Loves hiking boots.", "Likes things."], positive=["boots", "knife"],
                  user_id=["u1", "u2"])
    for func in funcs:
        clone = pickle.loads(pickle.dumps(func))
        assert clone.__name__ == func.__name__ and clone(**kwargs) == func(**kwargs)


def test_score_profiles_sums_the_weighted_rewards_raw_or_normalised():
    ctx = toy_context()
    specs = [RewardSpec("cosine", 1.0), RewardSpec("length_format", 0.5, {"min_words": 3})]
    texts = ["Loves hiking boots and trail walking.", "Likes things", ""]
    table = score_profiles(texts, {"user_id": "u1", "positive": "boots"}, ctx, specs)
    assert list(table.columns) == ["user_id", "profile", "cosine", "length_format", "total"]
    assert np.allclose(table["total"], table["cosine"] + 0.5 * table["length_format"])
    assert table["total"].idxmax() == 0 and table["total"].idxmin() == 2


def test_normalised_weights_mean_what_they_say_and_change_the_ranking():
    """In nats InfoNCE swamps a [0, 1] reward; normalised within the user's rows, a weight
    counts the same for both, so raising the second reward's weight reorders the profiles."""
    ctx = toy_context()
    texts = ["Buys hiking boots.", "Buys hiking boots and walking gear, prefers leather trail styles."]
    row = {"user_id": "u1", "positive": "boots"}
    def ranking(aggregation, weight):
        specs = [RewardSpec("infonce", 1.0, {"tau": 0.05, "num_negatives": 7}),
                 RewardSpec("my_rewards.brevity", weight)]
        return score_profiles(texts, row, ctx, specs, aggregation)["total"].tolist()
    raw_low, raw_high = ranking("sum_then_normalize", 0.5), ranking("sum_then_normalize", 2.0)
    assert (raw_low[0] > raw_low[1]) == (raw_high[0] > raw_high[1])  # nats swamp the brevity term
    norm_low, norm_high = ranking("normalize_then_sum", 0.5), ranking("normalize_then_sum", 2.0)
    assert norm_low[1] > norm_low[0] and norm_high[0] > norm_high[1]  # the weight decides


# --------------------------------------------------------------------------- item metadata

def test_rewards_see_item_metadata_through_ctx_and_the_positive_columns(monkeypatch):
    """A reward can read the next item's category: from the positive_* columns (what training
    rows carry) or from ctx.items; the example names_category reward scores with either."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    ctx = toy_context()
    assert ctx.item("tent")["categories"] == ["Sports & Outdoors", "Camping", "Tents"]
    assert ctx.item("tent")["average_rating"] == 4.5 and ctx.item("tent")["price"] == 30.0
    assert ctx.items["item_id"].tolist() == ctx.item_ids
    rows = [{"user_id": "u1", "positive": "tent",
             "positive_categories": ctx.item("tent")["categories"]}] * 3
    table = score_profiles(["Goes camping and owns two tents.", "Loves hiking boots.", ""],
                           rows, ctx, [RewardSpec("cat_rewards.names_category", 1.0)])
    assert table["names_category"].tolist() == [1.0, 0.0, 0.0]
    # a context without a table says what is missing; a misaligned table is refused
    bare = RewardContext(ctx.embedder, ctx.item_ids, ctx.item_vecs, ctx.item_titles)
    with pytest.raises(RewardError, match="no items table"):
        bare.item("tent")
    with pytest.raises(RewardError, match="order of item_ids"):
        RewardContext(ctx.embedder, ctx.item_ids, ctx.item_vecs, ctx.item_titles,
                      items=ctx.items.iloc[::-1])
    assert pickle.loads(pickle.dumps(ctx)).item("tent")["price"] == ctx.item("tent")["price"]


# --------------------------------------------------------------------------- docs run

def test_the_example_rewards_docstrings_run():
    """examples/ is outside --doctest-modules' reach (the package's own doctests run there)."""
    import importlib
    import sys
    sys.path.insert(0, str(EXAMPLES))
    try:
        for name in ("my_rewards", "cat_rewards"):
            result = doctest.testmod(importlib.import_module(name))
            assert result.failed == 0 and result.attempted > 0, name
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.mark.parametrize("preset", ["cpu-demo", "langptune-cpu", "rlpf-cpu"])
def test_preset_rewards_build_and_score_a_toy_batch(preset, tiny_lm):
    from bluekit.config import load_config

    funcs, weights = build_reward_funcs(load_config(preset).train.rewards,
                                        toy_context(reader=tiny_lm, strict=True))
    columns = dict(positive=["boots", "knife"], user_id=["u1", "u2"], history=[["socks"], ["tent"]])
    for func in funcs:
        values = func(completions=["The user hikes in wet weather.", "Likes knives and"], **columns)
        assert len(values) == 2 and all(math.isfinite(v) for v in values), func.__name__
    assert len(weights) == len(funcs)
