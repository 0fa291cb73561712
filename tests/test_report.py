"""The offline report: one self-contained HTML file, under 10 MB, that a real headless browser with
no network opens, draws and animates; the published run joins when the run barely moved."""
from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from bluekit.train.records import append_jsonl


@pytest.fixture(scope="module")
def ws():
    from bluekit import pipeline
    from bluekit.config import load_config
    return pipeline.workspace(load_config("smoke"))


def make_run(ws, folder, moving: bool, users: int = 3, steps=(0, 2, 4)):
    """A run folder as training writes it (config.yaml, run.json, metrics.jsonl, snapshots.jsonl),
    with real embedded profiles: they name the positive's title at the end when `moving`."""
    from bluekit.config import load_config, save_config

    folder.mkdir(parents=True, exist_ok=True)
    cfg = load_config("smoke", {"train.output_dir": str(folder), "eval.out_dir": str(folder)})
    save_config(cfg, folder / "config.yaml")
    lines = []
    for _, ex in ws.test_examples.head(users).iterrows():
        title = ws.prepared.items.title[ws.prepared.item_index[ex.item_id]]
        for k, step in enumerate(steps):
            text = (f"Likes nice things. Wants the {title}." if moving and k == len(steps) - 1
                    else "Likes nice things. Buys clothes online.")
            lines.append({"step": step, "user_id": ex.user_id, "text": text,
                          "embedding": ws.embedder.encode_queries([text])[0].tolist(),
                          "rewards": {"infonce": -3.0 + k, "length_format": 0.0, "total": -3.0 + k},
                          "positive": ex.item_id})
    append_jsonl(folder / "snapshots.jsonl", lines)
    append_jsonl(folder / "metrics.jsonl", [{"step": s, "reward": -3.0 + 0.5 * s, "rewards/infonce/mean": -3.0 + 0.5 * s}
                                            for s in range(1, steps[-1] + 1)])
    (folder / "run.json").write_text(json.dumps({"seed": 0, "global_step": steps[-1], "wall_time_s": 12.0}))
    return folder


def held_out_results(ws, folder, moved: bool = True):
    """A results file as notebook 04 saves it: the last-item baseline, untrained and trained
    profilers (trained = untrained when not `moved`)."""
    from bluekit.evaluate import evaluate_queries, save_results

    ex = ws.test_examples
    index = ws.prepared.item_index
    last = ws.item_vecs[[index[h[-1]] for h in ex.history]]
    target = ws.item_vecs[[index[i] for i in ex.item_id]]
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(target.shape).astype(np.float32)
    untrained, trained = noise + 0.2 * target, noise + (1.0 if moved else 0.2) * target
    results = [evaluate_queries(name, q / np.linalg.norm(q, axis=1, keepdims=True), ws.item_vecs, ex, index)
               for name, q in (("last item", last), ("untrained profiler", untrained),
                               ("trained profiler (GRPO)", trained))]
    return save_results(results, folder / "trained_vs_untrained.json")


@pytest.fixture(scope="module")
def report(ws, tmp_path_factory):
    from bluekit.report import write_report
    from bluekit.viz import item_map

    root = tmp_path_factory.mktemp("runs")
    run = make_run(ws, root / "moved", moving=True)
    held_out_results(ws, run)
    imap = item_map(ws)
    return write_report(run, root / "report.html", compare="never", ws=ws, imap=imap)


def test_report_is_one_self_contained_file_under_10_mb(report):
    html = report.path.read_text()
    assert report.bytes <= 10 * 1024 * 1024
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html), "everything must be inline"
    assert html.count("Plotly.newPlot") == 2  # the map and the reward curves
    assert "plotly.js" in html[:200_000] and "https://" not in re.sub(r"<script.*?</script>", "", html, flags=re.S)
    for part in ("trajectory-map", "reward-curves", "before and after", "95% CI", "Paired tests",
                 "trained profiler (GRPO)", "How to read this report"):
        assert part in html, part
    assert report.moved is True and not report.included_published
    assert "trained_vs_untrained.json" in report.evaluation_source


