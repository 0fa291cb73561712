"""Text-space reward: can a reader LLM, given ONLY the profile, pick the user's next item?

The reader sees the profile and K candidate item titles as a multiple-choice question and the
reward is its probability of the true option, read from the option letters' logits at the
next-token position (softmax over the K letters only). All completions of a call go through
one batched forward pass. This keeps profiles readable and faithful: embedding-friendly
gibberish does not help a reader answer.
"""
from __future__ import annotations

import string
from typing import Any, Sequence

import numpy as np

from .core import Batch, Reward, RewardContext, RewardError, make_batch
from .registry import register

MCQ_QUESTION = "Which item will this user buy next?"


def mcq_prompt(profile: str, titles: Sequence[str], question: str = MCQ_QUESTION) -> str:
    """The question the reader sees (before its chat template).

    >>> print(mcq_prompt("Loves hiking.", ["Hiking boots", "Frying pan"]))
    Here is a description of a user:
    Loves hiking.
    <BLANKLINE>
    Which item will this user buy next?
    A) Hiking boots
    B) Frying pan
    Reply with the letter of one option.
    """
    lines = ["Here is a description of a user:", profile.strip() or "(no description)", "", question]
    lines += [f"{letter}) {title}" for letter, title in zip(string.ascii_uppercase, titles)]
    lines.append("Reply with the letter of one option.")
    return "\n".join(lines)


def reader_inputs(tokenizer, questions: list[str]) -> list[str]:
    """Chat-format each question (if the reader has a chat template) and open the answer."""
    if getattr(tokenizer, "chat_template", None):
        return [tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                              add_generation_prompt=True) + "Answer:"
                for q in questions]
    return [q + "\nAnswer:" for q in questions]


def next_token_logits(model, tokenizer, questions: Sequence[str]):
    """(n, vocabulary) logits of the token after "Answer:" for each question (chat-formatted by
    reader_inputs), in one left-padded forward pass with no gradient, on the CPU."""
    import torch

    chat = bool(getattr(tokenizer, "chat_template", None))
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # the next-token position is then the last column
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        enc = tokenizer(reader_inputs(tokenizer, list(questions)), return_tensors="pt", padding=True,
                        add_special_tokens=not chat)
    finally:
        tokenizer.padding_side = old_side
    device = next(model.parameters()).device
    mask = enc["attention_mask"].to(device)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
    inputs = dict(input_ids=enc["input_ids"].to(device), attention_mask=mask, position_ids=position_ids)
    with torch.no_grad():
        try:  # only the last position's logits: skips the vocabulary projection everywhere else
            logits = model(**inputs, logits_to_keep=1).logits[:, -1, :].float()
        except TypeError:  # models without the logits_to_keep argument
            logits = model(**inputs).logits[:, -1, :].float()
    logits = logits.cpu()
    vocabulary = getattr(tokenizer, "vocab_size", None) or len(tokenizer)
    if logits.shape[-1] < vocabulary:  # e.g. Unsloth handing back hidden states as .logits
        raise RewardError(f"the reader returned {logits.shape[-1]} scores per position for a "
                          f"vocabulary of {vocabulary} tokens: hidden states, not logits")
    return logits


def option_probabilities(model, tokenizer, profiles: Sequence[str],
                         choice_titles: Sequence[Sequence[str]], question: str = MCQ_QUESTION,
                         max_profile_chars: int = 2000, max_title_chars: int = 120
                         ) -> list[np.ndarray]:
    """The reader's distribution over the options of each question, in one forward pass.

    Returns one array per profile (length = its number of options, sums to 1).
    """
    import torch

    from bluekit.llm import option_letter_ids  # torch loads only when a reader is used

    sizes = [len(t) for t in choice_titles]
    if min(sizes) < 2:
        raise RewardError(f"a multiple-choice question needs at least 2 options, got {min(sizes)}")
    try:
        letters = option_letter_ids(tokenizer, max(sizes))  # one token id per letter, after "Answer:"
    except ValueError as error:
        raise RewardError(f"the reader cannot score options by letter: {error}") from error
    questions = [mcq_prompt(p[:max_profile_chars], [t[:max_title_chars] for t in titles], question)
                 for p, titles in zip(profiles, choice_titles)]
    logits = next_token_logits(model, tokenizer, questions)
    return [torch.softmax(logits[row, letters[:k]], 0).numpy().astype(np.float64)
            for row, k in enumerate(sizes)]


