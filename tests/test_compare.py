"""python -m bluekit compare: configurations trained under one budget, evaluated against the
untrained profiler on the same held-out users, written as a table, and resumable."""
import json

import pandas as pd
import pytest

from bluekit.compare import compare, rebuild_table, reward_rise
from bluekit.config import ConfigError
from bluekit.study_table import StudyError


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
    with pytest.raises(StudyError, match="not a study folder"):
        rebuild_table(tmp_path)

    # The same configuration with a larger budget continues from its last checkpoint.
    longer = compare(["smoke"], out, steps=4, seeds=[0], eval_at=[2])
    smoke_dir = out / "smoke" / "seed-0"
    assert json.loads((smoke_dir / "run.json").read_text())["resumed_from"].endswith("checkpoint-3")
    assert sorted(longer.loc[longer["seed"] == 0, "step"]) == [2, 4]
    # ... also when its folder was copied into another study, with other curve points.
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(smoke_dir, copy / "smoke" / "seed-0")
    shutil.copy(out / "reference.json", copy / "reference.json")
    compare(["smoke"], copy, steps=5, seeds=[0], eval_at=[2, 3])
    assert json.loads((copy / "smoke" / "seed-0" / "run.json").read_text())["resumed_from"].endswith("checkpoint-4")
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


# --------------------------------------------------------------------------- tables from folders

def _result(name, mrr, item_description=None):
    """A MethodResult over users u0..u(n-1) with the given per-user MRR (NDCG@10 follows it)."""
    from bluekit.evaluate import MethodResult
    import numpy as np
    mrr = np.asarray(mrr, float)
    per_user = pd.DataFrame({"user_id": [f"u{i}" for i in range(len(mrr))], "mrr": mrr,
                             "ndcg@10": mrr * 0.0 if name == "untrained profiler" else mrr,
                             "recall@10": mrr, "rank": 1 / np.maximum(mrr, 1e-3)})
    summary = {c: float(per_user[c].mean()) for c in ("mrr", "ndcg@10", "recall@10")}
    summary.update(median_rank=float(per_user["rank"].median()), n=len(mrr))
    if item_description is not None:
        per_user["item_description"] = np.asarray(item_description, float)
        summary.update(item_description=float(per_user["item_description"].mean()),
                       item_description_ci_low=0.0, item_description_ci_high=1.0)
    return MethodResult(name, per_user, summary)


@pytest.fixture
def study(tmp_path):
    """A study folder written by hand: base (seeds 0, 1), better (+0.05 MRR for every user, fewer
    item descriptions), same (= base), and a run whose worker never finished."""
    import numpy as np
    from bluekit.evaluate import save_results
    rng = np.random.default_rng(0)
    n = 60
    out = tmp_path / "study"
    out.mkdir()
    save_results([_result("untrained profiler", rng.uniform(0, 0.02, n), np.ones(n))], out / "reference.json")
    for seed in (0, 1):
        base = rng.uniform(0, 0.1, n)
        for label, mrr, described in (("base", base, np.ones(n)), ("better", base + 0.05, np.zeros(n)),
                                      ("same", base, np.ones(n))):
            folder = out / label / f"seed-{seed}"
            folder.mkdir(parents=True)
            (folder / "run.json").write_text(json.dumps({"global_step": 4}))
            save_results([_result(label, mrr, described)], folder / "eval.json")
    (out / "broken" / "seed-0").mkdir(parents=True)
    return out


def test_vs_table_pairs_each_configuration_with_the_label_per_seed_and_pooled(study):
    table = rebuild_table(study, vs="base")
    assert list(table["config"]) == ["better", "same"]
    better, same = table.iloc[0], table.iloc[1]
    assert better["seeds"] == "0 1" and better["n_users"] == 60  # pooled over seeds: n = users
    assert better["d_mrr"] == pytest.approx(0.05) and better["d_mrr_ci_low"] > 0 and better["p_mrr"] < 1e-6
    assert len(better["p_mrr_per_seed"].split()) == 2
    assert better["d_item_description"] == pytest.approx(-1.0)
    assert same["d_mrr"] == 0 and same["p_mrr"] == 1
    md = (study / "table-vs-base.md").read_text()
    assert "| better | 4 | 0 1 | 60 |" in md and "Δitem_description (p)" in md
    assert len(pd.read_csv(study / "table-vs-base.csv")) == 2
    with pytest.raises(StudyError, match="no evaluated run of 'nope'"):
        rebuild_table(study, vs="nope")


