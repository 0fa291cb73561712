"""The command line: the kit's own errors read as one line and a non-zero exit, not a traceback."""
import pytest

from bluekit import cli
from bluekit.config import ConfigError


def test_a_kit_error_prints_one_line_and_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--config", "nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown preset 'nope'" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        cli.main(["train", "--set", "train.max_steps=3"])
    assert "train.grpo.max_steps" in capsys.readouterr().err  # the message says where it goes


def test_debug_shows_the_traceback_and_a_bug_keeps_its_own(monkeypatch):
    with pytest.raises(ConfigError):
        cli.main(["train", "--config", "nope", "--debug"])
    with pytest.raises(ConfigError):
        cli.main(["--debug", "train", "--set", "train.max_stepz=3"])

    def broken(args):
        raise RuntimeError("a bug")
    monkeypatch.setattr(cli, "cmd_demo_data", broken)
    with pytest.raises(RuntimeError, match="a bug"):  # not swallowed into one line
        cli.main(["demo-data"])


def test_a_missing_dataset_names_the_file_and_the_download_command(capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["baselines", "--set", "data.source=amazon", "--set", f"data.raw_dir={tmp_path}"])
    err = capsys.readouterr().err
    assert "not found" in err and "python -m bluekit download amazon" in err


def _one_line_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.count("\n") == 0 and "Traceback" not in err, err
    return err


def test_malformed_files_and_missing_folders_are_one_line_errors(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: smoke\ntrain:\n  grpo: {max_steps: 3\n  seed: 1\n")
    err = _one_line_error(capsys, ["train", "--config", str(bad)])
    assert "bad.yaml, line" in err and "not valid YAML" in err
    with pytest.raises(ConfigError):  # --debug shows the traceback
        cli.main(["train", "--config", str(bad), "--debug"])
    assert "--set train.seed=[" in _one_line_error(capsys, ["train", "--set", "train.seed=["])
    assert "no such run folder" in _one_line_error(
        capsys, ["evaluate", "--config", "smoke", "--run", str(tmp_path / "missing")])
    assert "not a study folder" in _one_line_error(capsys, ["table", str(tmp_path)])
    (tmp_path / "reference.json").write_text('{"methods": [')  # a corrupt study file
    assert "reference.json" in _one_line_error(capsys, ["table", str(tmp_path)])
    run = tmp_path / "run"  # a run folder (or a published one) whose config is corrupt
    run.mkdir()
    (run / "config.yaml").write_text("name: x\n  data: [\n")
    assert "config.yaml" in _one_line_error(capsys, ["report", str(run), "--out", str(tmp_path / "r.html")])


def test_a_run_with_corrupt_weights_or_run_json_is_named(tmp_path, tiny_lm):
    """A truncated model file (a published run copied half-way) and a corrupt run.json: one
    FileFormatError naming the folder or file, not the loaders' tracebacks."""
    from bluekit.config import load_config, save_config
    from bluekit.errors import FileFormatError
    from bluekit.train import publish_run
    from bluekit.train.run import load_trained_profiler
    model, tokenizer = tiny_lm
    run = tmp_path / "run"
    model.save_pretrained(run / "final")
    tokenizer.save_pretrained(run / "final")
    save_config(load_config("smoke"), run / "config.yaml")
    weights = run / "final" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])
    with pytest.raises(FileFormatError, match=r"run/final: the trained weights cannot be loaded"):
        load_trained_profiler(run)
    for name in ("metrics.jsonl", "snapshots.jsonl", "final/adapter_config.json",
                 "final/adapter_model.safetensors"):  # what publish checks for first
        (run / name).write_text("")
    (run / "run.json").write_text('{"seed": 0,')
    with pytest.raises(FileFormatError, match=r"run/run.json: cannot be read"):
        publish_run(run, "x", "make x")
