"""What a frozen reader LLM makes of a profile: BLUE's text-space quiz, and fluency.

The quiz: given only the profile, which of K items (the user's real next item and K-1 items they
never had) comes next? The answer's position is rotated over the users, so a reader with a
favourite option scores exactly chance (1/K).

Two ways to ask:
- ``method="likelihood"`` (default): each option's title is scored by its mean per-token
  log-likelihood after "Shopper profile: {profile} / Next purchase:", minus the same with no
  profile (so a title the reader finds likely anyway gets no credit: pointwise mutual information);
  the best-scored option is the answer. With no profile every option scores 0 and the first
  option wins: the quiz's floor is exactly chance.
- ``method="letter"``: the next_item_mcq reward's own multiple-choice question, answered by
  letter (bluekit.rewards.text.option_probabilities). A 135M reader (SmolLM2, the offline
  default) answers "A" to nearly every question (89 of 96 with raw history text, measured with
  the rotation above), so on CPU this form sits at chance whatever the profile says; it is
  meaningful with a stronger reader (gpu presets, or ``reader`` in the reward's params).

Fluency: the mean per-token log-likelihood of the profile itself after one neutral prompt (the
same for every method, so profiles and raw history text compare). Higher is more fluent.
"""
from __future__ import annotations

import weakref
import zlib
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

QUIZ_CONTEXT = "Shopper profile: {profile}\nNext purchase:"
NO_PROFILE = "(none)"
FLUENCY_PROMPT = "Describe a shopper's tastes in one sentence."


def quiz_questions(examples: pd.DataFrame, item_index: Mapping[str, int], titles: Sequence[str],
                   num_choices: int = 4, seed: int = 0) -> tuple[list[list[str]], list[int]]:
    """One multiple-choice question per example: the target and `num_choices - 1` catalogue items
    the user never had (seeded per user), the answer's position rotated over the users (user i's
    answer sits at option i mod K), so a reader that always says "A" scores exactly chance."""
    choice_titles, answers = [], []
    n_items = len(titles)
    for i, (user, target, history) in enumerate(zip(examples["user_id"], examples["item_id"],
                                                     examples["history"])):
        rng = np.random.default_rng([seed, zlib.crc32(str(user).encode())])
        seen = {item_index[h] for h in (history if history is not None else []) if h in item_index}
        target_row = item_index.get(target, -1)
        seen.add(target_row)
        pool = np.array([r for r in range(n_items) if r not in seen])
        rows = [int(r) for r in rng.choice(pool, size=num_choices - 1, replace=False)]
        answer = i % num_choices
        rows.insert(answer, target_row)
        choice_titles.append([titles[r] if r >= 0 else "" for r in rows])
        answers.append(answer)
    return choice_titles, answers


def quiz_accuracy(texts: Sequence[str], choice_titles: list[list[str]], answers: list[int],
                  model, tokenizer, method: str = "likelihood", batch_size: int = 32) -> np.ndarray:
    """1 where the reader, given only the text, picks the true option (see the module doc)."""
    picks = chosen(option_scores(texts, choice_titles, model, tokenizer, method, batch_size))
    return (picks == np.asarray(answers)).astype(float)


def option_scores(texts: Sequence[str], choice_titles: list[list[str]], model, tokenizer,
                  method: str = "likelihood", batch_size: int = 32) -> np.ndarray:
    """(n, K) the reader's score of each option: the option-letter probabilities (method "letter")
    or each title's PMI (method "likelihood", pmi_scores)."""
    if method == "letter":
        from bluekit.rewards.text import option_probabilities

        scores = np.zeros((len(texts), len(choice_titles[0]) if choice_titles else 0))
        for start in range(0, len(texts), batch_size):
            rows = slice(start, start + batch_size)
            scores[rows] = option_probabilities(model, tokenizer, [str(t or "") for t in texts[rows]],
                                                choice_titles[rows])
        return scores
    if method != "likelihood":
        raise ValueError(f"quiz method must be 'likelihood' or 'letter', got {method!r}")
    return pmi_scores(texts, choice_titles, model, tokenizer, batch_size)


def chosen(scores: np.ndarray) -> np.ndarray:
    """The option each row picks: the best score, the first on a tie (rounded to 6 decimals, so
    float noise does not break ties: with no profile every PMI is 0 and option A wins).

    >>> chosen(np.array([[0.1, 0.3, 0.3], [0.0, 1e-9, 0.0]])).tolist()
    [1, 0]
    """
    return np.argmax(np.round(np.asarray(scores, dtype=float), 6), axis=1)