def test_study_table_shows_readability_guards_ndcg_x_and_names_unfinished_runs(study):
    table = rebuild_table(study)
    rows = table[table["seed"] == 0].set_index("config")
    # The untrained NDCG@10 is 0: no ratio over zero.
    assert rows["ndcg_x"].isna().all()
    assert rows.loc["better", "item_description"] == 0 and rows.loc["better", "p_item_description"] < 1e-6
    assert "compare.log" in rows.loc["broken", "note"]
    md = (study / "table.md").read_text()
    header = md.splitlines()[0]
    assert "| item_description (p) |" in header and "_ci_low" not in header.replace("rise_ci_low", "")
    assert "| 0.0000 (9.5e-15) |" in md  # "better" has no item descriptions: mean (p)
    assert "e+" not in md and "training not finished" in md
    assert "item_description_ci_low" in pd.read_csv(study / "table.csv").columns


def test_table_cli_prints_the_vs_table_and_errors_in_one_line(study, capsys):
    from bluekit.cli import main
    main(["table", str(study), "--vs", "base"])
    assert "| better | 4 |" in capsys.readouterr().out
    (study / "same" / "seed-1" / "eval.json").write_text("{not json")
    with pytest.raises(SystemExit) as exit:
        main(["table", str(study)])
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "same/seed-1/eval.json" in err


@pytest.mark.slow
def test_compare_imports_rewards_next_to_their_config_and_names_a_failed_run(tmp_path, capsys):
    """A config and its reward module in a folder outside the repo work in the workers (and are
    recorded for a later report); a worker that fails stops the CLI with one line naming it."""
    import subprocess
    import sys
    from bluekit.cli import main
    folder = tmp_path / "my-study"
    folder.mkdir()
    (folder / "short_rewards.py").write_text(
        "from bluekit.rewards import completion_text\n\n"
        "def short(completions, **kwargs):\n"
        "    return [-len(completion_text(c).split()) / 50 for c in completions]\n\n"
        "def broken(completions, **kwargs):\n"
        "    raise RuntimeError('this reward is broken on purpose')\n")
    rewards = "train:\n  rewards:\n    - {name: length_format, weight: 0.5}\n"
    (folder / "short.yaml").write_text(f"base: smoke\n{rewards}    - {{name: short_rewards.short, weight: 0.2}}\n")
    (folder / "bad.yaml").write_text(f"base: smoke\n{rewards}    - {{name: short_rewards.broken}}\n")
    out = tmp_path / "study"
    with pytest.raises(SystemExit) as exit:
        main(["compare", "smoke", str(folder / "short.yaml"), str(folder / "bad.yaml"), "--steps", "2",
              "--jobs", "2", "--out", str(out), "--vs", "smoke"])
    assert exit.value.code == 2
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()[-1]  # after the progress bars of the reference
    assert error.startswith("bluekit compare: error:") and "Traceback" not in captured.err
    assert "1 of 3 runs failed" in error and "bad seed 0" in error and str(out / "bad" / "seed-0" / "compare.log") in error
    assert "broken on purpose" in error  # the log's last line
    # The runs that finished are in both tables; the failed one is named in the main table.
    vs = pd.read_csv(out / "table-vs-smoke.csv")
    assert list(vs["config"]) == ["short"] and vs["p_mrr"].between(0, 1).all()
    assert "| short | 2 |" in captured.out and "training not finished" in (out / "table.md").read_text()
    # The run remembers where its reward came from: a report in another process imports it again.
    run_json = json.loads((out / "short" / "seed-0" / "run.json").read_text())
    assert run_json["reward_folders"] == [str(folder.resolve())]
    check = ("import sys; from bluekit.train.run import import_run_rewards; "
             f"import_run_rewards({str(out / 'short' / 'seed-0')!r}); import short_rewards")
    subprocess.run([sys.executable, "-c", check], check=True, cwd=tmp_path)


def test_vs_must_name_one_of_the_configurations(tmp_path):
    with pytest.raises(ConfigError, match="--vs nope is not one of the configurations"):
        compare(["smoke"], tmp_path / "x", steps=2, vs="nope")
