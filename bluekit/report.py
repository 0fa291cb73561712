"""One self-contained HTML report of a training run, for readers who never open code.

    python -m bluekit report runs/demo/train --out runs/demo/report.html
    write_report(run_dir, out)                       # -> Report (path, size, what it holds)

The file opens in any browser with no network and no kernel: plotly.js is inlined once, every
figure is plain JSON + a script. The first screen is three plain sentences (what was trained,
whether held-out users moved and the test's p-value in words, how it compares with the raw
history text and the last item: bluekit.report_text), where those numbers came from, and a
how-to-read box. Then the evaluation table (baselines always included, readability columns when
the results carry them, five random profiles), and per run the trajectory map, the reward curves
and the panel's profiles before and after, labelled as an illustration of a few users. When
the run barely moved the profiles (see `barely_moved`), the published long run
(`bluekit.train.pretrained_run("cpu-long")`) follows, labelled as such.

Where the numbers come from (`evaluate_run`): the `results` file given; else the newest results
JSON that notebook 04 saved for this run (with_cpu_long.json, trained_vs_untrained.json,
profiles.json in the run's eval.out_dir, the run folder or its parent, not older than the run);
else the report evaluates the run itself on every held-out user (its held-out profiles, cached
or generated from final/, against the untrained profiler's). A run that cannot be evaluated
(a missing or broken adapter) is a ReportError naming the file, never a quiet fallback. The
baselines are computed on the same users when the results lack them.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bluekit import viz
from bluekit.atomic import write_text
# Where the numbers come from (re-exported: notebooks and tests reach them as report.*).
from bluekit.report_eval import (METRICS, RESULT_FILES, ReportError, barely_moved,  # noqa: F401
                                 bootstrap_ci, evaluate_run, find_results, held_out_results,
                                 profiler_tests, results_with_ci, with_baselines)

MAX_BYTES = 10 * 1024 * 1024
PUBLISHED = "cpu-long"


@dataclass
class RunView:
    """What the report shows of one run (also what notebook 05 reads)."""
    run_dir: Path
    label: str
    cfg: object
    ws: object
    imap: viz.ItemMap
    traj: viz.Trajectories
    metrics: pd.DataFrame
    run_info: dict
    published: bool = False

    @property
    def summary(self) -> dict:
        return viz.trajectory_summary(self.traj)


@dataclass
class Report:
    path: Path
    bytes: int
    sections: list[str] = field(default_factory=list)
    moved: bool | None = None
    included_published: bool = False
    n_items: int = 0
    panel_users: int = 0
    evaluation_source: str = ""


# =========================================================================== loading runs

def is_published(run_dir: str | Path) -> bool:
    from bluekit.train.pretrained import PRETRAINED_DIR
    return Path(run_dir).resolve().parent == Path(PRETRAINED_DIR).resolve()


def resolve_run(name_or_path: str | Path) -> Path:
    """A published run's name (data/pretrained/<name>) or a run folder, as a path."""
    from bluekit.train.pretrained import PRETRAINED_DIR

    published = Path(PRETRAINED_DIR) / str(name_or_path)
    if str(name_or_path) and (published / "config.yaml").exists():
        return published
    return Path(name_or_path)


def run_label(run_dir: str | Path) -> str:
    run_dir = Path(run_dir)
    if is_published(run_dir):
        return f"{run_dir.name} (published run, data/pretrained/{run_dir.name})"
    return str(run_dir)


def load_run_config(run_dir: str | Path):
    """The run's own config (config.yaml), with a clear error when the folder is not a run."""
    from bluekit.config import load_config

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir} is not a folder: give a training run folder (train.output_dir, "
                          "e.g. runs/demo/train) or a published run (data/pretrained/cpu-long)")
    if not (run_dir / "config.yaml").exists():
        raise ReportError(f"{run_dir} has no config.yaml, so it is not a training run folder "
                          "(a run folder holds config.yaml, metrics.jsonl, snapshots.jsonl, final/)")
    try:
        return load_config(run_dir / "config.yaml")
    except Exception as err:  # a config from an older kit: say which file and why
        raise ReportError(f"{run_dir / 'config.yaml'} cannot be read by this kit: {err}") from err


