"""Prompt templates (YAML data a researcher can change) and rendering a user's history into chat messages.

    template = get_template("default")                       # bluekit/prompt_templates/default.yaml
    renderer = HistoryRenderer(interactions, items, template, tokenizer, token_budget=512)
    messages = build_messages(renderer.render(user_id, history_ids), template)
    messages = profile_prompts(examples, interactions, items, cfg.profiler, tokenizer)  # THE builder

A history is rendered oldest first, most recent LAST, one `item_line` per item. Only the items
passed in are shown: the target item of an example is never part of its prompt.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import yaml

from bluekit.errors import KitError

TEMPLATE_DIR = Path(__file__).parent / "prompt_templates"
ITEM_FIELDS = ("title", "rating", "review", "category", "date")
ELLIPSIS = "…"


class TemplateError(KitError, ValueError):
    """A prompt template is unknown or malformed; the message names the file and key."""


@dataclass(frozen=True)
class PromptTemplate:
    """What the profiler is asked, as data.

    instruction uses {history} and {max_words}; item_line (and item_line_no_review, used for
    items without a review) use {title} {rating} {review} {category} {date}.
    """
    system: str
    instruction: str
    item_line: str
    max_words: int = 60
    review_chars: int = 80
    max_items: int = 20
    item_line_no_review: str | None = None
    name: str = "custom"
    description: str = ""

    def __post_init__(self) -> None:
        where = f"prompt template {self.name!r}"
        if "{history}" not in self.instruction:
            raise TemplateError(f"{where}: key 'instruction' must contain {{history}}")
        for key in ("instruction", "item_line", "item_line_no_review"):
            text = getattr(self, key)
            if text is None:
                continue
            allowed = ("history", "max_words") if key == "instruction" else ITEM_FIELDS
            try:
                text.format(**{field: "" for field in allowed})
            except (KeyError, IndexError, ValueError) as error:
                raise TemplateError(f"{where}: key {key!r} has a bad placeholder {error} "
                                    f"(allowed: {', '.join(allowed)}; write a literal brace as {{{{ }}}})") from None
        for key in ("max_words", "review_chars", "max_items"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise TemplateError(f"{where}: key {key!r} must be a positive integer, got {getattr(self, key)!r}")


def available_templates() -> list[str]:
    """Names of the templates shipped in bluekit/prompt_templates/."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


def get_template(name_or_path: str | Path | PromptTemplate) -> PromptTemplate:
    """A template by name ("default", "keywords") or from a YAML file path.

    >>> get_template("default").max_words
    60
    """
    if isinstance(name_or_path, PromptTemplate):
        return name_or_path
    path = Path(name_or_path)
    if not path.exists():
        if path.suffix in (".yaml", ".yml"):
            raise TemplateError(f"prompt template file not found: {path}")
        path = TEMPLATE_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise TemplateError(f"unknown prompt template {str(name_or_path)!r}; available: "
                                f"{available_templates()} (or give a path to a YAML file)")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: top level must be a mapping of template keys")
    known = {f.name for f in dataclasses.fields(PromptTemplate)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise TemplateError(f"{path}: unknown key {unknown[0]!r} (known: {sorted(known)})")
    missing = sorted({"system", "instruction", "item_line"} - set(data))
    if missing:
        raise TemplateError(f"{path}: missing key {missing[0]!r}")
    data.setdefault("name", path.stem)
    try:
        return PromptTemplate(**data)
    except TemplateError as error:
        raise TemplateError(f"{path}: {error}") from None


def review_snippet(text: Any, max_chars: int) -> str:
    """Whitespace collapsed, cut at a word boundary to at most max_chars (plus "…").

    >>> review_snippet("Great   fit,\\n very soft fabric and warm", 20)
    'Great fit, very soft…'
    >>> review_snippet("short", 20)
    'short'
    """
    if not isinstance(text, str):
        return ""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    if text[max_chars] != " " and " " in cut:  # don't split a word
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:.-") + ELLIPSIS


def format_rating(rating: Any) -> str:
    """5.0 -> "5", 4.5 -> "4.5", missing -> "?"."""
    try:
        value = float(rating)
    except (TypeError, ValueError):
        return "?"
    if math.isnan(value):
        return "?"
    return f"{value:g}"


def _format_date(timestamp_ms: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp_ms) / 1000, tz=timezone.utc).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


