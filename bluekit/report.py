"""One self-contained HTML report of a training run, for readers who never open code.

    python -m bluekit report runs/demo/train --out runs/demo/report.html
    write_report(run_dir, out)                       # -> Report (path, size, what it holds)

The file opens in any browser with no network and no kernel: plotly.js is inlined once, every
figure is plain JSON + a script. It holds, per run: the trajectory map (play button and step
slider) with the true distances beside it, the reward curves, and the panel's profiles before and
after training (the final ones coloured by leave-one-out attribution); then the evaluation table
with bootstrap confidence intervals and paired tests. When the run barely moved the profiles (see
`barely_moved`), the published long run (`bluekit.train.pretrained_run("cpu-long")`) follows,
labelled as such.

Where the evaluation comes from, in order: the `results` file given; the newest results JSON that
notebook 04 / `python -m bluekit evaluate` saved in the run's eval.out_dir or the run folder
(with_cpu_long.json, trained_vs_untrained.json, profiles.json), or in the run folder or its parent
(runs/demo for runs/demo/train), and that is not older than the run; else the run's saved held-out
profiles (test_profiles.json, shipped with published runs) against the untrained profiler's; else
the snapshot panel alone (first vs last snapshot, few users, said so in the report).
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
from bluekit.errors import KitError

MAX_BYTES = 10 * 1024 * 1024
RESULT_FILES = ("with_cpu_long.json", "trained_vs_untrained.json", "profiles.json")
PUBLISHED = "cpu-long"
METRICS = ("recall@10", "ndcg@10", "mrr")


class ReportError(KitError, ValueError):
    """The report cannot be written (not a run folder, unreadable config): the message says why."""


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


# =========================================================================== evaluation

def find_results(view: RunView) -> tuple[Path | None, str]:
    """The newest saved evaluation for this run (not older than its run.json), and a note why."""
    out_dir = Path(getattr(view.cfg.eval, "out_dir", "") or view.run_dir)
    run_time = (view.run_dir / "run.json").stat().st_mtime if (view.run_dir / "run.json").exists() else 0
    for folder in dict.fromkeys([out_dir, view.run_dir, view.run_dir.parent]):
        for name in RESULT_FILES:
            path = folder / name
            if path.exists():
                if path.stat().st_mtime + 1 < run_time:
                    continue  # written before this run finished: another run's numbers
                return path, f"held-out users ({path})"
    return None, ""


def held_out_results(view: RunView) -> list:
    """Untrained vs this run on every held-out user, from the run's saved held-out profiles
    (test_profiles.json: published runs ship theirs); [] when the run has none for this data."""
    from bluekit import pipeline

    if pipeline.cached_test_profiles(view.ws, view.run_dir) is None:
        return []  # none saved, or of other users or other weights: not this evaluation
    trained = pipeline.profiler_result(view.ws, view.label, view.run_dir)
    # The untrained profiler prompted as the run was (its config), on the same users.
    as_run = dataclasses.replace(view.ws, cfg=view.cfg)
    return [pipeline.profiler_result(as_run, "untrained profiler"), trained]


def panel_results(traj: viz.Trajectories) -> list:
    """Untrained (first snapshot) vs trained (last snapshot) on the panel's users only."""
    from bluekit.evaluate import result_from_ranks

    if traj.empty or len(traj.steps) < 2:
        return []
    out = []
    for step, name in ((traj.steps[0], f"panel, step {traj.steps[0]} (untrained profiler)"),
                       (traj.steps[-1], f"panel, step {traj.steps[-1]} (trained profiler)")):
        pts = traj.points[traj.points.step == step]
        examples = pd.DataFrame({"user_id": pts["user_id"].to_numpy(), "item_id": pts["positive"].to_numpy()})
        out.append(result_from_ranks(name, pts["rank"].to_numpy(dtype=float), examples))
    return out


def bootstrap_ci(values: np.ndarray, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95):
    """Seeded percentile bootstrap CI of a mean.

    >>> lo, hi = bootstrap_ci(np.array([0.0, 1.0] * 50))
    >>> 0.35 < lo < 0.5 < hi < 0.65
    True
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def results_with_ci(results: list) -> pd.DataFrame:
    """One row per method: each metric's mean with its 95% bootstrap CI, the median rank, n."""
    rows = []
    for r in results:
        row = {"method": r.name}
        for m in METRICS:
            if m in r.per_user:
                lo, hi = bootstrap_ci(r.per_user[m].to_numpy())
                row[m] = (float(r.per_user[m].mean()), lo, hi)
        if "rank" in r.per_user:
            row["median rank"] = float(np.median(r.per_user["rank"].to_numpy(dtype=float)))
        row["n"] = int(len(r.per_user))
        rows.append(row)
    return pd.DataFrame(rows)