def load_run(run_dir: str | Path, ws=None, imap: viz.ItemMap | None = None,
             label: str | None = None) -> RunView:
    """A run folder's config, workspace (its catalogue), item map, trajectories and logs."""
    from bluekit import pipeline
    from bluekit.train import load_metrics

    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    ws = ws if ws is not None else pipeline.workspace(cfg)
    imap = imap if imap is not None else viz.item_map(ws)
    label = label or run_label(run_dir)
    traj = viz.run_trajectories(run_dir, ws, imap, label)
    metrics = load_metrics(run_dir)
    info = {}
    if (run_dir / "run.json").exists():
        try:
            info = json.loads((run_dir / "run.json").read_text())
        except json.JSONDecodeError:
            info = {}
    return RunView(run_dir, label, cfg, ws, imap, traj, metrics, info, is_published(run_dir))


def same_catalogue(cfg_a, cfg_b) -> bool:
    """Two configs describe the same items and embedder (so one map serves both)."""
    return cfg_a.data == cfg_b.data and cfg_a.embed.model == cfg_b.embed.model


def max_step(view: RunView) -> int:
    """The run's last step, read from its logs (configs name it differently across kit versions)."""
    steps = []
    if "step" in view.metrics:
        steps.append(int(pd.to_numeric(view.metrics["step"], errors="coerce").max() or 0))
    if view.traj.steps:
        steps.append(int(view.traj.steps[-1]))
    if view.run_info.get("global_step"):
        steps.append(int(view.run_info["global_step"]))
    return max(steps or [0])


