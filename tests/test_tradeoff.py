"""The rank-against-readability table: each target decided against one untrained profiler."""
import numpy as np
import pandas as pd
import pytest

from bluekit.cli import main
from bluekit.evaluate import MethodResult, metrics_from_ranks, save_results, summarize
from bluekit.tradeoff import TARGETS, meets_targets, tradeoff_table

N = 60


def result(name, ranks, item=0.0, repetitive=0.2, coverage=0.2, quiz=0.3, fluency=-3.0):
    per_user = metrics_from_ranks(np.asarray(ranks, float)).assign(user_id=[f"u{i}" for i in range(N)])
    summary = summarize(per_user)
    summary.update(item_description=item, repetitive=repetitive, history_coverage=coverage,
                   quiz_accuracy=quiz, fluency=fluency)
    return MethodResult(name, per_user, summary)


UNTRAINED = result("untrained profiler", np.full(N, 400.0))
HISTORY = result("raw history text", np.full(N, 50.0), item=0.6, repetitive=1.0)
# every user's target rises from 400 to 5: rank moves; profiles describe items, repeat, cover less
COLLAPSED = result("trained profiler (GRPO)", np.full(N, 5.0), item=0.9, repetitive=0.35, coverage=0.4, quiz=0.6)
READABLE = result("readable", np.full(N, 5.0), item=0.05, repetitive=0.1, coverage=0.25, quiz=0.35)
STILL = result("still", np.full(N, 400.0), item=0.0, repetitive=0.1, coverage=0.2, quiz=0.3)


def test_targets_against_the_untrained_profiler():
    readable = meets_targets(READABLE, UNTRAINED)
    assert readable["p_mrr"] < 0.05 and all(readable[target] for target in TARGETS)
    collapsed = meets_targets(COLLAPSED, UNTRAINED)
    assert collapsed["rank"] and not collapsed["about_user"] and not collapsed["not_repetitive"]
    still = meets_targets(STILL, UNTRAINED)
    assert still["p_mrr"] == 1.0 and not still["rank"] and still["about_user"]
    worse = meets_targets(result("worse", np.full(N, 900.0)), UNTRAINED)
    assert worse["p_mrr"] < 0.05 and not worse["rank"]  # significant, but the wrong way


def test_table_and_cli_from_results_files(tmp_path, capsys):
    save_results([UNTRAINED, COLLAPSED, HISTORY], tmp_path / "long.json")
    save_results([UNTRAINED, READABLE, STILL], tmp_path / "other.json")
    table = tradeoff_table([f"long={tmp_path / 'long.json'}", str(tmp_path / "other.json")])
    assert table[table.reference].profiler.tolist() == ["long/untrained profiler", "long/raw history text"]
    points = table[~table.reference].set_index("profiler")
    assert points.loc["other/readable", "all_targets"]
    assert not points.loc["long/trained profiler (GRPO)", "all_targets"]
    assert not points.loc["other/still", "all_targets"]
    main(["tradeoff", str(tmp_path / "other.json"), "--out", str(tmp_path / "out")])
    assert "other/readable" in capsys.readouterr().out
    saved = pd.read_csv(tmp_path / "out" / "tradeoff.csv")
    assert saved.profiler.tolist() == ["other/untrained profiler", "other/readable", "other/still"]
    assert (tmp_path / "out" / "tradeoff.html").stat().st_size > 10_000


def test_bad_sources_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["tradeoff", str(tmp_path / "missing")])
    assert exit_.value.code == 2 and "neither a study folder nor a results file" in capsys.readouterr().err
    save_results([READABLE], tmp_path / "no-untrained.json")
    with pytest.raises(SystemExit):
        main(["tradeoff", str(tmp_path / "no-untrained.json")])
    assert "no 'untrained profiler'" in capsys.readouterr().err