def test_the_first_screen_says_what_happened_in_three_sentences_and_where_it_comes_from(report):
    html = report.path.read_text()
    top = html[html.index("<body>"):html.index("trajectory-map")]
    summary = re.search(r'<div class="summary" id="summary">(.*?)</div>', top, re.S).group(1)
    sentences = re.findall(r"<p>(.*?)</p>", summary, re.S)
    measured = "item_description" in html  # a fourth sentence says whether profiles stay readable
    assert len(sentences) == 3 + measured
    assert not measured or "Still user profiles?" in sentences[3]
    assert "What was trained" in sentences[0] and "GRPO steps" in sentences[0]
    assert "moved <b>up</b>" in sentences[1] and "Wilcoxon" in sentences[1] and "by chance" in sentences[1]
    assert "raw history text" in sentences[2] and "last item" in sentences[2]
    assert "Where these numbers come from" in top and "trained_vs_untrained.json" in top
    assert top.index("summary") < top.index("How to read this report") < top.index("<table")
    # the baselines join the saved results (which had only the last item), on the same users
    rows = re.findall(r"<tr class='baseline'><td>(.*?)</td>", html)
    assert {"last item", "raw history text"} <= set(rows)
    assert "baselines computed by the report" in report.evaluation_source
    assert "An illustration of <b>3 held-out users</b>" in html and "got worse for <b>0</b>" in html


def test_a_run_that_barely_moved_also_shows_the_published_run(ws, tmp_path):
    from bluekit.report import write_report

    still = make_run(ws, tmp_path / "still", moving=False)
    held_out_results(ws, still, moved=False)
    published = make_run(ws, tmp_path / "long", moving=True)
    held_out_results(ws, published)
    out = write_report(still, tmp_path / "r.html", published=published)
    html = out.path.read_text()
    assert out.moved is False and out.included_published
    assert "barely moved" in html and "NOT the run above" in html and "not move measurably" in html
    assert "trajectory-map-published" in html and "Its evaluation" in html
    assert write_report(still, tmp_path / "r2.html", published=published, compare="never").included_published is False


def test_cli_writes_the_report_and_names_what_is_wrong(ws, tmp_path, capsys):
    from bluekit.cli import main
    from bluekit.config import load_config, save_config

    run = make_run(ws, tmp_path / "run", moving=True)
    held_out_results(ws, run)
    main(["report", str(run), "--out", str(tmp_path / "cli.html"), "--compare", "never"])
    assert (tmp_path / "cli.html").exists() and "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["report", str(tmp_path), "--out", str(tmp_path / "x.html")])
    assert stop.value.code != 0 and "no config.yaml" in capsys.readouterr().err
    # a run with no saved evaluation and no adapter cannot be evaluated: an error naming final/
    empty = tmp_path / "empty"
    empty.mkdir()
    save_config(load_config("smoke", {"train.output_dir": str(empty), "eval.out_dir": str(empty)}),
                empty / "config.yaml")
    with pytest.raises(SystemExit) as stop:
        main(["report", str(empty), "--out", str(tmp_path / "empty.html"), "--compare", "never"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and str(empty / "final") in err.splitlines()[-1]
    assert "Traceback" not in err  # one line (above it only the embedder's progress bars)
    assert not (tmp_path / "empty.html").exists()


def test_a_run_whose_adapter_cannot_be_loaded_is_an_error_naming_the_file(ws, tmp_path):
    """No quiet fallback to the 8-user panel: a truncated adapter stops the report."""
    from bluekit.report import ReportError, write_report

    run = make_run(ws, tmp_path / "broken", moving=True)
    final = run / "final"
    final.mkdir()
    (final / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8,
        "target_modules": ["q_proj", "v_proj"], "base_model_name_or_path": None}))
    (final / "adapter_model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{\"a\"")
    with pytest.raises(ReportError) as err:
        write_report(run, tmp_path / "r.html", compare="never", ws=ws)
    message = str(err.value)
    assert str(final / "adapter_model.safetensors") in message and "\n" not in message
    assert not (tmp_path / "r.html").exists()


