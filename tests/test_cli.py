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
