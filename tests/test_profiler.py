"""bluekit.profiler: batched generation keeps order, is seeded, and ignores batching; cleaning."""
import pandas as pd
import torch

from bluekit.config import ProfilerConfig
from bluekit.profiler import clean_profile, generate_profiles, profiles_for_examples
from bluekit.prompts import supports_system_role

MESSAGES = [[{"role": "system", "content": "Write a profile."},
             {"role": "user", "content": "likes " + "warm winter jackets " * k + "shoes"}]
            for k in range(7)]


def _one_by_one(model, tok, messages, **kwargs):
    return [generate_profiles(model, tok, [m], batch_size=1, show_progress=False, **kwargs)[0]
            for m in messages]


def test_greedy_profiles_keep_order_and_do_not_depend_on_batch_size(tiny_lm):
    model, tok = tiny_lm
    batched = generate_profiles(model, tok, MESSAGES, max_new_tokens=8, batch_size=3, show_progress=False)
    assert len(batched) == len(MESSAGES)
    assert len(set(batched)) > 1  # the prompts lead to different texts
    assert batched == _one_by_one(model, tok, MESSAGES, max_new_tokens=8)
    assert batched == generate_profiles(model, tok, MESSAGES, max_new_tokens=8, batch_size=16,
                                        show_progress=False)


def test_greedy_profile_is_the_argmax_continuation_without_the_prompt(tiny_lm):
    model, tok = tiny_lm
    text = tok.apply_chat_template(MESSAGES[2], tokenize=False, add_generation_prompt=True)
    ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        for _ in range(5):  # hand-rolled greedy decoding
            next_id = model(ids).logits[0, -1].argmax()
            ids = torch.cat([ids, next_id.view(1, 1)], dim=1)
    expected = clean_profile(tok.decode(ids[0, -5:], skip_special_tokens=True))
    assert generate_profiles(model, tok, [MESSAGES[2]], max_new_tokens=5, show_progress=False) == [expected]


def test_sampling_is_seeded_and_independent_of_batching(tiny_lm):
    model, tok = tiny_lm
    kwargs = dict(max_new_tokens=8, temperature=1.0, show_progress=False)
    first = generate_profiles(model, tok, MESSAGES, batch_size=2, seed=7, **kwargs)
    assert first == generate_profiles(model, tok, MESSAGES, batch_size=5, seed=7, **kwargs)
    assert first == generate_profiles(model, tok, MESSAGES, batch_size=1, seed=7, **kwargs)
    assert first != generate_profiles(model, tok, MESSAGES, batch_size=2, seed=8, **kwargs)
    greedy = generate_profiles(model, tok, MESSAGES, max_new_tokens=8, show_progress=False)
    assert first != greedy
    # A tiny top_p keeps only the most likely token: sampling becomes greedy.
    assert generate_profiles(model, tok, MESSAGES, seed=7, top_p=1e-6, **kwargs) == greedy


def test_generation_restores_training_mode_and_leaves_no_grad(tiny_lm):
    model, tok = tiny_lm
    model.train()
    try:
        generate_profiles(model, tok, MESSAGES[:2], max_new_tokens=2, show_progress=False)
        assert model.training
    finally:
        model.eval()
    assert all(p.grad is None for p in model.parameters())


def test_works_with_a_peft_wrapped_model():
    from peft import LoraConfig, get_peft_model

    from bluekit.llm import build_tiny_model
    model, tok = build_tiny_model(seed=0)  # its own copy: PEFT wraps the model in place
    before = generate_profiles(model, tok, MESSAGES[:3], max_new_tokens=6, show_progress=False)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    # LoRA B starts at zero, so the wrapped model generates exactly what the base did.
    assert generate_profiles(peft_model, tok, MESSAGES[:3], max_new_tokens=6, show_progress=False) == before


def test_profiles_for_examples_uses_the_config_and_hides_the_target(tiny_lm):
    model, tok = tiny_lm
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["Boots", "Gloves", "Target"],
                          "category": ["x"] * 3})
    interactions = pd.DataFrame({"user_id": ["u"] * 3, "item_id": ["a", "b", "c"], "rating": [5.0, 4.0, 3.0],
                                 "timestamp": [1, 2, 3], "review_title": [""] * 3,
                                 "review_text": ["warm", "cosy", ""]})
    examples = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["c", "b"], "rating": [3.0, 4.0],
                             "timestamp": [3, 2], "history": [["a", "b"], ["a"]]})
    cfg = ProfilerConfig(model="tiny", max_new_tokens=6, generation_batch_size=1)
    profiles = profiles_for_examples(model, tok, examples, interactions, items, cfg, show_progress=False)
    assert len(profiles) == 2
    from bluekit.prompts import build_messages, get_template
    expected_first = generate_profiles(model, tok, [build_messages(
        '- Boots (rated 5/5): "warm"\n- Gloves (rated 4/5): "cosy"', get_template("default"))],
        max_new_tokens=6, show_progress=False)
    assert profiles[0] == expected_first[0]


def test_supports_system_role(tiny_lm):
    _, tok = tiny_lm
    assert supports_system_role(tok)

    class NoSystem:
        def apply_chat_template(self, messages, **kwargs):
            if messages[0]["role"] == "system":
                raise ValueError("System role not supported")
            return ""
    assert not supports_system_role(NoSystem())


def test_clean_profile_strips_labels_quotes_and_whitespace():
    assert clean_profile("Profile: A hiker.") == "A hiker."
    assert clean_profile("Assistant: 'Profile: likes tea'") == "likes tea"
    assert clean_profile("“Budget gamer”") == "Budget gamer"
    assert clean_profile('"Cut off by the token lim') == "Cut off by the token lim"
    assert clean_profile("  \n ") == ""
    assert clean_profile("A user who loves profile: shots") == "A user who loves profile: shots"
