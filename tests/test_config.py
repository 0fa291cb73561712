"""Configuration: defaults < preset/file < overrides; bad keys and types named."""
import pytest

from bluekit.config import Config, ConfigError, RewardSpec, load_config, presets, save_config


def test_every_preset_loads():
    assert {"smoke", "cpu-demo", "gpu-paper"} <= set(presets())
    for name in presets():
        cfg = load_config(name)
        assert cfg.name == name
        assert all(isinstance(r, RewardSpec) for r in cfg.train.rewards)


def test_precedence_overrides_over_file_over_defaults(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("base: smoke\ntrain:\n  snapshot_every: 7\n  grpo: {learning_rate: 5e-4}\n")
    cfg = load_config(path, {"train.snapshot_every": 9})
    assert cfg.train.snapshot_every == 9            # override wins
    assert cfg.train.grpo["learning_rate"] == 5e-4  # file over preset; 5e-4 read as a float
    assert cfg.train.grpo["max_steps"] == 4         # the base preset's, merged key by key
    assert cfg.profiler.model == "tiny"             # from the base preset
    assert cfg.eval.ks == Config().eval.ks          # default


def test_a_file_can_build_on_a_file_next_to_it(tmp_path, monkeypatch):
    (tmp_path / "a.yaml").write_text("base: smoke\ntrain:\n  grpo: {max_steps: 7}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ntrain:\n  grpo: {learning_rate: 2e-3}\n")
    monkeypatch.chdir("/")  # resolved next to b.yaml, not in the working directory
    cfg = load_config(tmp_path / "b.yaml")
    assert cfg.train.grpo["max_steps"] == 7 and cfg.train.grpo["learning_rate"] == 2e-3
    assert cfg.profiler.model == "tiny"


def test_nested_override_dict_and_reward_specs():
    cfg = load_config(None, {"train": {"rewards": [{"name": "cosine", "weight": 2}]}})
    assert cfg.train.rewards == [RewardSpec("cosine", 2.0, {})]


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="train.max_stepz"):
        load_config("smoke", {"train.max_stepz": 3})
    with pytest.raises(ConfigError, match=r"TRL's options go under train\.grpo \(train\.grpo\.max_steps\)"):
        load_config("smoke", {"train.max_steps": 3})
    with pytest.raises(ConfigError, match="'trian"):
        load_config(None, {"trian": {}})


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match="train.panel_users: expected int"):
        load_config("smoke", {"train.panel_users": "many"})
    with pytest.raises(ConfigError, match=r"eval.ks\[1\]"):
        load_config(None, {"eval.ks": [5, "ten"]})
    with pytest.raises(ConfigError, match="data.lenient: expected bool"):
        load_config(None, {"data.lenient": 1})


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="smoke"):
        load_config("no-such-preset")


def test_save_and_reload_round_trip(tmp_path):
    cfg = load_config("gpu-paper")
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


def test_every_accepted_key_is_read_somewhere():
    """A key nothing reads would be accepted silently: each dataclass field must be used."""
    import dataclasses
    import pathlib
    import re

    from bluekit import config

    source = "\n".join(p.read_text() for p in pathlib.Path(config.__file__).parent.rglob("*.py")
                       if p.name != "config.py")
    for section in (config.DataConfig, config.EmbedConfig, config.ProfilerConfig,
                    config.TrainConfig, config.EvalConfig):
        for f in dataclasses.fields(section):
            assert re.search(rf"\.{f.name}\b", source), f"{section.__name__}.{f.name} is never read"


def test_the_trainable_embedder_settings_are_checked():
    assert load_config("smoke", {"embed.trainable": True}).embed.trainable
    with pytest.raises(ConfigError, match="embed.pairs"):
        load_config("smoke", {"embed.pairs": "both"})


def test_a_derived_reward_list_replaces_the_base_list(tmp_path):
    """Lists are not merged: a derived config's train.rewards is its whole list (mappings such as
    train.grpo merge key by key), as the config.py docstring and the README say."""
    (tmp_path / "mine.yaml").write_text("base: cpu-demo\ntrain:\n  rewards:\n    - {name: cosine}\n"
                                        "  grpo: {learning_rate: 3.0e-4}\n")
    cfg = load_config(tmp_path / "mine.yaml")
    assert [r.name for r in cfg.train.rewards] == ["cosine"]
    assert cfg.train.grpo["learning_rate"] == 3e-4 and cfg.train.grpo["max_steps"] == 90


def test_a_config_file_makes_rewards_next_to_it_importable(tmp_path):
    import sys
    (tmp_path / "mine.yaml").write_text("base: smoke\ntrain:\n  rewards: [{name: mine.brevity}]\n")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "run.yaml").write_text("base: smoke\n")  # names no module: left alone
    load_config(tmp_path / "mine.yaml")
    load_config(tmp_path / "plain" / "run.yaml")
    assert str(tmp_path.resolve()) in sys.path and str((tmp_path / "plain").resolve()) not in sys.path


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("base: smoke\ntrain:\n  rewards: [\n    {name: cosine\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml, line \d+: not valid YAML"):
        load_config(path)
