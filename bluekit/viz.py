"""Figures as pure functions (data in, a plotly Figure out, fixed axis ranges), and the few data
structures they draw, each built once and cached.

Data for the figures (from bluekit.itemmap and bluekit.trajectories, re-exported here):
    item_map(ws)                          ItemMap: one 2-D UMAP of the item vectors, fitted once per
                                          (embedder, catalogue), seeded, cached on disk; .place(vecs)
                                          puts any profile vectors into the same map
    run_trajectories(run_dir, ws, imap)   Trajectories: a run's snapshot panel on that map, with the
                                          TRUE cosine to the positive and its full-catalogue rank
    trajectory_summary, map_agreement     first vs last snapshot; how far the map can be trusted
    attribution(text, positive_row, item_vecs, embedder)
                                          leave-one-out contribution of each sentence of a profile
Figures:
    notebook_renderer()                   call once in a notebook: figures survive HTML export
    reward_curves, panel_table            training logs (notebook 04)
    history_lengths, item_popularity      the data (notebook 01)
    item_map_figure                       the catalogue by sub-category (notebook 02)
    trajectory_map                        profiles moving on the map, play button + step slider, with
                                          the true distances beside it (notebook 05, the report)
    user_map                              one user's positive, history and profile points (the editor)
    attribution_html                      a profile as coloured text

How profiles get onto the map, and why that way: bluekit.itemmap's docstring.

Widgets (bluekit.widgets) wrap these figures; exported HTML keeps them without a kernel.
"""
from __future__ import annotations

import html
import textwrap
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# The data the figures draw lives in bluekit.itemmap and bluekit.trajectories; notebooks reach
# it through this module (viz.item_map(ws), viz.run_trajectories(...)).
from bluekit.itemmap import ItemMap, item_map, map_key  # noqa: F401
from bluekit.trajectories import (Trajectories, attribution, empty_trajectories,  # noqa: F401
                                  encode_quietly, loo_texts, map_agreement, run_trajectories,
                                  trajectories, trajectory_summary)

# Faint background colours for sub-categories (panel users get strong ones: bluekit.trajectories).
_GROUP_COLORS = ("#8dd3c7", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5",
                 "#bc80bd", "#ccebc5", "#ffed6f", "#a6cee3", "#b2df8a", "#fb9a99", "#fdbf6f",
                 "#cab2d6", "#c7c7c7", "#9edae5", "#f7b6d2", "#dbdb8d", "#c49c94")


# =========================================================================== training logs

def reward_columns(metrics: pd.DataFrame) -> list[str]:
    """The per-reward means TRL logs ("rewards/<name>/mean"), in a stable order."""
    return sorted(c for c in metrics.columns if c.startswith("rewards/") and c.endswith("/mean"))


def reward_curves(metrics: pd.DataFrame, max_steps: int | None = None, smooth: int = 5) -> go.Figure:
    """Total reward and each reward component per training step, raw (faint) and smoothed."""
    train = metrics[metrics["reward"].notna()] if "reward" in metrics else metrics.iloc[0:0]
    fig = go.Figure()
    for column in (["reward"] if "reward" in train else []) + reward_columns(train):
        label = column.removeprefix("rewards/").removesuffix("/mean")
        values = train[column].astype(float)
        fig.add_scatter(x=train["step"], y=values, mode="lines", opacity=0.25,
                        name=f"{label} (per step)", legendgroup=label, showlegend=False)
        fig.add_scatter(x=train["step"], y=values.rolling(smooth, min_periods=1).mean(),
                        mode="lines", name=label, legendgroup=label)
    last = int(max_steps or (train["step"].max() if len(train) else 1))
    fig.update_layout(title="GRPO training: mean reward per step (smoothed)", height=400,
                      xaxis=dict(title="step", range=[0, max(last, 1)]), yaxis_title="reward")
    return fig


def panel_table(snapshots: pd.DataFrame, steps: tuple[int, ...] | None = None) -> pd.DataFrame:
    """Profiles of the snapshot panel side by side: one row per user, one column per step."""
    if snapshots.empty:
        return pd.DataFrame()
    steps = steps or (int(snapshots.step.min()), int(snapshots.step.max()))
    chosen = snapshots[snapshots.step.isin(steps)]
    return chosen.pivot_table(index="user_id", columns="step", values="text", aggfunc="first")


