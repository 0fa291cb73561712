"""python -m bluekit compare: configurations trained under one budget, evaluated against the
untrained profiler on the same held-out users, written as a table, and resumable."""
import json

import pandas as pd
import pytest

from bluekit.compare import compare, rebuild_table, reward_rise
from bluekit.config import ConfigError


@pytest.mark.slow
def test_compare_trains_evaluates_tabulates_and_resumes(tmp_path):
    fast = tmp_path / "fast.yaml"
    fast.write_text("base: smoke\ntrain:\n  grpo:\n    learning_rate: 3.0e-3\n")
    out = tmp_path / "study"
    table = compare(["smoke", f"fast={fast}"], out, steps=3, seeds=[0], eval_at=[2], jobs=2)

    trained = table[table["seed"] == 0]
    assert sorted(zip(trained["config"], trained["step"])) == [("fast", 2), ("fast", 3),
                                                              ("smoke", 2), ("smoke", 3)]
    assert {"untrained profiler", "raw history text", "last item"} <= set(table["config"])
    assert trained[["p_ndcg@10", "p_mrr"]].stack().between(0, 1).all()
    assert trained["clipped"].between(0, 1).all() and (trained["n"] == 36).all()
    means = table[table["seed"] == "mean"]
    assert len(means) == 4 and set(means["seeds_p_mrr<0.05"]) <= {"0/1", "1/1"}
    written = pd.read_csv(out / "table.csv")
    assert len(written) == len(table) and (out / "table.md").read_text().startswith("| config")
    assert (out / "smoke" / "seed-0" / "step-2" / "eval.json").exists()

    # Rerunning resumes: nothing is trained or evaluated again.
    def stamps():
        return {p: p.stat().st_mtime_ns for p in out.rglob("*.json") if p.parent != out}
    before = stamps()
    again = compare(["smoke", f"fast={fast}"], out, steps=3, seeds=[0], eval_at=[2], jobs=2)
    assert stamps() == before
    assert again.equals(table)
    # The table can be rebuilt from the folder alone (a study read while it runs, or merged).
    def rows(t):
        return sorted(map(tuple, t[["config", "seed", "step", "mrr", "p_mrr"]].astype(str).values))
    assert rows(rebuild_table(out)) == rows(table)
    with pytest.raises(ConfigError, match="not a study folder"):
        rebuild_table(tmp_path)

    # The same configuration with a larger budget continues from its last checkpoint.
    longer = compare(["smoke"], out, steps=4, seeds=[0], eval_at=[2])
    smoke_dir = out / "smoke" / "seed-0"
    assert json.loads((smoke_dir / "run.json").read_text())["resumed_from"].endswith("checkpoint-3")
    assert sorted(longer.loc[longer["seed"] == 0, "step"]) == [2, 4]
    before = stamps()

    # A changed configuration retrains that configuration only.
    fast.write_text("base: smoke\ntrain:\n  grpo:\n    learning_rate: 2.0e-3\n")
    compare(["smoke", f"fast={fast}"], out, steps=4, seeds=[0], eval_at=[2], jobs=2)
    smoke_run = out / "smoke" / "seed-0" / "run.json"
    assert smoke_run.stat().st_mtime_ns == before[smoke_run]
    assert json.loads((out / "fast" / "seed-0" / "run.json").read_text())["global_step"] == 4
    fast_run = out / "fast" / "seed-0" / "run.json"
    assert fast_run.stat().st_mtime_ns != before[fast_run]


def test_compare_refuses_what_would_make_the_comparison_unfair(tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("base: smoke\neval:\n  test_users: 10\n")
    with pytest.raises(ConfigError, match="differ in data, eval or embed"):
        compare(["smoke", str(other)], tmp_path / "x", steps=2)
    with pytest.raises(ConfigError, match="share a label"):
        compare(["smoke", "smoke"], tmp_path / "x", steps=2)
    with pytest.raises(ConfigError, match="budget"):
        compare(["smoke"], tmp_path / "x")
    with pytest.raises(ConfigError, match="train.grpo.learning_rat"):
        compare(["smoke"], tmp_path / "x", steps=2, overrides={"train.grpo.learning_rat": 1})


def test_reward_rise_needs_a_real_rise_to_exclude_zero():
    flat = reward_rise([0.0, 1.0] * 20)
    assert flat["ci_low"] < 0 < flat["ci_high"]
    rising = reward_rise(list(range(40)))
    assert rising["rise"] == 30 and rising["ci_low"] > 0
