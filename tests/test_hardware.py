"""bf16 'auto': measured once per machine, cached, and handed to TRL and the loaders as a plain choice."""
import json

import pytest


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "hardware.json"
    monkeypatch.setenv("BLUEKIT_HARDWARE_CACHE", str(path))
    return path


def _key():
    import torch
    from bluekit.hardware import cpu_model
    return f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads"


def test_auto_measures_once_and_reuses_the_cached_verdict(cache):
    from bluekit import hardware
    first = hardware.bf16_is_fast()
    saved = json.loads(cache.read_text())[_key()]
    assert saved["bf16_fast"] == first and saved["fp32_s"] > 0 and saved["bf16_s"] > 0
    saved["bf16_fast"] = not first  # a cached verdict is used as it is, not measured again
    cache.write_text(json.dumps({_key(): saved}))
    assert hardware.bf16_is_fast() is (not first)
    assert hardware.resolve_bf16("auto") is (not first)
    assert hardware.resolve_dtype("auto") == ("bfloat16" if not first else "float32")


def test_explicit_choices_pass_through(cache):
    from bluekit.hardware import resolve_bf16, resolve_dtype
    assert resolve_bf16(True) is True and resolve_bf16(False) is False
    assert resolve_dtype("float32") == "float32" and not cache.exists()


def test_grpo_config_gets_a_bool_for_auto(cache):
    from bluekit.config import load_config
    from bluekit.train.grpo_config import grpo_settings
    cache.write_text(json.dumps({_key(): {"bf16_fast": False}}))
    cfg = load_config("smoke", {"train.grpo.bf16": "auto"})
    assert grpo_settings(cfg.train)["bf16"] is False