@register("next_item_mcq")
class NextItemMCQ(Reward):
    """Text-space reward: a reader LLM answers "which item next?" from the profile alone.

    ``scoring="likelihood"`` asks instead as the evaluation's quiz does (bluekit.quiz): each
    option's title is scored by its log-likelihood after the profile minus with no profile, and the
    distribution is the softmax of those scores; the offline 135M reader answers the letter form
    "A" to nearly every question, so on CPU this is the form that carries a signal.
    The question lists ``num_choices`` item titles as options A), B), ...; the reward is the
    reader's probability of the true option (``mode="prob"``, softmax over the option letters at
    the next-token position) or 1/0 for whether that option has the top probability
    (``mode="correct"``). Range: [0, 1] (chance is 1 / num_choices). The options are the
    positive and ``num_choices - 1`` catalogue items the user has not had (the ``history``
    column), at a random position, drawn anew every training step and seeded per (step, user),
    so a user's G generations face the same question. The reader is ``reader`` (a model spec
    as in bluekit.llm.load_causal_lm, e.g. a separate, stronger frozen predictor as in RLPF) or,
    when None, the frozen initial profiler: during LoRA training that is the policy itself with
    its adapter disabled (no second copy, same device); otherwise a copy loaded once, on first
    use (``ctx.get_reader(reader)``), on the policy's device (the GPU when there is one). A
    reader that cannot load, or returns no logits, raises RewardError.

    >>> from bluekit.llm import build_tiny_model
    >>> from bluekit.rewards import toy_context
    >>> reward = NextItemMCQ(toy_context(reader=build_tiny_model(seed=0)), num_choices=4)
    >>> probs = reward(completions=["Loves hiking boots.", ""], positive=["boots", "boots"])
    >>> all(0.0 < p < 1.0 for p in probs)
    True
    >>> likelihood = NextItemMCQ(toy_context(reader=build_tiny_model(seed=0)), scoring="likelihood")
    >>> likelihood(completions=[""], positive=["boots"])  # no profile: every option equally likely
    [0.25]
    """
    floor = 0.0
    needs_ctx = True

    def __init__(self, ctx: RewardContext, mode: str = "prob", num_choices: int = 4,
                 question: str = MCQ_QUESTION, max_profile_chars: int = 2000,
                 reader: str | None = None, scoring: str = "letter"):
        super().__init__(ctx)
        if mode not in ("prob", "correct"):
            raise RewardError(f"{self.__name__}: mode must be 'prob' or 'correct', got {mode!r}")
        if scoring not in ("letter", "likelihood"):
            raise RewardError(f"{self.__name__}: scoring must be 'letter' or 'likelihood', got {scoring!r}")
        self.scoring = scoring
        if not 2 <= num_choices <= min(26, ctx.num_items):
            raise RewardError(f"{self.__name__}: num_choices must lie in 2..{min(26, ctx.num_items)}")
        self.mode, self.num_choices, self.question = mode, int(num_choices), question
        self.max_profile_chars = int(max_profile_chars)
        self.reader = reader

    def check_columns(self, batch: Batch) -> None:
        self.ctx.item_rows(batch.column("positive", self.__name__))

    def questions(self, batch: Batch) -> tuple[list[list[str]], list[int]]:
        """Choice titles and the true option per row, drawn for this step and user (seeded)."""
        titles = self.ctx.item_titles
        histories = batch.columns.get("history") or [[]] * len(batch)
        choice_titles, answers = [], []
        for key, pos, history in zip(batch.group_keys(), self.ctx.item_rows(batch.columns["positive"]),
                                     histories):
            rng = batch.rng(self.ctx.seed, f"mcq\t{key}\t{pos}")  # same question for a user's G rows
            seen = set(self.ctx.known_rows(history or [])) | {int(pos)}
            pool = np.array([r for r in range(self.ctx.num_items) if r not in seen])
            if len(pool) < self.num_choices - 1:  # a tiny catalogue: allow history items
                pool = np.array([r for r in range(self.ctx.num_items) if r != pos])
            rows = list(rng.choice(pool, size=self.num_choices - 1, replace=False))
            answer = int(rng.integers(self.num_choices))
            rows.insert(answer, int(pos))
            choice_titles.append([titles[r] for r in rows])
            answers.append(answer)
        return choice_titles, answers

    def read(self, texts: list[str], choice_titles: list[list[str]]) -> list[np.ndarray]:
        """The reader's option distributions for these profiles and questions (one forward pass)."""
        model, tokenizer = self.ctx.get_reader(self.reader)
        if self.scoring == "likelihood":  # a small reader answers the letter form "A" whatever it reads
            from bluekit.quiz import pmi_scores
            scores = pmi_scores([t[:self.max_profile_chars] for t in texts], choice_titles, model, tokenizer)
            return [np.exp(row - row.max()) / np.exp(row - row.max()).sum() for row in scores]
        return option_probabilities(model, tokenizer, texts, choice_titles, self.question,
                                    self.max_profile_chars)

    def distribution(self, completions: Any, **columns) -> list[np.ndarray]:
        """The full option distribution per completion (for notebooks and tests)."""
        batch = make_batch(completions, **columns)
        self.check_columns(batch)
        return self.read(batch.texts, self.questions(batch)[0])

    def score(self, batch: Batch) -> list[float]:
        choice_titles, answers = self.questions(batch)
        dists = self.read(batch.texts, choice_titles)
        hits = [float(int(np.argmax(d)) == a) for d, a in zip(dists, answers)]
        self.diagnostics["accuracy"] = float(np.mean(hits))  # logged under TRL in either mode
        if self.mode == "prob":
            return [float(d[a]) for d, a in zip(dists, answers)]
        return hits
