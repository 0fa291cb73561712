"""Figures as pure functions: data in, a plotly Figure out (fixed axis ranges, no state).

Widgets (bluekit.widgets) wrap these; exported HTML keeps them without a kernel.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


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