# =========================================================================== HTML pieces

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1400px; padding: 0 24px 40px; color: #222; line-height: 1.45; }
h1 { margin: 24px 0 4px; } h2 { margin-top: 36px; border-bottom: 2px solid #eee; padding-bottom: 4px; }
.sub { color: #555; margin: 0 0 12px; }
.box { border-left: 5px solid #4c78a8; background: #f4f7fb; padding: 10px 16px; margin: 14px 0; }
.box.warn { border-color: #e39d27; background: #fdf6ea; }
.published { border: 3px solid #e39d27; border-radius: 8px; padding: 0 18px 18px; margin-top: 40px; }
.published > h2 { color: #9a5b00; }
table { border-collapse: collapse; font-size: 0.92em; margin: 8px 0 16px; }
th, td { border: 1px solid #ddd; padding: 5px 8px; vertical-align: top; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.profile { max-width: 460px; } .better { color: #0a7d32; font-weight: 600; } .worse { color: #b3261e; font-weight: 600; }
.small { font-size: 0.85em; color: #666; }
"""


def _figure_html(fig, div_id: str) -> str:
    import plotly.io as pio
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id, auto_play=False,
                       default_width="100%", config={"displaylogo": False, "responsive": True})


def _e(text) -> str:
    return html.escape(str(text))


def _rank(value) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{int(value)}"


def facts_html(view: RunView) -> str:
    info, cfg = view.run_info, view.cfg
    rewards = ", ".join(f"{r.name} ×{r.weight}" for r in getattr(cfg.train, "rewards", []) or [])
    wall = info.get("total_wall_time_s") or info.get("wall_time_s")
    parts = [f"preset <b>{_e(getattr(cfg, 'name', '?'))}</b>",
             f"profiler <b>{_e(cfg.profiler.model)}</b>", f"embedder <b>{_e(cfg.embed.model)}</b>",
             f"<b>{max_step(view)}</b> GRPO steps" + (f" in {wall / 60:.0f} min" if wall else ""),
             f"rewards: {_e(rewards) or '–'}", f"seed {_e(info.get('seed', getattr(cfg.train, 'seed', '?')))}",
             f"{view.imap.n_items} items in the catalogue ({_e(cfg.data.domain)})"]
    if info.get("finished_at"):
        parts.append(f"finished {_e(info['finished_at'])}")
    if info.get("git_commit"):
        parts.append(f"commit {_e(str(info['git_commit'])[:12])}")
    return '<p class="sub">' + " · ".join(parts) + "</p>"


def panel_worse(traj) -> int:
    """Panel users whose next item ranks worse at the last snapshot than at the first."""
    if traj.empty:
        return 0
    by_step = traj.points.pivot_table(index="user_id", columns="step", values="rank")
    first, last = by_step[traj.steps[0]], by_step[traj.steps[-1]]
    return int((last > first).sum())


def movement_html(view: RunView) -> str:
    """The panel's label: an illustration of a few users, improved and worse counts, the medians."""
    from bluekit.report_text import panel_caption

    s = view.summary
    if not s.get("users"):
        return f'<div class="box warn">{_e(view.traj.message or "no panel snapshots in this run")}</div>'
    return (f'<div class="box warn" id="panel-caption">{panel_caption(s, panel_worse(view.traj))} '
            f'<span class="small">Panel medians, steps {s["first_step"]}–{s["last_step"]} '
            f'({s["steps"]} snapshots): rank {_rank(s["median_rank_first"])} → '
            f'{_rank(s["median_rank_last"])} of {view.imap.n_items}, cosine '
            f'{s["median_cosine_first"]:.3f} → {s["median_cosine_last"]:.3f}.</span></div>')


def before_after_html(view: RunView, attribute: bool = True) -> str:
    traj = view.traj
    if traj.empty:
        return ""
    first, last = traj.steps[0], traj.steps[-1]
    rows = []
    exclude_history = bool(getattr(view.cfg.eval, "exclude_history", False))
    for _, user in traj.users.iterrows():
        pts = traj.points[traj.points.user_id == user["user_id"]].set_index("step")
        if first not in pts.index or last not in pts.index:
            continue
        a, b = pts.loc[first], pts.loc[last]
        cls = "better" if b["rank"] < a["rank"] else "worse" if b["rank"] > a["rank"] else ""
        final_text = _e(b["text"]) or "<i>(empty)</i>"
        if attribute and user["positive_row"] >= 0 and b["text"].strip():
            table = viz.attribution(b["text"], int(user["positive_row"]), view.ws.item_vecs, view.ws.embedder,
                                    exclude=user["history_rows"] if exclude_history else None)
            final_text = viz.attribution_html(table)
        rows.append(
            f"<tr><td>{_e(user['label'])}</td><td>{_e(user['positive_title'])}</td>"
            f"<td class='profile'>{_e(a['text']) or '<i>(empty)</i>'}</td>"
            f"<td class='num'>{_rank(a['rank'])}<br><span class='small'>cos {a['cosine']:.3f}</span></td>"
            f"<td class='profile'>{final_text}</td>"
            f"<td class='num {cls}'>{_rank(b['rank'])}<br><span class='small'>cos {b['cosine']:.3f}</span></td></tr>")
    return ("<table><tr><th>panel user</th><th>next item (positive)</th>"
            f"<th>profile at step {first} (untrained)</th><th>rank</th>"
            f"<th>profile at step {last} (trained): green sentences pull it towards the positive, red away</th>"
            "<th>rank</th></tr>" + "".join(rows) + "</table>")


MAP_GUIDE = (
    "The faint islands are the catalogue's items, one colour per sub-category (names at their centre). "
    "For each panel user: the star is the item they chose next (the positive), the small diamonds are "
    "the history items the profiler read, the bold arrow runs from their first profile to the latest, "
    "and the dotted path shows the steps between, earlier steps fainter; each point's colour is the "
    "positive's true rank (green = near the top, red = far). Pick one user in the <i>users</i> menu "
    "to see them alone; press ▶ play or drag the slider to replay training. Hover a point for the "
    "profile text, its rewards and the positive's rank. The map squeezes the embedding into 2 "
    "dimensions, so the panels on the right, computed in the embedding space itself, are the ground truth.")


def run_section_html(view: RunView, key: str, ranks_rose: bool = False) -> str:
    """Map, reward curves and before/after profiles of one run (ranks_rose: the held-out test
    found the run better, which a falling reward curve then needs a caption beside)."""
    from bluekit.report_text import reward_falls_while_ranks_rise

    steps = max_step(view)
    fig = viz.trajectory_map(view.imap, view.traj, animate=True, max_steps=steps)
    curves = viz.reward_curves(view.metrics, steps or None)
    if not len(curves.data):
        curves.add_annotation(text="no training log lines (metrics.jsonl) in this run", x=0.5, y=0.5,
                              xref="paper", yref="paper", showarrow=False)
    caption = reward_falls_while_ranks_rise(view.metrics, ranks_rose)
    return (facts_html(view) + movement_html(view)
            + "<h3>Where the profiles went</h3>"
            + f'<p class="small">{MAP_GUIDE}</p>'
            + _figure_html(fig, f"trajectory-map{key}")
            + "<h3>Reward during training</h3>"
            + (f'<div class="box warn" id="reward-caption{key}">{_e(caption)}</div>' if caption else "")
            + _figure_html(curves, f"reward-curves{key}")
            + "<h3>The panel's profiles, before and after</h3>" + before_after_html(view))


def _readability_columns(results: list) -> list[str]:
    """The readability measures (bluekit.readability) that any of the results carries."""
    from bluekit.readability import READABILITY_METRICS
    return [m for m in READABILITY_METRICS if any(m in r.summary for r in results)]


def _readability_cell(summary: dict, metric: str) -> str:
    value = summary.get(metric)
    if value is None or not np.isfinite(value):
        return "<td></td>"
    lo, hi = summary.get(f"{metric}_ci_low", np.nan), summary.get(f"{metric}_ci_high", np.nan)
    ci = f"<br><span class='small'>[{lo:.2f}, {hi:.2f}]</span>" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f"<td class='num'>{value:.2f}{ci}</td>"


def evaluation_html(results: list, source: str, tests: list[dict]) -> str:
    """The table of every method (rank metrics with CIs, readability beside them when measured)
    and the paired tests."""
    from bluekit.evaluate import describe_test
    from bluekit.report_text import LAST_ITEM, RAW_HISTORY

    if not results:
        return '<div class="box warn">No evaluation found for this run.</div>'
    table = results_with_ci(results)
    readable = _readability_columns(results)
    summaries = {r.name: r.summary for r in results}
    head = ("".join(f"<th>{_e(m)} (95% CI)</th>" for m in METRICS if m in table)
            + "<th>median rank</th><th>n</th>" + "".join(f"<th>{_e(m)}</th>" for m in readable))
    rows = []
    for _, row in table.iterrows():
        strong = "profiler" in row["method"].lower() or "panel" in row["method"].lower()
        name = f"<b>{_e(row['method'])}</b>" if strong else _e(row["method"])
        kind = " class='baseline'" if row["method"] in (RAW_HISTORY, LAST_ITEM) else ""
        rows.append(f"<tr{kind}><td>{name}</td>{_rank_cells(row, table)}"
                    f"<td class='num'>{_rank(row.get('median rank'))}</td><td class='num'>{int(row['n'])}</td>"
                    + "".join(_readability_cell(summaries[row["method"]], m) for m in readable) + "</tr>")
    note = ("" if not readable else
            "<p class='small'>Readability (bluekit.readability; 95% CIs): item_description and repetitive "
            "are shares of profiles that describe a product instead of a person, or repeat themselves "
            "(lower is better); history_coverage is the share of the user's own history the profile "
            "retrieves; quiz_accuracy how often a frozen reader picks the next item from the profile; "
            "fluency the base model's mean log-likelihood per token (higher reads more naturally).</p>")
    out = (f'<p class="sub">Numbers from {_e(source)}. Full ranking over the whole catalogue; CIs are '
           f"seeded bootstrap intervals of the mean over users.</p>"
           f"<table id='evaluation'><tr><th>method</th>{head}</tr>{''.join(rows)}</table>" + note)
    if tests:
        trows = "".join(
            f"<tr><td>{_e(t['a'])} → {_e(t['b'])}</td><td>{_e(t['metric'])}</td>"
            f"<td class='num'>{-t['mean_diff']:+.4f}</td><td class='num'>[{-t['ci_high']:+.4f}, {-t['ci_low']:+.4f}]</td>"
            f"<td class='num'>{t['p_value']:.3g}</td><td class='num'>{t['n']}</td></tr>" for t in tests)
        out += ("<h3>Paired tests (same users, untrained → trained)</h3>"
                "<table><tr><th>comparison</th><th>metric</th><th>change</th><th>95% CI of the change</th>"
                f"<th>Wilcoxon p</th><th>n</th></tr>{trows}</table>"
                + "".join(f"<p class='small'>{_e(describe_test(t))}</p>" for t in tests))
    return out


def _rank_cells(row, table) -> str:
    return "".join(
        f"<td class='num'>{row[m][0]:.4f}<br><span class='small'>[{row[m][1]:.4f}, {row[m][2]:.4f}]</span></td>"
        if isinstance(row.get(m), tuple) else "<td></td>" for m in METRICS if m in table)


def samples_html(view: RunView) -> str:
    """Five held-out profiles drawn at random (not the best), untrained beside trained."""
    from bluekit import pipeline
    from bluekit.readability import sample_profiles

    trained = pipeline.cached_test_profiles(view.ws, view.run_dir)
    if not trained:
        return ""
    untrained = pipeline.cached_test_profiles(dataclasses.replace(view.ws, cfg=view.cfg)) or {}
    rows = "".join(f"<tr><td>{_e(user)}</td><td class='profile'>{_e(untrained.get(user, '–'))}</td>"
                   f"<td class='profile'>{_e(text) or '<i>(empty)</i>'}</td></tr>"
                   for user, text in sample_profiles(trained, n=5, seed=0))
    return ("<h3>Five held-out profiles, drawn at random (seed 0), not picked</h3>"
            "<table id='samples'><tr><th>user</th><th>untrained profiler</th><th>trained profiler</th></tr>"
            f"{rows}</table>")


def summary_html(view: RunView, results: list, tests: list[dict], source: str) -> str:
    """The first screen: three plain sentences (a fourth on readability when measured) and where
    their numbers came from."""
    from bluekit import report_text as words

    by_name = {r.name: r for r in results}
    mrr = next((t for t in tests if t["metric"] == "mrr"), None)
    untrained, trained = (by_name.get(mrr["a"]), by_name.get(mrr["b"])) if mrr else (None, None)
    baselines = {n: by_name[n] for n in (words.RAW_HISTORY, words.LAST_ITEM) if n in by_name}
    sentences = [words.trained_sentence(view.cfg, view.run_info, max_step(view), view.imap.n_items),
                 words.held_out_sentence(mrr, untrained, trained, view.imap.n_items),
                 words.baselines_sentence(trained, baselines),
                 words.readable_sentence(untrained, trained)]
    return ('<div class="summary" id="summary">' + "".join(f"<p>{s}</p>" for s in sentences if s)
            + f'<p class="small" id="source">Where these numbers come from: {_e(source)}.</p></div>'
            + words.HOW_TO_READ)


def _document(title: str, body: str) -> str:
    from plotly.offline import get_plotlyjs

    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
            f"<style>{CSS}</style>"
            "<script type='text/javascript'>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>{body}</body></html>")


# =========================================================================== the report

def demo_report(preset: str, out_dir: str | Path) -> Report | None:
    """What `make demo` ends with: the preset's training run -> out_dir/report.html (printed)."""
    from bluekit.config import load_config

    run_dir = load_config(preset).train.output_dir
    print(f"== writing {Path(out_dir) / 'report.html'} (the report of {run_dir}) ...", flush=True)
    try:
        report = write_report(run_dir, Path(out_dir) / "report.html")
    except ReportError as err:
        print(f"   no report: {err}", flush=True)
        return None
    print(f"   {report.bytes / 1e6:.1f} MB; evaluation: {report.evaluation_source}"
          + ("; the run barely moved, so it also shows the published long run" if report.included_published
             else ""), flush=True)
    return report


def _published_view(view: RunView, published: str) -> RunView:
    long_dir = resolve_run(published)
    shared = same_catalogue(view.cfg, load_run_config(long_dir))
    return load_run(long_dir, ws=view.ws if shared else None, imap=view.imap if shared else None,
                    label=run_label(long_dir) if is_published(long_dir) else f"{long_dir} (published)")


def _chosen_step(view: RunView) -> str:
    """The sentence saying which step's adapter a run published (publish --step chosen)."""
    step = view.run_info.get("published_step")
    if step is None:
        return ""
    return (f"Its adapter is step {int(step)}'s of {view.run_info.get('global_step')}, chosen on "
            "validation users (the best rank among steps whose profiles were still user profiles; "
            "selection.json); the map and the panel below follow the whole run. ")


def published_html(long_view: RunView, evaluated: list) -> str:
    """The published long run, boxed and labelled as NOT the run above."""
    in_table = any(long_view.run_dir.name in r.name for r in evaluated)
    note = "Its held-out numbers are the rows named after it in the evaluation table above." if in_table else ""
    long_eval, moved = "", False
    if not in_table:
        long_results, what = evaluate_run(long_view)
        long_tests = profiler_tests(long_results)
        moved = not barely_moved(long_view.summary, long_tests)
        long_eval = (f"<h3>Its evaluation</h3>" + evaluation_html(long_results, what, long_tests))
    return ("<div class='published'>"
            f"<h2>Published long run: {_e(long_view.run_dir.name)} (NOT the run above)</h2>"
            "<p class='sub'>Trained by <code>make train-long</code> with the same kind of settings for longer and "
            f"shipped with the kit in <code>{_e(long_view.run_dir)}</code>. {_chosen_step(long_view)}{note}</p>"
            + long_eval + run_section_html(long_view, "-published", moved) + "</div>")


def write_report(run_dir: str | Path, out: str | Path, compare: str = "auto",
                 results: str | Path | None = None, published: str = PUBLISHED,
                 ws=None, imap: viz.ItemMap | None = None) -> Report:
    """Write the report of one run to `out` (one HTML file); see the module docstring.

    compare: "auto" adds the published run `published` (a name in data/pretrained/, or a run
    folder) when this run barely moved the profiles, "always" / "never" force it. ws / imap:
    reuse a workspace and item map already built (they must be the run's catalogue).
    """
    view = load_run(run_dir, ws=ws, imap=imap)
    sections = ["summary", "evaluation", "run"]
    evaluated, source = evaluate_run(view, results)
    tests = profiler_tests(evaluated)
    main_tests = [t for t in tests if "published" not in t["b"].lower() or view.published]
    moved = not barely_moved(view.summary, main_tests)

    body = [f"<h1>BLUE profiler report: {_e(view.label)}</h1>",
            summary_html(view, evaluated, main_tests, source)]
    include = compare == "always" or (compare == "auto" and not moved)
    long_view = None
    if include and not view.published:
        try:
            long_view = _published_view(view, published)
        except ReportError as err:
            body.append(f'<div class="box warn">The published run could not be added: {_e(err)}</div>')
    if not moved:
        body.append('<div class="box warn">This run barely moved the profiles'
                    + (f"; so this report also shows the <b>published long run {_e(long_view.run_dir.name)}</b> "
                       "(trained by <code>make train-long</code>), clearly marked below." if long_view else ".")
                    + "</div>")
    body.append("<h2>Evaluation: every held-out user</h2>" + evaluation_html(evaluated, source, tests)
                + samples_html(view))
    body.append(f"<h2>The run: {_e(view.label)}</h2>" + run_section_html(view, "", moved))
    if long_view is not None:
        sections.append("published")
        body.append(published_html(long_view, evaluated))
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body.append(f"<p class='small'>Written by <code>python -m bluekit report {_e(run_dir)}</code> on {stamp}. "
                "Self-contained: no network, no kernel.</p>")
    document = _document(f"BLUE report: {view.label}", "\n".join(body))
    out = write_text(out, document)
    size = out.stat().st_size
    if size > MAX_BYTES:
        import warnings
        warnings.warn(f"{out} is {size / 1e6:.1f} MB, over the 10 MB budget")
    return Report(out, size, sections, moved, long_view is not None, view.imap.n_items,
                  int(view.summary.get("users", 0)), source)