# =========================================================================== notebooks

def notebook_renderer() -> str:
    """Make `fig.show()` in a notebook also render in its exported HTML (nbconvert), offline.

    In a Jupyter kernel plotly writes only its JSON mimetype, which JupyterLab draws but an HTML
    export drops: the exported notebook shows nothing. This adds an HTML version of each figure
    (no MathJax, no CDN) and puts plotly.js into the notebook once, at the first figure. Returns
    the renderer string now in use.
    """
    import plotly.io as pio
    from plotly.io.base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):
        def to_mimebundle(self, fig_dict):
            return {"text/html": pio.to_html(fig_dict, config=self.config, auto_play=False,
                                             include_plotlyjs=False, include_mathjax=False,
                                             full_html=False, default_width="100%",
                                             default_height=525, validate=False)}

    if "bluekit_offline" not in pio.renderers:
        pio.renderers["bluekit_offline"] = OfflineNotebookRenderer()
    pio.renderers.default = "plotly_mimetype+bluekit_offline"
    return pio.renderers.default


# =========================================================================== the data (notebook 01)

def history_lengths(examples: pd.DataFrame, name: str = "") -> go.Figure:
    """Histogram of history length (items before the target) per example."""
    lengths = examples["history"].map(lambda h: 0 if h is None else len(h)) if len(examples) else []
    fig = go.Figure(go.Histogram(x=list(lengths), nbinsx=30, marker_color="#4c78a8"))
    top = max(list(lengths) or [1])
    fig.update_layout(title=f"{name + ': ' if name else ''}history length per test user", height=380,
                      xaxis=dict(title="history length (items before the test target)",
                                 range=[0, top + 1]),
                      yaxis_title="users", bargap=0.05)
    return fig


def item_popularity(interactions: pd.DataFrame) -> go.Figure:
    """Interactions per item against the item's popularity rank, log-log (the long tail)."""
    counts = interactions["item_id"].value_counts().to_numpy() if len(interactions) else np.zeros(0)
    ranks = np.arange(1, len(counts) + 1)
    fig = go.Figure(go.Scatter(x=ranks, y=counts, mode="lines", line_color="#4c78a8"))
    hi_x, hi_y = max(len(counts), 2), max(int(counts.max()) if len(counts) else 2, 2)
    fig.update_layout(title="item popularity (log-log)", height=380,
                      xaxis=dict(title="item rank by popularity", type="log",
                                 range=[0, np.log10(hi_x) + 0.05]),
                      yaxis=dict(title="interactions", type="log", range=[0, np.log10(hi_y) + 0.1]))
    return fig


