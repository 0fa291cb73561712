"""The README's code runs: every ```python block is executed and every ```yaml config loads, with
its rewards resolved. A block named by its first line (`# my_rewards.py`, `# my_run.yaml`) is
written to a folder under that name first, beside copies of examples/*.py, so a config can name
the README's or the examples' rewards by dotted path. A block right after a `<!-- no-test -->`
line is skipped (for code that needs a GPU, the hub or hours)."""
import re
import shutil
import sys
from pathlib import Path

import pytest

from bluekit.config import load_config
from bluekit.rewards.registry import resolve

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>python|yaml)\n(?P<code>.*?)\n```", re.DOTALL)


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every tested block, in order.

    >>> readme_blocks("x\\n```python\\n1\\n```\\n<!-- no-test -->\\n```yaml\\na: 1\\n```")
    [('python', '1')]
    """
    return [(m["lang"], m["code"]) for m in FENCE.finditer(text)
            if m["before"].strip() != "<!-- no-test -->"]


def file_name(code: str) -> str | None:
    """The file a block stands for, from its first line (`# my_run.yaml` or `# cat.yaml (...)`)."""
    match = re.match(r"#\s*([\w.-]+\.(?:py|yaml))\b", code)
    return match[1] if match else None


def test_readme_code_blocks_run_and_its_configs_load(tmp_path, monkeypatch):
    blocks = readme_blocks((ROOT / "README.md").read_text())
    assert {lang for lang, _ in blocks} == {"python", "yaml"}
    for example in (ROOT / "examples").glob("*.py"):
        shutil.copy(example, tmp_path)
    for _, code in blocks:
        if file_name(code):
            (tmp_path / file_name(code)).write_text(code + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("my_rewards", "cat_rewards"):  # the README's own versions, imported here only
        monkeypatch.delitem(sys.modules, module, raising=False)
    try:
        _run_blocks(blocks, tmp_path)
    finally:  # later tests import the examples' modules of the same names
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(tmp_path)):
                del sys.modules[name]


def _run_blocks(blocks, tmp_path):
    for lang, code in blocks:
        if lang == "python":
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
        else:
            cfg = load_config(tmp_path / file_name(code)) if file_name(code) else None
            assert cfg is not None, f"a yaml block without a `# NAME.yaml` first line:\n{code}"
            for spec in cfg.train.rewards:
                resolve(spec.name)  # the README's own reward modules, and the examples'
            assert {"rank_reward", "length_format"} <= {r.name for r in cfg.train.rewards}, \
                "README configs extend cpu-demo's working rewards"


@pytest.mark.parametrize("name", ["cat-demo.yaml"])
def test_example_configs_keep_cpu_demos_rewards(name):
    base = load_config("cpu-demo").train.rewards
    assert load_config(ROOT / "examples" / name).train.rewards[:len(base)] == base