def pmi_scores(texts: Sequence[str], choice_titles: list[list[str]], model, tokenizer,
               batch_size: int = 32) -> np.ndarray:
    """(n, K): each option title's mean log-likelihood after "Shopper profile: {text} / Next
    purchase:" minus the same with no profile; 0 everywhere for an empty text."""
    k = len(choice_titles[0]) if choice_titles else 0
    flat_titles = [t for titles in choice_titles for t in titles]
    profiles = [str(t).strip() for t in texts]
    without = _prior_loglik(model, tokenizer, flat_titles, batch_size)
    with_profile = without.copy()  # an empty profile is the no-profile context itself
    cells = [i * k + j for i, p in enumerate(profiles) if p for j in range(k)]  # (user, option)
    if cells:
        contexts = [QUIZ_CONTEXT.format(profile=profiles[c // k]) for c in cells]
        with_profile[cells] = continuation_loglik(model, tokenizer, contexts,
                                                  [flat_titles[c] for c in cells], batch_size)
    return (with_profile - without).reshape(len(texts), k)


# model -> {title: log-likelihood with no profile}: the same for every method, so computed once per
# reader; weakly keyed, so a model that is gone (and whose id a new one may reuse) takes its scores with it.
_PRIOR: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _prior_loglik(model, tokenizer, titles: list[str], batch_size: int) -> np.ndarray:
    known = _PRIOR.setdefault(model, {})
    missing = sorted(set(titles) - set(known))
    if missing:
        values = continuation_loglik(model, tokenizer, [QUIZ_CONTEXT.format(profile=NO_PROFILE)] * len(missing),
                                     missing, batch_size)
        known.update(zip(missing, values))
    return np.array([known[t] for t in titles])


def continuation_loglik(model, tokenizer, contexts: Sequence[str], continuations: Sequence[str],
                        batch_size: int = 32, max_tokens: int = 192) -> np.ndarray:
    """Mean per-token log-likelihood of each continuation after its context (no gradient); NaN
    for an empty continuation. Contexts keep their last `max_tokens` tokens. Rows are batched by
    length and left-padded, so the continuations end every row and only their positions go
    through the vocabulary projection (`logits_to_keep`): the costly part of a small LM."""
    import torch

    out = np.full(len(contexts), np.nan)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    pairs = [(tokenizer(c, add_special_tokens=False)["input_ids"][-max_tokens:],
              tokenizer(" " + str(x).strip(), add_special_tokens=False)["input_ids"][:64]
              if str(x).strip() else [])
             for c, x in zip(contexts, continuations)]
    order = sorted((i for i, (c, x) in enumerate(pairs) if c and x), key=lambda i: sum(map(len, pairs[i])))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        seqs = [pairs[i][0] + pairs[i][1] for i in rows]
        width, keep = max(map(len, seqs)), max(len(pairs[i][1]) for i in rows) + 1
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, seq in enumerate(seqs):
            ids[r, width - len(seq):] = torch.tensor(seq)
            mask[r, width - len(seq):] = 1
        inputs = dict(input_ids=ids.to(device), attention_mask=mask.to(device),
                      position_ids=(mask.cumsum(-1) - 1).clamp(min=0).to(device))
        with torch.no_grad():
            try:
                logits = model(**inputs, logits_to_keep=keep).logits[:, -keep:]
            except TypeError:  # a model without logits_to_keep
                logits = model(**inputs).logits[:, -keep:]
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # predicts the last keep-1 tokens
        targets = ids[:, width - keep + 1:].to(device)
        token_logp = logp.gather(-1, targets[..., None])[..., 0]
        for r, i in enumerate(rows):
            n = len(pairs[i][1])
            out[i] = float(token_logp[r, keep - 1 - n:].mean())
    return out


def fluency(texts: Sequence[str], model, tokenizer, batch_size: int = 32,
            prompt: str = FLUENCY_PROMPT) -> np.ndarray:
    """Mean per-token log-likelihood of each text under a frozen LM, as the reply to one neutral
    chat prompt (the same prompt for every method, so profiles and raw history compare). Higher is
    more fluent; an empty text gets NaN."""
    messages = [{"role": "user", "content": prompt}]
    try:
        prefix = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # noqa: BLE001 - a tokenizer without a chat template (tiny test models)
        prefix = prompt + "\n"
    texts = [str(t or "").strip() for t in texts]
    return continuation_loglik(model, tokenizer, [prefix] * len(texts), texts, batch_size)