def test_report_draws_and_plays_in_headless_chromium_without_network(report, tmp_path):
    from browser import console_errors, offline_chromium, wait_for

    n_items = report.n_items
    with offline_chromium() as driver:
        driver.get(report.path.as_uri())
        # what a viewer reads first: the three sentences and the baselines row, on screen
        summary = driver.find_element("id", "summary")
        assert summary.is_displayed() and summary.rect["y"] < 400
        text = summary.text
        assert "What was trained" in text and "Held-out users" in text and "Wilcoxon" in text
        assert "raw history text" in text and "last item" in text
        assert "Where these numbers come from" in text
        baseline_rows = driver.find_elements("css selector", "#evaluation tr.baseline")
        assert {r.text.split(" ")[0] for r in baseline_rows} >= {"last", "raw"}
        first_screen = tmp_path / "report-first-screen.png"
        driver.save_screenshot(str(first_screen))
        points = wait_for(driver, "(document.querySelector('#trajectory-map .scatterlayer .trace') || "
                                  "{querySelectorAll: () => []}).querySelectorAll('path.point').length")
        assert points == n_items  # the item background: one drawn point per catalogue item
        gd = "document.getElementById('trajectory-map')"
        assert driver.execute_script(f"return {gd}._fullData[0].x.length") == n_items
        paths = driver.execute_script(
            f"return {gd}.data.filter(t => t.meta === 'path').length")
        assert paths == report.panel_users
        before = driver.execute_script(f"return [{gd}._fullLayout.sliders[0].active, "
                                       f"{gd}.data.find(t => t.meta === 'path').x.length]")
        driver.find_element("css selector", "#trajectory-map .updatemenu-button").click()  # ▶ play
        after = wait_for(driver, f"(() => {{ const a = [{gd}._fullLayout.sliders[0].active, "
                                 f"{gd}.data.find(t => t.meta === 'path').x.length]; "
                                 f"return (a[0] !== {before[0]} || a[1] !== {before[1]}) && a; }})()", timeout=20)
        assert after != before
        time.sleep(2.5)  # let the animation run to its last frame
        # one user at a time: the users menu's choice fades everyone else (as exported, no kernel)
        driver.execute_script("const gd = document.getElementById('trajectory-map');"
                              "gd.scrollIntoView(); const menu = gd.layout.updatemenus.at(-1);"
                              "Plotly.restyle(gd, menu.buttons[1].args[0]);")
        faded = driver.execute_script(
            f"return {gd}._fullData.filter(t => t.meta === 'path').map(t => t.opacity)")
        assert faded[0] > 0.5 and all(o < 0.1 for o in faded[1:])
        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
        errors = console_errors(driver)
    assert not errors, errors
    assert shot.stat().st_size > 20_000 and first_screen.stat().st_size > 20_000
    print(f"\nscreenshots of the report: {first_screen} (first screen), {shot} (map, one user)")


def test_readability_random_profiles_and_the_falling_reward_caption_show_when_they_exist(ws, tmp_path):
    """Readability columns sit beside the ranks when the results carry them; five random
    held-out profiles (not the best) are shown; a reward that falls while ranks rise is explained."""
    import pandas as pd

    from bluekit import pipeline
    from bluekit.config import load_config
    from bluekit.evaluate import load_results, save_results
    from bluekit.readability import sample_profiles
    from bluekit.report import write_report
    from bluekit.report_text import reward_falls_while_ranks_rise
    from bluekit.train.records import append_jsonl

    run = make_run(ws, tmp_path / "run", moving=True)
    results = load_results(held_out_results(ws, run))
    results[-1].summary.update({"quiz_accuracy": 0.41, "quiz_accuracy_ci_low": 0.3,
                                "quiz_accuracy_ci_high": 0.52, "item_description": 0.1})
    save_results(results, run / "trained_vs_untrained.json")
    profiles = {u: f"profile of {u}" for u in ws.test_examples.user_id}
    key = pipeline.profiles_key(ws, load_config(run / "config.yaml").profiler, run)
    (run / "test_profiles.json").write_text(json.dumps({"key": key, "profiles": profiles}))
    (run / "metrics.jsonl").unlink()  # a reward that rises, then falls over the last quarter
    append_jsonl(run / "metrics.jsonl", [{"step": s, "reward": -abs(s - 12) / 10} for s in range(1, 21)])
    html = write_report(run, tmp_path / "r.html", compare="never", ws=ws).path.read_text()
    assert "<th>item_description</th>" in html and "<th>quiz_accuracy</th>" in html
    assert "0.41<br><span class='small'>[0.30, 0.52]</span>" in html
    assert "<th>fluency</th>" not in html  # only what was measured
    shown = re.findall(r"<tr><td>([^<]+)</td><td class='profile'>", html.split("id='samples'")[1])
    assert shown == [u for u, _ in sample_profiles(profiles, n=5, seed=0)]
    assert 'id="reward-caption"' in html and "not a contradiction" in html
    metrics = pd.DataFrame({"step": range(1, 21), "reward": [-abs(s - 12) / 10 for s in range(1, 21)]})
    assert reward_falls_while_ranks_rise(metrics, ranks_rose=False) is None  # nothing to explain
    assert reward_falls_while_ranks_rise(metrics.assign(reward=metrics.step), True) is None  # rising