class HistoryRenderer:
    """Renders users' histories as prompt text; indexes interactions and items once.

    interactions: user_id, item_id, rating, timestamp, review_title, review_text.
    items: item_id (a column or the index), title, category. With a tokenizer and token_budget, the oldest lines are
    dropped until the history fits the budget (counted per line, plus one token per newline);
    the most recent line is always kept.
    """

    def __init__(self, interactions: pd.DataFrame, items: pd.DataFrame,
                 template: PromptTemplate | str = "default", tokenizer=None,
                 token_budget: int | None = None) -> None:
        self.template = get_template(template)
        self.tokenizer = tokenizer
        self.token_budget = token_budget
        rows = interactions.drop_duplicates(["user_id", "item_id"], keep="first")
        reviews = _column(rows, "review_text")
        titles = _column(rows, "review_title")
        self._events: dict[tuple[str, str], tuple[Any, str, Any]] = {
            (user, item): (rating, text if isinstance(text, str) and text.strip() else title, ts)
            for user, item, rating, text, title, ts in zip(
                rows["user_id"], rows["item_id"], _column(rows, "rating"), reviews, titles,
                _column(rows, "timestamp"))}
        if "item_id" not in items.columns:  # a frame indexed by item id
            items = items.rename_axis("item_id").reset_index()
        items = items.drop_duplicates("item_id", keep="first")
        self._items: dict[str, tuple[str, str]] = {
            item: (title if isinstance(title, str) and title.strip() else str(item),
                   category if isinstance(category, str) else "")
            for item, title, category in zip(items["item_id"], _column(items, "title"),
                                              _column(items, "category"))}

    def lines(self, user_id: str, history_ids: Iterable[str]) -> list[str]:
        """One line per history item (most recent last), capped at the template's max_items."""
        template = self.template
        recent = list(history_ids)[-template.max_items:]
        lines = []
        for item_id in recent:
            rating, review, timestamp = self._events.get((user_id, item_id), (None, "", None))
            title, category = self._items.get(item_id, (str(item_id), ""))
            fields = {"title": " ".join(title.split()), "rating": format_rating(rating),
                      "review": review_snippet(review, template.review_chars),
                      "category": category, "date": _format_date(timestamp)}
            line_format = template.item_line
            if not fields["review"] and template.item_line_no_review is not None:
                line_format = template.item_line_no_review
            lines.append(line_format.format(**fields))
        return self._fit_budget(lines)

    def render(self, user_id: str, history_ids: Iterable[str]) -> str:
        """The history text that fills the template's {history} placeholder."""
        return "\n".join(self.lines(user_id, history_ids))

    def _fit_budget(self, lines: list[str]) -> list[str]:
        if self.tokenizer is None or self.token_budget is None or not lines:
            return lines
        counts = [len(ids) + 1 for ids in self.tokenizer(lines, add_special_tokens=False)["input_ids"]]
        total, start = sum(counts), 0
        while total > self.token_budget and start < len(lines) - 1:  # drop the oldest first
            total -= counts[start]
            start += 1
        return lines[start:]


def _column(frame: pd.DataFrame, name: str) -> Iterable:
    return frame[name] if name in frame.columns else [None] * len(frame)


def build_messages(history_text: str, template: PromptTemplate | str = "default",
                   merge_system: bool = False) -> list[dict]:
    """Chat messages (system + user) asking for a profile of the rendered history.

    merge_system=True folds the system text into the user message, for models without a
    system role (Gemma).

    >>> t = PromptTemplate(system="Be brief.", instruction="History:\\n{history}\\nAt most {max_words} words.",
    ...                    item_line="- {title}", max_words=5)
    >>> build_messages("- Boots", t)
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'History:\\n- Boots\\nAt most 5 words.'}]
    >>> build_messages("- Boots", t, merge_system=True)[0]["content"].startswith("Be brief.\\n\\nHistory:")
    True
    """
    template = get_template(template)
    user_text = template.instruction.format(history=history_text, max_words=template.max_words)
    if merge_system:
        return [{"role": "user", "content": f"{template.system}\n\n{user_text}".strip()}]
    return [{"role": "system", "content": template.system}, {"role": "user", "content": user_text}]


def messages_for_examples(examples: pd.DataFrame, interactions: pd.DataFrame, items: pd.DataFrame,
                          template: PromptTemplate | str = "default", tokenizer=None,
                          token_budget: int | None = None, merge_system: bool = False) -> list[list[dict]]:
    """Chat messages for every example row (user_id, item_id = target, history = earlier item ids).

    Only `history` is rendered; the target item is never shown.
    """
    template = get_template(template)
    renderer = HistoryRenderer(interactions, items, template, tokenizer, token_budget)
    return [build_messages(renderer.render(user, history), template, merge_system)
            for user, history in zip(examples["user_id"], examples["history"])]


def with_overrides(template: PromptTemplate | str, **changes: Any) -> PromptTemplate:
    """A copy of a template with some fields changed (None values are ignored)."""
    template = get_template(template)
    return dataclasses.replace(template, **{k: v for k, v in changes.items() if v is not None})



def supports_system_role(tokenizer) -> bool:
    """False when the chat template rejects a system message (e.g. Gemma 2)."""
    try:
        tokenizer.apply_chat_template([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                                      tokenize=False, add_generation_prompt=True)
        return True
    except Exception:  # templates signal this with jinja's raise_exception, of various types
        return False


def profile_prompts(examples: pd.DataFrame, interactions: pd.DataFrame, items: pd.DataFrame,
                    profiler_cfg, tokenizer=None) -> list[list[dict]]:
    """THE prompt builder: chat messages asking for each example's profile, as a
    bluekit.config.ProfilerConfig says (template, max_history_items, review_chars,
    prompt_token_budget). Training rows, snapshots and evaluation all call it, so their prompts
    cannot drift. With a tokenizer, histories are fitted to the token budget and chat templates
    without a system role (Gemma) get the system text in the user turn."""
    template = with_overrides(get_template(profiler_cfg.template),
                              max_items=profiler_cfg.max_history_items,
                              review_chars=profiler_cfg.review_chars)
    merge_system = tokenizer is not None and not supports_system_role(tokenizer)
    return messages_for_examples(examples, interactions, items, template, tokenizer,
                                 profiler_cfg.prompt_token_budget, merge_system=merge_system)