def profiler_tests(results: list) -> list[dict]:
    """Paired tests of the untrained profiler against every trained one (NDCG@10 and MRR)."""
    from bluekit.evaluate import paired_test

    base = next((r for r in results if "untrained" in r.name.lower()), None)
    if base is None:
        return []
    others = [r for r in results if r is not base and ("profiler" in r.name.lower() or "trained" in r.name.lower())]
    tests = []
    for other in others:
        for metric in ("ndcg@10", "mrr"):
            try:
                tests.append(paired_test(base, other, metric=metric))
            except (KeyError, ValueError):
                continue
    return tests


def barely_moved(summary: dict, tests: list[dict] | None = None, min_gain: float = 1.2) -> bool:
    """Did training barely move the profiles? Held-out evidence first, else the panel.

    With a paired MRR test of the untrained against this run's trained profiler: moved when it
    is significant (p < 0.05) in the right direction. Without one: moved when the panel's median
    rank of the positive improved by at least `min_gain` times and most panel users improved.

    >>> barely_moved({"users": 8, "median_rank_first": 300, "median_rank_last": 100, "users_rank_improved": 6})
    False
    >>> barely_moved({"users": 8, "median_rank_first": 300, "median_rank_last": 280, "users_rank_improved": 5})
    True
    """
    mrr = [t for t in tests or [] if t["metric"] == "mrr"]
    if mrr:
        t = mrr[0]
        return not (t["p_value"] < 0.05 and t["mean_b"] > t["mean_a"])
    if not summary.get("users"):
        return True
    gain = summary["median_rank_first"] / max(summary["median_rank_last"], 1e-9)
    return not (gain >= min_gain and summary["users_rank_improved"] > summary["users"] / 2)


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


def movement_html(view: RunView) -> str:
    s = view.summary
    if not s.get("users"):
        return f'<div class="box warn">{_e(view.traj.message or "no panel snapshots in this run")}</div>'
    direction = "better" if s["median_rank_last"] < s["median_rank_first"] else "worse"
    return (f'<div class="box">On the snapshot panel ({s["users"]} held-out users, {s["steps"]} snapshots, '
            f'steps {s["first_step"]}–{s["last_step"]}), the median rank of each user\'s next item went '
            f'<b>{_rank(s["median_rank_first"])} → <span class="{direction}">{_rank(s["median_rank_last"])}</span></b> '
            f'(1 = top of {view.imap.n_items}) and the median cosine {s["median_cosine_first"]:.3f} → '
            f'{s["median_cosine_last"]:.3f}; {s["users_rank_improved"]} of {s["users"]} users\' positives rose. '
            f'The map shows where the profiles went; the panels beside it measure it.</div>')


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
    "the history items the profiler read, and the line follows their profile's embedding snapshot by "
    "snapshot; the arrow head is the latest. Press ▶ play or drag the slider; double-click a user in "
    "the legend to see them alone. Hover a point for the profile text, its rewards and the positive's "
    "rank. The map squeezes the embedding into 2 dimensions, so the panels on the right, computed in "
    "the embedding space itself, are the ground truth.")


def run_section_html(view: RunView, key: str) -> str:
    """Map, reward curves and before/after profiles of one run."""
    steps = max_step(view)
    fig = viz.trajectory_map(view.imap, view.traj, animate=True, max_steps=steps)
    curves = viz.reward_curves(view.metrics, steps or None)
    if not len(curves.data):
        curves.add_annotation(text="no training log lines (metrics.jsonl) in this run", x=0.5, y=0.5,
                              xref="paper", yref="paper", showarrow=False)
    return (facts_html(view) + movement_html(view)
            + "<h3>Where the profiles went</h3>"
            + f'<p class="small">{MAP_GUIDE}</p>'
            + _figure_html(fig, f"trajectory-map{key}")
            + "<h3>Reward during training</h3>" + _figure_html(curves, f"reward-curves{key}")
            + "<h3>The panel's profiles, before and after</h3>" + before_after_html(view))


def evaluation_html(results: list, source: str, tests: list[dict]) -> str:
    from bluekit.evaluate import describe_test

    if not results:
        return '<div class="box warn">No evaluation found for this run.</div>'
    table = results_with_ci(results)
    head = "".join(f"<th>{_e(m)} (95% CI)</th>" for m in METRICS if m in table) + "<th>median rank</th><th>n</th>"
    rows = []
    for _, row in table.iterrows():
        cells = "".join(
            f"<td class='num'>{row[m][0]:.4f} <span class='small'>[{row[m][1]:.4f}, {row[m][2]:.4f}]</span></td>"
            if isinstance(row.get(m), tuple) else "<td></td>" for m in METRICS if m in table)
        strong = "profiler" in row["method"].lower() or "panel" in row["method"].lower()
        name = f"<b>{_e(row['method'])}</b>" if strong else _e(row["method"])
        rows.append(f"<tr><td>{name}</td>{cells}<td class='num'>{_rank(row.get('median rank'))}</td>"
                    f"<td class='num'>{int(row['n'])}</td></tr>")
    out = (f'<p class="sub">Source: {_e(source)}. Full ranking over the whole catalogue; CIs are seeded '
           f"bootstrap intervals of the mean over users.</p>"
           f"<table><tr><th>method</th>{head}</tr>{''.join(rows)}</table>")
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


