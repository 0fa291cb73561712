"""Live widgets for notebooks; each wraps a pure figure from bluekit.viz."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from transformers import TrainerCallback

from bluekit import viz


class LiveRewardPlot(TrainerCallback):
    """A FigureWidget of the reward curves that redraws as TRL logs each step.

    Saved notebooks keep only the last state (widget callbacks do not survive export), so the
    notebook shows the static `viz.reward_curves` figure after training as well.
    """

    def __init__(self, max_steps: int, smooth: int = 5):
        self.max_steps = max_steps
        self.smooth = smooth
        self.rows: list[dict] = []
        self.widget = go.FigureWidget(viz.reward_curves(pd.DataFrame(), max_steps, smooth))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "reward" in logs:
            self.rows.append({"step": state.global_step, **logs})
            fresh = viz.reward_curves(pd.DataFrame(self.rows), self.max_steps, self.smooth)
            with self.widget.batch_update():
                self.widget.data = []
                self.widget.add_traces(list(fresh.data))
