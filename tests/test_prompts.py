"""bluekit.prompts: templates as data, history rendering (order, truncation, snippets), no target leak."""
import pandas as pd
import pytest

from bluekit import prompts
from bluekit.prompts import (HistoryRenderer, PromptTemplate, TemplateError, build_messages, get_template,
                             messages_for_examples, review_snippet)

PLAIN = PromptTemplate(system="sys", instruction="H:\n{history}\nmax {max_words}",
                       item_line="{title}|{rating}|{review}", max_words=10, review_chars=30, max_items=20)


def render_history(history, user, interactions, items, template):
    return HistoryRenderer(interactions, items, template).render(user, history)


def _world():
    items = pd.DataFrame({
        "item_id": ["i1", "i2", "i3", "i4", "target"],
        "title": ["Red Shoes", "Blue Hat", "Green Scarf", "Yellow Socks", "SECRET Target Jacket"],
        "category": ["Shoes", "Hats", "Scarves", "Socks", "Jackets"]})
    interactions = pd.DataFrame({
        "user_id": ["u1"] * 5 + ["u2"],
        "item_id": ["i1", "i2", "i3", "i4", "target", "i1"],
        "rating": [5.0, 4.0, 3.5, float("nan"), 5.0, 1.0],
        "timestamp": [1_600_000_000_000 + k for k in range(6)],
        "review_title": ["", "Nice hat", "", "", "", ""],
        "review_text": ["Very   comfortable\nfor long walks in the city and beyond", "", "Itchy.", "",
                        "SECRET review of the target", "Terrible"]})
    return interactions, items


def test_history_is_rendered_oldest_first_with_rating_and_review_of_this_user():
    interactions, items = _world()
    text = render_history(["i1", "i2", "i3", "i4"], "u1", interactions, items, PLAIN)
    assert text.split("\n") == [
        "Red Shoes|5|Very comfortable for long…",  # whitespace collapsed, cut at a word (30 chars)
        "Blue Hat|4|Nice hat",                            # review title when there is no text
        "Green Scarf|3.5|Itchy.",
        "Yellow Socks|?|"]                                # missing rating
    # Another user's rating/review of the same item; items may also be indexed by item id.
    assert render_history(["i1"], "u2", interactions, items.set_index("item_id"), PLAIN) == "Red Shoes|1|Terrible"


def test_review_snippet_is_capped_at_a_word_boundary():
    snippet = review_snippet("one two three four five six seven", 14)
    assert snippet == "one two three…"
    assert len(snippet) <= 15
    assert review_snippet("exactly ten", 11) == "exactly ten"
    assert review_snippet(None, 10) == "" and review_snippet(float("nan"), 10) == ""
    assert review_snippet("Supercalifragilistic", 5) == "Super…"  # one long word is cut inside


def test_max_items_keeps_the_most_recent():
    interactions, items = _world()
    template = prompts.with_overrides(PLAIN, max_items=2)
    text = render_history(["i1", "i2", "i3", "i4"], "u1", interactions, items, template)
    assert [line.split("|")[0] for line in text.split("\n")] == ["Green Scarf", "Yellow Socks"]


def test_token_budget_drops_the_oldest_lines_first(tiny_lm):
    _, tok = tiny_lm
    interactions, items = _world()
    history = ["i1", "i2", "i3", "i4"]
    full = HistoryRenderer(interactions, items, PLAIN, tok).lines("u1", history)
    costs = [len(tok(line, add_special_tokens=False)["input_ids"]) + 1 for line in full]
    budget = costs[-1] + costs[-2]  # room for exactly the two most recent lines
    renderer = HistoryRenderer(interactions, items, PLAIN, tok, token_budget=budget)
    assert renderer.lines("u1", history) == full[-2:]
    assert HistoryRenderer(interactions, items, PLAIN, tok, token_budget=budget - 1).lines("u1", history) == full[-1:]
    # Even a tiny budget keeps the most recent item.
    assert HistoryRenderer(interactions, items, PLAIN, tok, token_budget=1).lines("u1", history) == full[-1:]


def test_messages_for_examples_never_show_the_target():
    interactions, items = _world()
    examples = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["target", "i2"],
                             "rating": [5.0, 3.0], "timestamp": [0, 0],
                             "history": [["i1", "i2", "i3"], ["i1"]]})
    messages = messages_for_examples(examples, interactions, items, "default")
    assert len(messages) == 2
    assert [m["role"] for m in messages[0]] == ["system", "user"]
    first_prompt = messages[0][1]["content"]
    assert "SECRET" not in first_prompt
    assert first_prompt.index("Red Shoes") < first_prompt.index("Blue Hat") < first_prompt.index("Green Scarf")
    assert "at most 60 words" in first_prompt
    assert "Blue Hat" not in messages[1][1]["content"]  # u2's target is not in u2's prompt


def test_merge_system_folds_the_system_text_into_the_user_turn():
    merged = build_messages("- Boots", "default", merge_system=True)
    assert len(merged) == 1 and merged[0]["role"] == "user"
    assert merged[0]["content"].startswith(get_template("default").system)
    assert "- Boots" in merged[0]["content"]


def test_templates_load_by_name_and_path_and_unknown_names_list_the_choices(tmp_path):
    assert {"default", "keywords"} <= set(prompts.available_templates())
    default = get_template("default")
    assert default.name == "default" and "{history}" in default.instruction
    assert get_template("keywords").max_words != default.max_words
    path = tmp_path / "mine.yaml"
    path.write_text("system: s\ninstruction: 'Items: {history} ({max_words} words)'\n"
                    "item_line: '* {title} on {date}'\nmax_words: 7\n")
    mine = get_template(path)
    assert mine.name == "mine" and mine.max_words == 7
    interactions, items = _world()
    assert render_history(["i1"], "u1", interactions, items, mine) == "* Red Shoes on 2020-09-13"
    with pytest.raises(TemplateError, match=r"unknown prompt template 'nope'.*default.*keywords"):
        get_template("nope")


def test_malformed_templates_are_rejected_with_the_file_and_key(tmp_path):
    bad_key = tmp_path / "bad_key.yaml"
    bad_key.write_text("system: s\ninstruction: '{history}'\nitem_line: '{title}'\ncolour: red\n")
    with pytest.raises(TemplateError, match=r"bad_key.yaml.*'colour'"):
        get_template(bad_key)
    bad_field = tmp_path / "bad_field.yaml"
    bad_field.write_text("system: s\ninstruction: '{history}'\nitem_line: '{price}'\n")
    with pytest.raises(TemplateError, match=r"bad_field.yaml.*'item_line'.*price"):
        get_template(bad_field)
    no_history = tmp_path / "no_history.yaml"
    no_history.write_text("system: s\ninstruction: 'nothing'\nitem_line: '{title}'\n")
    with pytest.raises(TemplateError, match=r"no_history.yaml.*instruction.*\{history\}"):
        get_template(no_history)