def item_map_figure(imap: ItemMap, title: str = "", height: int = 560) -> go.Figure:
    """The catalogue on its UMAP map, one colour (and legend entry) per sub-category.

    SVG scatter (not WebGL) on purpose: exported HTML then renders in any browser, headless too.
    """
    fig = go.Figure()
    groups = pd.Series(imap.groups)
    for g, (name, index) in enumerate(sorted(groups.groupby(groups).groups.items())):
        rows = np.asarray(index)
        fig.add_scatter(x=imap.xy[rows, 0], y=imap.xy[rows, 1], mode="markers", name=str(name),
                        marker=dict(size=6, color=_GROUP_COLORS[g % len(_GROUP_COLORS)],
                                    symbol=("circle", "square", "triangle-up")[g // len(_GROUP_COLORS) % 3],
                                    line=dict(width=0.3, color="#555")),
                        hovertext=[_short(imap.titles[r], 80) for r in rows],
                        hovertemplate="%{hovertext}<br><i>" + html.escape(str(name)) +
                                      "</i><extra></extra>")
    x_range, y_range = imap.ranges()
    fig.update_layout(title=title or f"items by sub-category (UMAP of {imap.embedder_name or 'the item vectors'})",
                      height=height, legend=dict(title="sub-category", font=dict(size=10)),
                      xaxis=dict(title="UMAP 1", range=x_range, zeroline=False),
                      yaxis=dict(title="UMAP 2", range=y_range, zeroline=False),
                      plot_bgcolor="white")
    return fig


# =========================================================================== the trajectory map

def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _wrap(text: str, width: int = 64, max_lines: int = 6) -> str:
    lines = textwrap.wrap(" ".join(str(text).split()), width) or ["(empty profile)"]
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [lines[max_lines - 1][: width - 1] + "…"]
    return "<br>".join(html.escape(line) for line in lines)


def _fmt_rank(rank: float, n_items: int) -> str:
    return "not in catalogue" if not np.isfinite(rank) else f"{int(rank)} / {n_items}"


def point_hover(row, label: str, reward_names: Sequence[str], n_items: int) -> str:
    """Hover text of one (step, user) point: rank, cosine, rewards and the profile itself."""
    rewards = " · ".join(f"{html.escape(str(n))} {row[n]:.3f}" for n in reward_names
                         if n in row and pd.notna(row[n]))
    return (f"<b>{html.escape(label)}</b> · step {int(row['step'])}<br>"
            f"positive's rank: <b>{_fmt_rank(row['rank'], n_items)}</b> · cosine {row['cosine']:.3f}<br>"
            + (f"rewards: {rewards}<br>" if rewards else "") + f"<i>{_wrap(row['text'])}</i>")


def _frame_steps(steps: list[int], max_frames: int) -> list[int]:
    if len(steps) <= max_frames:
        return list(steps)
    picks = np.unique(np.round(np.linspace(0, len(steps) - 1, max_frames)).astype(int))
    return [steps[i] for i in picks]


def _path_trace_data(pts: pd.DataFrame, label: str, reward_names, n_items: int) -> dict:
    """A user's path so far: earlier steps faint (the direction reads at a glance), each marker
    coloured by the positive's true rank (the shared "rank" colour axis), an arrow at the latest."""
    n = len(pts)
    symbols = ["circle"] * max(n - 1, 0) + (["arrow"] if n > 1 else ["circle"] * n)
    sizes = [8] * max(n - 1, 0) + ([17] if n > 1 else [10] * n)
    ranks = pts["rank"].to_numpy(dtype=float)
    color = np.log10(np.where(np.isfinite(ranks), np.maximum(ranks, 1), max(n_items, 1))).tolist()
    return dict(x=pts["x"].tolist(), y=pts["y"].tolist(),
                hovertext=[point_hover(r, label, reward_names, n_items) for _, r in pts.iterrows()],
                marker=dict(symbol=symbols, size=sizes, color=color, coloraxis="coloraxis",
                            opacity=np.linspace(0.15, 1.0, n).round(3).tolist() if n > 1 else [1.0] * n))


def _arrow_data(pts: pd.DataFrame) -> dict:
    """The straight start -> latest arrow of one user's path (empty before two snapshots)."""
    if len(pts) < 2:
        return dict(x=[], y=[])
    return dict(x=[pts["x"].iloc[0], pts["x"].iloc[-1]], y=[pts["y"].iloc[0], pts["y"].iloc[-1]])


def _user_selector(fig: go.Figure, traj: Trajectories) -> dict:
    """A dropdown that shows one panel user at a time (the others fade), or all of them: plain
    plotly restyle, so it works in the exported HTML with no kernel."""
    base = [1.0 if t.opacity is None else t.opacity for t in fig.data]
    buttons = [dict(label="all users", method="restyle", args=[{"opacity": base}])]
    for _, user in traj.users.iterrows():
        # the chosen user at full strength (its dotted path too), the others nearly gone
        faded = [o if t.legendgroup in (None, "median") else 1.0 if t.legendgroup == user["user_id"]
                 else 0.06 for t, o in zip(fig.data, base)]
        buttons.append(dict(label=_short(user["label"], 40), method="restyle",
                            args=[{"opacity": faded}]))
    # beside play/pause, under the map: nothing drawn there for it to hide
    return dict(type="dropdown", direction="up", x=0.125, y=-0.02, xanchor="left", yanchor="top",
                active=0, showactive=True, pad=dict(r=6, t=0), bgcolor="white", buttons=buttons,
                name="users")


def trajectory_map(imap: ItemMap, traj: Trajectories, animate: bool = True,
                   max_steps: int | None = None, max_frames: int = 30, height: int = 760,
                   title: str | None = None) -> go.Figure:
    """The panel's profiles moving on the item map, and the true distances beside it.

    Left: items as a faint background coloured by sub-category; per panel user the positive item
    (star), the history items the prompt showed (small diamonds), and the profile's position at
    each snapshot step joined into a dotted path, earlier steps fainter, each point coloured by
    the positive's true rank (green = near the top), plus one bold arrow from the first to the
    latest position; a "users" dropdown shows one user at a time. Right: cosine to the
    positive and the positive's rank over steps (each user thin, the median thick): measured in
    the embedding space, these are what the map illustrates.

    animate=True adds plotly frames (one per snapshot step, at most max_frames), a play button and
    a step slider; the figure opens at the last step. animate=False (live widgets) draws the
    current state only. Axis ranges are fixed, so frames never rescale.
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=2, column_widths=[0.63, 0.37], horizontal_spacing=0.09,
                        vertical_spacing=0.14, specs=[[{"rowspan": 2}, {}], [None, {}]],
                        subplot_titles=("profiles on the item map (UMAP: positions are approximate)",
                                        "TRUE cosine(profile, positive) ↑",
                                        "TRUE rank of the positive (log; 1 = top) ↑"))
    groups = pd.Series(imap.groups)
    codes = {g: i for i, g in enumerate(sorted(groups.unique()))}
    fig.add_scatter(x=imap.xy[:, 0], y=imap.xy[:, 1], mode="markers", name="items (by sub-category)",
                    marker=dict(size=6, color=[_GROUP_COLORS[codes[g] % len(_GROUP_COLORS)] for g in groups],
                                opacity=0.55),
                    hovertext=[f"{html.escape(_short(t, 70))}<br><i>{html.escape(g)}</i>"
                               for t, g in zip(imap.titles, imap.groups)],
                    hovertemplate="%{hovertext}<extra>item</extra>", row=1, col=1)
    centroids = pd.DataFrame(imap.xy, columns=["x", "y"]).groupby(groups.to_numpy()).median()
    fig.add_scatter(x=centroids["x"], y=centroids["y"], mode="text", text=list(centroids.index),
                    textfont=dict(size=9, color="rgba(60,60,60,0.75)"), name="sub-category names",
                    hoverinfo="skip", row=1, col=1)
    placed = traj.points[["x", "y"]].to_numpy() if not traj.empty else None
    x_range, y_range = imap.ranges(placed)
    last_step = traj.steps[-1] if traj.steps else 0
    step_hi = max(int(max_steps or 0), last_step, 1)
    path_idx: list[int] = []
    arrow_idx: list[int] = []
    for _, user in traj.users.iterrows():
        color, label, group = user["color"], user["label"], user["user_id"]
        hist = np.asarray(user["history_rows"], dtype=int)
        if len(hist):
            fig.add_scatter(x=imap.xy[hist, 0], y=imap.xy[hist, 1], mode="markers", legendgroup=group,
                            showlegend=False, name=f"{label}: history",
                            marker=dict(symbol="diamond", size=7, color=color, opacity=0.6,
                                        line=dict(width=0.5, color="white")),
                            hovertext=[f"{html.escape(label)} history: {html.escape(_short(imap.titles[h], 70))}"
                                       for h in hist],
                            hovertemplate="%{hovertext}<extra></extra>", row=1, col=1)
        if user["positive_row"] >= 0:
            r = int(user["positive_row"])
            fig.add_scatter(x=[imap.xy[r, 0]], y=[imap.xy[r, 1]], mode="markers", legendgroup=group,
                            showlegend=False, name=f"{label}: positive",
                            marker=dict(symbol="star", size=17, color=color, line=dict(width=1, color="black")),
                            hovertext=[f"<b>{html.escape(label)}</b>: positive (next item)<br>"
                                       f"{html.escape(_short(imap.titles[r], 80))}<br><i>{html.escape(imap.groups[r])}</i>"],
                            hovertemplate="%{hovertext}<extra></extra>", row=1, col=1)
        pts = traj.points[traj.points.user_id == group].sort_values("step")
        data = _path_trace_data(pts, label, traj.reward_names, traj.n_items)
        fig.add_scatter(x=data["x"], y=data["y"], mode="lines+markers", name=label, legendgroup=group,
                        # faint with every user shown: the arrows carry the picture (the users menu
                        # brings one user's path to full strength)
                        meta="path", line=dict(color=color, width=1.2, dash="dot"), opacity=0.45,
                        marker=dict(angleref="previous", line=dict(width=1, color=color), **data["marker"]),
                        hovertext=data["hovertext"], hovertemplate="%{hovertext}<extra></extra>",
                        row=1, col=1)
        path_idx.append(len(fig.data) - 1)
        # the whole movement as one bold arrow, start -> latest: the direction without the zig-zag
        fig.add_scatter(**_arrow_data(pts), mode="lines+markers", meta="arrow", legendgroup=group,
                        showlegend=False, name=f"{label}: start → latest", hoverinfo="skip",
                        line=dict(color=color, width=3.5), opacity=0.9,
                        marker=dict(symbol=["circle-open", "arrow"], size=[9, 20], color=color,
                                    angleref="previous", line=dict(width=2, color=color)), row=1, col=1)
        arrow_idx.append(len(fig.data) - 1)
    # The true distances: per user thin, median thick.
    if not traj.empty:
        for column, row in (("cosine", 1), ("rank", 2)):
            for _, user in traj.users.iterrows():
                pts = traj.points[traj.points.user_id == user["user_id"]].sort_values("step")
                fig.add_scatter(x=pts["step"], y=pts[column], mode="lines+markers", legendgroup=user["user_id"],
                                showlegend=False, name=user["label"], opacity=0.55,
                                line=dict(color=user["color"], width=1), marker=dict(size=4),
                                hovertemplate=f"{html.escape(user['label'])}<br>step %{{x}}: {column} %{{y:.3g}}<extra></extra>",
                                row=row, col=2)
            median = traj.points.groupby("step")[column].median()
            fig.add_scatter(x=median.index, y=median.values, mode="lines+markers", name=f"median {column}",
                            legendgroup="median", showlegend=(row == 1), line=dict(color="black", width=3),
                            hovertemplate=f"median over the panel<br>step %{{x}}: {column} %{{y:.3g}}<extra></extra>",
                            row=row, col=2)
    cos_lo, cos_hi = (-0.1, 1.0) if traj.empty else (
        float(np.nanmin(traj.points["cosine"])) - 0.05, float(np.nanmax(traj.points["cosine"])) + 0.05)
    rank_hi = np.log10(max(traj.n_items, 2) * 1.3)
    cursor_idx = []
    for row, lo, hi in ((1, cos_lo, cos_hi), (2, rank_hi, np.log10(0.7))):
        y = [lo, hi] if row == 1 else [10 ** lo, 10 ** hi]
        fig.add_scatter(x=[last_step, last_step], y=y, mode="lines", showlegend=False, hoverinfo="skip",
                        line=dict(color="rgba(0,0,0,0.35)", width=8), name="current step", row=row, col=2)
        cursor_idx.append(len(fig.data) - 1)
    fig.update_xaxes(range=list(x_range), showticklabels=False, zeroline=False, showgrid=False, row=1, col=1)
    fig.update_yaxes(range=list(y_range), showticklabels=False, zeroline=False, showgrid=False, row=1, col=1)
    for row in (1, 2):
        fig.update_xaxes(range=[-0.02 * step_hi, step_hi * 1.02], title_text="training step" if row == 2 else None,
                         row=row, col=2)
    fig.update_yaxes(range=[cos_lo, cos_hi], row=1, col=2)
    fig.update_yaxes(type="log", range=[rank_hi, np.log10(0.7)], row=2, col=2)
    head = title if title is not None else f"How the panel's profiles moved: {traj.label}"
    fig.update_layout(title=dict(text=head, x=0.01), height=height, plot_bgcolor="white",
                      hoverlabel=dict(align="left"), margin=dict(l=30, r=20, t=80, b=30),
                      legend=dict(orientation="h", yanchor="top", y=-0.16 if animate else -0.08, x=0,
                                  font=dict(size=11)))
    if traj.empty:
        fig.add_annotation(text=html.escape(traj.message or "nothing to draw"), x=0.5, y=0.5,
                           xref="paper", yref="paper", showarrow=False, font=dict(size=14, color="#b00"),
                           bgcolor="rgba(255,255,255,0.9)")
        return fig
    # one colour axis for every path marker: green = the positive ranks near the top
    fig.update_layout(coloraxis=dict(
        colorscale="RdYlGn", reversescale=True, cmin=0, cmax=float(np.log10(max(traj.n_items, 2))),
        colorbar=dict(title=dict(text="rank of the<br>next item", side="top"), len=0.45, thickness=12,
                      x=0.56, y=0.02, yanchor="bottom",
                      tickvals=[0, 1, 2, 3], ticktext=["1", "10", "100", "1000"])))
    selector = _user_selector(fig, traj)
    if animate:
        _add_frames(fig, traj, path_idx, arrow_idx, cursor_idx,
                    _frame_steps(traj.steps, max_frames), (cos_lo, cos_hi), rank_hi)
    fig.update_layout(updatemenus=list(fig.layout.updatemenus) + [selector])
    return fig


def _add_frames(fig: go.Figure, traj: Trajectories, path_idx: list[int], arrow_idx: list[int],
                cursor_idx: list[int], steps: list[int], cos_range: tuple, rank_hi: float) -> None:
    frames = []
    for step in steps:
        paths, arrows = [], []
        for _, user in traj.users.iterrows():
            pts = traj.points[(traj.points.user_id == user["user_id"]) & (traj.points.step <= step)]
            pts = pts.sort_values("step")
            d = _path_trace_data(pts, user["label"], traj.reward_names, traj.n_items)
            paths.append(go.Scatter(x=d["x"], y=d["y"], hovertext=d["hovertext"],
                                    marker=dict(angleref="previous", line=dict(width=1, color=user["color"]),
                                                **d["marker"])))
            arrows.append(go.Scatter(**_arrow_data(pts)))
        data = paths + arrows + [go.Scatter(x=[step, step], y=list(cos_range)),
                                 go.Scatter(x=[step, step], y=[10 ** rank_hi, 0.7])]
        frames.append(go.Frame(name=str(step), data=data, traces=path_idx + arrow_idx + cursor_idx))
    fig.frames = frames
    # No transition: tweening paths whose point count changes makes invalid SVG (console errors).
    play = dict(frame=dict(duration=700, redraw=False), transition=dict(duration=0),
                fromcurrent=False, mode="immediate")
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.02, xanchor="left",
                          yanchor="top", showactive=False, pad=dict(r=6, t=0),
                          buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                                   dict(label="❚❚ pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False),
                                                           mode="immediate")])])],
        sliders=[dict(active=len(steps) - 1, x=0.26, len=0.36, y=-0.01, yanchor="top",
                      currentvalue=dict(prefix="step ", font=dict(size=12)), pad=dict(t=0, b=0),
                      steps=[dict(label=str(s), method="animate",
                                  args=[[str(s)], dict(frame=dict(duration=0, redraw=False),
                                                       transition=dict(duration=0), mode="immediate")])
                             for s in steps])])


def user_map(imap: ItemMap, positive_row: int, history_rows: Sequence[int],
             points: Sequence[dict], title: str = "", height: int = 480) -> go.Figure:
    """One user on the item map: the positive (star), the history (diamonds) and profile points.

    points: dicts with label, x, y (None: an empty trace to fill later, e.g. by a widget), and
    optionally color, symbol, size, hover. The figure keeps the
    same fixed ranges as the trajectory map, so positions are comparable.
    """
    fig = go.Figure()
    fig.add_scatter(x=imap.xy[:, 0], y=imap.xy[:, 1], mode="markers", name="items",
                    marker=dict(size=4, color="#bbbbbb", opacity=0.5),
                    hovertext=[html.escape(_short(t, 70)) for t in imap.titles],
                    hovertemplate="%{hovertext}<extra>item</extra>")
    hist = np.asarray(list(history_rows), dtype=int)
    fig.add_scatter(x=imap.xy[hist, 0] if len(hist) else [], y=imap.xy[hist, 1] if len(hist) else [],
                    mode="markers", name="history", marker=dict(symbol="diamond", size=8, color="#555"),
                    hovertext=[html.escape(_short(imap.titles[h], 70)) for h in hist],
                    hovertemplate="history: %{hovertext}<extra></extra>")
    if positive_row >= 0:
        fig.add_scatter(x=[imap.xy[positive_row, 0]], y=[imap.xy[positive_row, 1]], mode="markers",
                        name="positive (next item)",
                        marker=dict(symbol="star", size=18, color="gold", line=dict(width=1, color="black")),
                        hovertext=[html.escape(_short(imap.titles[positive_row], 80))],
                        hovertemplate="positive: %{hovertext}<extra></extra>")
    for p in points:
        shown = p.get("x") is not None and p.get("y") is not None
        fig.add_scatter(x=[p["x"]] if shown else [], y=[p["y"]] if shown else [], mode="markers",
                        name=p["label"],
                        marker=dict(symbol=p.get("symbol", "circle"), size=p.get("size", 13),
                                    color=p.get("color", "#d62728"), line=dict(width=1, color="black")),
                        hovertext=[p.get("hover", html.escape(p["label"]))],
                        hovertemplate="%{hovertext}<extra></extra>")
    placed = [[p["x"], p["y"]] for p in points if p.get("x") is not None and p.get("y") is not None]
    extra = np.array(placed, dtype=float) if placed else None
    x_range, y_range = imap.ranges(extra)
    fig.update_layout(title=title, height=height, plot_bgcolor="white", margin=dict(l=10, r=10, t=50, b=10),
                      xaxis=dict(range=x_range, showticklabels=False, showgrid=False, zeroline=False),
                      yaxis=dict(range=y_range, showticklabels=False, showgrid=False, zeroline=False),
                      legend=dict(orientation="h", y=-0.02))
    return fig


def attribution_html(table: pd.DataFrame, scale: float | None = None) -> str:
    """The profile as coloured text: green units pull it towards the positive, red ones away.

    Colour strength follows delta_cosine (relative to `scale`, default the largest |delta|);
    hovering a unit shows its numbers. Plain HTML (no scripts), for notebooks and the report.
    """
    if table is None or table.empty:
        return "<p><i>(empty profile: nothing to attribute)</i></p>"
    deltas = table["delta_cosine"].astype(float)
    scale = scale or max(float(deltas.abs().max()), 1e-6)
    spans = []
    for _, row in table.iterrows():
        d = float(row["delta_cosine"])
        alpha = min(abs(d) / scale, 1.0) * 0.75 + 0.05
        rgb = "0,150,60" if d > 0 else "215,40,40"
        dr = row["delta_rank"]
        tip = (f"without this: cosine {row['cosine_without']:.3f} ({-d:+.3f}), "
               f"rank {_fmt_rank(row['rank_without'], 0).split(' /')[0]} "
               f"({'+' if dr > 0 else ''}{dr:.0f} places)")
        spans.append(f'<span title="{html.escape(tip)}" style="background: rgba({rgb},{alpha:.2f}); '
                     f'padding: 1px 2px; border-radius: 3px">{html.escape(str(row["unit"]))}</span>')
    full = table.attrs
    head = ""
    if "rank" in full and np.isfinite(full.get("rank", np.nan)):
        head = (f'<div style="font-size: 0.85em; color: #555">full profile: positive at rank '
                f'{int(full["rank"])}, cosine {full["cosine"]:.3f}. Green: removing it lowers the '
                f'cosine (the sentence helps); red: removing it raises the cosine.</div>')
    return f'<div style="line-height: 1.9">{" ".join(spans)}</div>{head}'
