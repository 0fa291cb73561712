"""Batched, seeded profile generation: chat messages in, one cleaned profile string per prompt out.

    profiles = generate_profiles(model, tokenizer, messages_list, max_new_tokens=32)   # greedy
    profiles = profiles_for_examples(model, tokenizer, examples, interactions, items, cfg.profiler)

Results are deterministic for a seed and do not depend on batch size or on the order of the
prompts: greedy decoding is used when temperature == 0, and sampling draws each prompt's
tokens from its own random stream (seeded by `seed` and the prompt's position).
"""
from __future__ import annotations

import copy
import re

import torch
from tqdm.auto import tqdm
from transformers import LogitsProcessor, LogitsProcessorList, TopPLogitsWarper

from bluekit.prompts import profile_prompts

# End-of-turn markers of common chat formats; generation also stops on these when they exist.
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>")

_PREFIX = re.compile(
    r"^\s*(?:\*\*|#+\s*)?(?:(?:the\s+)?user(?:'s)?\s+)?(?:profile|assistant|summary|answer|keywords)"
    r"\s*(?:\*\*)?\s*:\s*(?:\*\*)?", re.IGNORECASE)
_QUOTES = "\"'“”‘’`"


def clean_profile(text: str) -> str:
    """A generated profile as the embedder and rewards should see it.

    Drops a leading role/label prefix ("Profile:", "User profile:", "Assistant:"), surrounding
    quotes and collapses whitespace.

    >>> clean_profile('  Profile:  "Loves   trail running\\n gear."  ')
    'Loves trail running gear.'
    >>> clean_profile("**User profile:** Budget shopper")
    'Budget shopper'
    >>> clean_profile("Likes the profile: of quiet cafes")
    'Likes the profile: of quiet cafes'
    """
    text = " ".join(str(text).split())
    for _ in range(3):  # nested forms like 'Assistant: "Profile: ..."'
        before = text
        text = _PREFIX.sub("", text).strip()
        if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
            text = text[1:-1].strip()
        elif text and text[0] in _QUOTES and text.count(text[0]) == 1:  # an opening quote cut off by max tokens
            text = text[1:].strip()
        if text == before:
            break
    return text


class _PerRowSampler(LogitsProcessor):
    """Sampling that is the same whatever the batch: Gumbel-max with one RNG stream per prompt.

    argmax(logits / T + Gumbel noise) is an exact draw from softmax(logits / T); used with
    greedy decoding, each row's noise comes from its own generator, so a prompt's sample does
    not depend on which other prompts share its batch.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float) -> None:
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.temperature = temperature
        self.top_p = TopPLogitsWarper(top_p) if top_p < 1.0 else None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.float() / self.temperature
        if self.top_p is not None:
            scores = self.top_p(input_ids, scores)
        noise = torch.stack([_gumbel(scores.shape[1], g) for g in self.generators]).to(scores.device)
        return scores + noise


def _gumbel(size: int, generator: torch.Generator) -> torch.Tensor:
    uniform = torch.rand(size, generator=generator).clamp_(min=1e-12, max=1 - 1e-7)
    return -torch.log(-torch.log(uniform))


def _stop_token_ids(model, tokenizer) -> list[int]:
    ids = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured]
    ids.append(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    ids += [vocab[t] for t in END_OF_TURN_TOKENS if t in vocab]
    return sorted({i for i in ids if i is not None})


def _generation_config(model, tokenizer, max_new_tokens: int):
    config = copy.deepcopy(model.generation_config)
    config.max_new_tokens = max_new_tokens
    config.max_length = None
    config.do_sample = False  # sampling, when asked, is done by _PerRowSampler
    config.temperature, config.top_p, config.top_k = None, None, None
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = _stop_token_ids(model, tokenizer)
    return config


def generate_profiles(model, tokenizer, messages_list: list[list[dict]], max_new_tokens: int = 32,
                      batch_size: int = 16, seed: int = 0, temperature: float = 0.0,
                      top_p: float = 1.0, show_progress: bool = True, clean: bool = True) -> list[str]:
    """One profile per chat conversation, in the input order.

    Prompts are rendered with the tokenizer's chat template (add_generation_prompt=True),
    sorted by length into left-padded batches, and decoded back to text from the new tokens
    only (special tokens removed; `clean_profile` applied unless clean=False). temperature == 0
    is greedy; otherwise sampling with top_p, reproducible for the seed. Works with PEFT models.
    """
    if not messages_list:
        return []
    texts = [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
             for m in messages_list]
    # The rendered template already carries its special tokens (e.g. Gemma's <bos>).
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    config = _generation_config(model, tokenizer, max_new_tokens)
    device = next(model.parameters()).device
    profiles: list[str] = [""] * len(texts)
    was_training = model.training
    model.eval()
    try:
        batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
        for batch in tqdm(batches, desc="profiles", unit="batch", disable=not show_progress):
            inputs = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, padding=True,
                                   padding_side="left", return_tensors="pt").to(device)
            processors = LogitsProcessorList()
            if temperature > 0:
                # One stream per prompt, from the seed and its position in messages_list.
                processors.append(_PerRowSampler([seed * 1_000_003 + i for i in batch], temperature, top_p))
            with torch.no_grad():
                output = model.generate(**inputs, generation_config=config, logits_processor=processors)
            new_tokens = output[:, inputs["input_ids"].shape[1]:]
            for i, text in zip(batch, tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
                profiles[i] = clean_profile(text) if clean else text.strip()
    finally:
        model.train(was_training)
    return profiles


def profiles_for_examples(model, tokenizer, examples, interactions, items, profiler_cfg,
                          show_progress: bool = True, temperature: float = 0.0, seed: int = 0) -> list[str]:
    """Profiles for every example row, using a bluekit.config.ProfilerConfig.

    The config gives the template, history length (max_history_items), review_chars,
    prompt_token_budget, max_new_tokens and generation_batch_size. Greedy (temperature 0) by
    default, as in evaluation; pass temperature to sample (top_p from the config).
    """
    messages = profile_prompts(examples, interactions, items, profiler_cfg, tokenizer)
    return generate_profiles(model, tokenizer, messages, max_new_tokens=profiler_cfg.max_new_tokens,
                             batch_size=profiler_cfg.generation_batch_size, seed=seed,
                             temperature=temperature, top_p=profiler_cfg.top_p,
                             show_progress=show_progress)