HOW_TO_READ = """
<h2>How to read this report</h2>
<ul>
<li><b>The map</b> is a UMAP of the item embeddings, fitted once per embedder and catalogue; profiles are
placed into it with UMAP's <code>transform</code>. Nearby on the map usually means similar, but distances and
jumps are approximate: a profile can jump between islands while its true cosine barely changes.</li>
<li><b>The panels beside the map</b> are exact: the cosine between the profile's embedding and the next item's,
and that item's rank among all items (1 = recommended first). Lines going up in both mean the profiles really
moved towards what the users chose next.</li>
<li><b>The evaluation table</b> is the verdict: all held-out users, full ranking, with confidence intervals; the
paired test says whether the change could be noise.</li>
<li><b>Coloured profile text</b>: each sentence is removed in turn; green means the profile is further from the
positive without it (the sentence helps), red means closer (it hurts). Hover a sentence for the numbers.</li>
</ul>
"""


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


def write_report(run_dir: str | Path, out: str | Path, compare: str = "auto",
                 results: str | Path | None = None, published: str = PUBLISHED,
                 ws=None, imap: viz.ItemMap | None = None) -> Report:
    """Write the report of one run to `out` (one HTML file); see the module docstring.

    compare: "auto" adds the published run `published` (a name in data/pretrained/, or a run
    folder) when this run barely moved the profiles, "always" / "never" force it. ws / imap:
    reuse a workspace and item map already built (they must be the run's catalogue).
    """
    from bluekit.evaluate import load_results

    view = load_run(run_dir, ws=ws, imap=imap)
    sections = ["run"]
    if results is not None:
        result_path, source = Path(results), f"{results}"
        if not result_path.exists():
            raise ReportError(f"results file {result_path} not found")
    else:
        result_path, source = find_results(view)
    evaluated = load_results(result_path) if result_path else held_out_results(view)
    if not result_path and evaluated:
        source = (f"every held-out user ({evaluated[-1].summary['n']}), from the run's saved "
                  "held-out profiles (test_profiles.json)")
    elif not result_path:
        evaluated = panel_results(view.traj)
        source = (f"the snapshot panel only ({view.summary.get('users', 0)} users, first vs last snapshot): "
                  "no held-out evaluation was saved for this run; notebook 04 or "
                  "`python -m bluekit evaluate --run RUN_DIR` writes one")
    tests = profiler_tests(evaluated)
    main_tests = [t for t in tests if "published" not in t["b"].lower() or view.published]
    moved = not barely_moved(view.summary, main_tests)

    body = [f"<h1>BLUE profiler report: {_e(view.label)}</h1>"]
    verdict = "The profiles moved measurably." if moved else "This run barely moved the profiles"
    include = compare == "always" or (compare == "auto" and not moved)
    long_view = None
    if include and not view.published:
        try:
            long_dir = resolve_run(published)
            long_cfg = load_run_config(long_dir)
            shared = same_catalogue(view.cfg, long_cfg)
            long_view = load_run(long_dir, ws=view.ws if shared else None, imap=view.imap if shared else None,
                                 label=run_label(long_dir) if is_published(long_dir) else f"{long_dir} (published)")
        except ReportError as err:
            body.append(f'<div class="box warn">The published run could not be added: {_e(err)}</div>')
    if long_view is not None and not moved:
        verdict += (f"; so this report also shows the <b>published long run {_e(long_view.run_dir.name)}</b> "
                    "(trained by <code>make train-long</code>), clearly marked below.")
    body.append(f'<div class="box{"" if moved else " warn"}">{verdict}{"" if moved or long_view else "."}</div>')
    body.append(f"<h2>The run: {_e(view.label)}</h2>" + run_section_html(view, ""))
    body.append("<h2>Evaluation</h2>" + evaluation_html(evaluated, source, tests))
    sections.append("evaluation")
    if long_view is not None:
        sections.append("published")
        in_table = any(long_view.run_dir.name in r.name for r in evaluated)
        note = ("Its held-out numbers are the rows named after it in the evaluation table above."
                if in_table else "")
        long_eval = ""
        if not in_table:
            long_results = held_out_results(long_view)
            what = "every held-out user, from its shipped held-out profiles"
            if not long_results:
                long_results, what = panel_results(long_view.traj), "the published run's snapshot panel"
            long_eval = (f"<h3>Its evaluation ({_e(what)})</h3>"
                         + evaluation_html(long_results, what, profiler_tests(long_results)))
        body.append(
            "<div class='published'>"
            f"<h2>Published long run: {_e(long_view.run_dir.name)} (NOT the run above)</h2>"
            "<p class='sub'>Trained by <code>make train-long</code> with the same kind of settings for longer and "
            f"shipped with the kit in <code>{_e(long_view.run_dir)}</code>. {note}</p>"
            + run_section_html(long_view, "-published") + long_eval + "</div>")
    body.append(HOW_TO_READ)
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
