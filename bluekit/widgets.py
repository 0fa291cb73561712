"""Live widgets for notebooks; each wraps pure figures from bluekit.viz.

    LiveRewardPlot(max_steps)              reward curves redrawn as TRL logs each step
    LiveTrainingView(ws, run_dir)          the trajectory map + reward curves, updated at every
                                           snapshot while GRPO trains (a TrainerCallback)
    ProfileEditor(ws, imap, traj)          edit a panel user's profile: its point on the map, the
                                           positive's rank, the top-10 items, each reward, and the
                                           leave-one-out attribution, in about 0.1 s per edit

Saved notebooks keep widgets' last state at best, and never their Python callbacks, so each live
widget has a static counterpart (`static_figures()`, the viz functions) to show after it.
Bad input (a run without snapshots, an empty panel, an empty profile) shows a message in the
widget, never a traceback.
"""
from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from transformers import TrainerCallback

from bluekit import viz


class LiveRewardPlot(TrainerCallback):
    """A FigureWidget of the reward curves that redraws as TRL logs each step.

    Saved notebooks keep only the last state (widget callbacks do not survive export), so the
    notebook shows the static `viz.reward_curves` figure after training as well.
    """

    def __init__(self, max_steps: int | None = None, smooth: int = 5):
        self.max_steps = max_steps
        self.smooth = smooth
        self.rows: list[dict] = []
        self.widget = go.FigureWidget(viz.reward_curves(pd.DataFrame(), max_steps, smooth))

    def on_train_begin(self, args, state, control, **kwargs):
        if not self.max_steps:
            self.max_steps = int(getattr(state, "max_steps", 0) or getattr(args, "max_steps", 0) or 0) or None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "reward" in logs:
            self.rows.append({"step": state.global_step, **logs})
            fresh = viz.reward_curves(pd.DataFrame(self.rows), self.max_steps, self.smooth)
            with self.widget.batch_update():
                self.widget.data = []
                self.widget.add_traces(list(fresh.data))
                self.widget.layout.xaxis.range = fresh.layout.xaxis.range


def _replace_figure(widget: go.FigureWidget, fresh: go.Figure) -> None:
    """Show `fresh` in an existing FigureWidget (traces and layout), in one message."""
    with widget.batch_update():
        widget.data = []
        widget.add_traces(list(fresh.data))
        widget.layout = fresh.layout


class LiveTrainingView(TrainerCallback):
    """The trajectory map and the reward curves, live while GRPO trains.

        live = LiveTrainingView(ws, cfg.train.output_dir)
        display(live.widget)
        train_profiler(cfg, ..., extra_callbacks=[live])
        live.show_static()          # the final state as plain figures, kept in the saved notebook

    Pass it after the kit's SnapshotCallback (train_profiler appends extra_callbacks after its
    own), so at each step's end the snapshot it draws is already on disk. The map is the
    workspace's cached item map; each new snapshot's profiles are placed with UMAP transform.
    """

    def __init__(self, ws, run_dir: str | Path, max_steps: int | None = None,
                 imap: viz.ItemMap | None = None, label: str | None = None, smooth: int = 5):
        import ipywidgets as W

        self.ws = ws
        self.run_dir = Path(run_dir)
        self.imap = imap if imap is not None else viz.item_map(ws)
        self.label = label or f"{self.run_dir} (training now)"
        self.max_steps = max_steps
        self.rewards = LiveRewardPlot(max_steps, smooth)
        self.traj = viz.empty_trajectories(self.imap.n_items, self.label,
                                           "waiting for the first panel snapshot (step 0)…")
        self.map = go.FigureWidget(viz.trajectory_map(self.imap, self.traj, animate=False,
                                                      max_steps=max_steps, height=620))
        self.status = W.HTML("<i>waiting for training to start…</i>")
        self.widget = W.VBox([self.status, self.map, self.rewards.widget])
        self._seen: tuple | None = None
        self.updates = 0

    # -- TrainerCallback hooks
    def on_train_begin(self, args, state, control, **kwargs):
        if not self.max_steps:
            self.max_steps = int(getattr(state, "max_steps", 0) or getattr(args, "max_steps", 0) or 0) or None
        self.rewards.on_train_begin(args, state, control, **kwargs)
        self.refresh()

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.rewards.on_log(args, state, control, logs=logs, **kwargs)

    def on_step_end(self, args, state, control, **kwargs):
        self.refresh()

    def on_train_end(self, args, state, control, **kwargs):
        self.refresh()

    # -- drawing
    def refresh(self) -> bool:
        """Redraw the map if snapshots.jsonl gained steps; True when it did."""
        from bluekit.train import load_snapshots

        path = self.run_dir / "snapshots.jsonl"
        stamp = (path.stat().st_size, path.stat().st_mtime) if path.exists() else ()
        if stamp == self._seen:
            return False
        self._seen = stamp
        try:
            self.traj = viz.trajectories(load_snapshots(self.run_dir), self.ws, self.imap, self.label)
        except Exception as err:  # the live view must never stop a training run
            self.status.value = f"<b style='color:#b00'>could not draw the snapshots: {html.escape(str(err))}</b>"
            return False
        fresh = viz.trajectory_map(self.imap, self.traj, animate=False, max_steps=self.max_steps, height=620)
        _replace_figure(self.map, fresh)
        self.updates += 1
        if self.traj.empty:
            self.status.value = f"<i>{html.escape(self.traj.message or '')}</i>"
        else:
            s = viz.trajectory_summary(self.traj)
            self.status.value = (f"snapshot at step <b>{s['last_step']}</b>: median rank of the positive "
                                 f"{s['median_rank_first']:.0f} → <b>{s['median_rank_last']:.0f}</b>, median "
                                 f"cosine {s['median_cosine_first']:.3f} → <b>{s['median_cosine_last']:.3f}</b> "
                                 f"({s['users']} panel users)")
        return True

    def static_figures(self) -> tuple[go.Figure, go.Figure]:
        """(animated trajectory map, reward curves) of the run as it is now: plain figures."""
        from bluekit.train import load_metrics

        self.refresh()
        fig = viz.trajectory_map(self.imap, self.traj, animate=True, max_steps=self.max_steps)
        return fig, viz.reward_curves(load_metrics(self.run_dir), self.max_steps)

    def show_static(self) -> None:
        """Display the final state as plain figures (what a saved or exported notebook keeps)."""
        for fig in self.static_figures():
            fig.show()


# =========================================================================== the profile editor

def panel_rows(ws, user_ids: list[str]) -> dict[str, dict]:
    """Reward rows (user_id, positive, history, choices, answer) of panel users, as training built them."""
    rows = {}
    try:
        from bluekit.train import build_panel
        for row in build_panel(ws.prepared, list(user_ids), ws.cfg, None, seed=getattr(ws.cfg.train, "seed", 0)):
            rows[str(row["user_id"])] = row
    except Exception:  # a user without a test example, or a changed dataset API: plain rows
        test = ws.prepared.splits.test
        for user, item, hist in zip(test["user_id"].astype(str), test["item_id"], test["history"]):
            if user in user_ids and user not in rows:
                rows[user] = {"user_id": user, "positive": str(item), "history": list(hist or [])}
    return rows


class ProfileEditor:
    """Edit a panel user's profile and see at once what the embedder makes of it.

        editor = ProfileEditor(ws, imap, traj)      # traj: viz.run_trajectories(run_dir, ws, imap)
        display(editor.widget)
        editor.evaluate("Loves waterproof hiking boots.")   # the same numbers, as a dict

    The text box starts with the user's trained profile (the last snapshot). Each update embeds
    the text, places it on the map (UMAP transform, compiled once at start-up), ranks the whole
    catalogue, scores every configured reward (cfg.train.rewards) and colours each sentence by
    its leave-one-out contribution. "compare" adds the untrained (first snapshot) profile.
    """

    def __init__(self, ws, imap: viz.ItemMap, traj: viz.Trajectories, user: str | None = None,
                 specs=None, ctx=None, warm_up: bool = True):
        import ipywidgets as W

        self.ws, self.imap, self.traj = ws, imap, traj
        self.specs = list(specs if specs is not None else getattr(ws.cfg.train, "rewards", []) or [])
        self._ctx = ctx
        self.exclude_history = bool(getattr(ws.cfg.eval, "exclude_history", False))
        self.users = [] if traj.empty else traj.users["user_id"].tolist()
        self.rows = panel_rows(ws, self.users) if self.users else {}
        # With method "transform", UMAP's transform compiles (numba) on its first call in a process:
        # do it now, not on the first edit ("interpolate", the default, needs nothing).
        self.warm_up_s = imap.warm_up() if warm_up and self.users else 0.0
        labels = [(r["label"], r["user_id"]) for _, r in traj.users.iterrows()] if self.users else []
        self.user_box = W.Dropdown(options=labels or [("(no panel users)", "")], description="user",
                                   layout=W.Layout(width="340px"))
        self.text = W.Textarea(layout=W.Layout(width="100%", height="90px"), continuous_update=False,
                               placeholder="Describe the user's tastes in a sentence or three…")
        self.button = W.Button(description="update", button_style="primary", icon="refresh")
        self.compare = W.ToggleButton(description="compare with untrained", value=False, icon="columns",
                                      layout=W.Layout(width="220px"))
        self.stats = W.HTML()
        self.attrib = W.HTML()
        self.map = go.FigureWidget(viz.user_map(imap, -1, [], []))
        self.last: dict = {}
        self.button.on_click(lambda _: self.update())
        self.text.observe(lambda change: self.update(), names="value")
        self.compare.observe(lambda change: self.update(), names="value")
        self.user_box.observe(lambda change: self.select(change["new"]), names="value")
        self.widget = W.VBox([W.HBox([self.user_box, self.button, self.compare]), self.text,
                              W.HBox([W.VBox([self.stats, self.attrib], layout=W.Layout(width="48%")),
                                      W.Box([self.map], layout=W.Layout(width="52%"))])])
        if not self.users:
            self.stats.value = self._message(traj.message or "no panel users to edit")
        else:
            self.select(user or self.users[0])

    @property
    def ctx(self):
        if self._ctx is None:
            self._ctx = self.ws.reward_context()
        return self._ctx

    # -- pieces of state
    def user_info(self, user_id: str) -> pd.Series:
        return self.traj.users.set_index("user_id").loc[user_id]

    def snapshot(self, user_id: str, which: str = "last") -> pd.Series:
        pts = self.traj.points[self.traj.points.user_id == user_id].sort_values("step")
        return pts.iloc[-1] if which == "last" else pts.iloc[0]

    @staticmethod
    def _message(text: str) -> str:
        return f"<div style='color:#b00; font-weight:600'>{html.escape(text)}</div>"

    def select(self, user_id: str) -> None:
        """Show a panel user, with their trained profile in the text box."""
        if not user_id or user_id not in self.users:
            return
        self.user = user_id
        info = self.user_info(user_id)
        trained = self.snapshot(user_id, "last")
        fresh = viz.user_map(self.imap, int(info["positive_row"]), info["history_rows"], [
            dict(label=f"trained (step {int(trained['step'])})", x=trained["x"], y=trained["y"],
                 color="#1f77b4", symbol="diamond", size=12),
            dict(label=f"untrained (step {int(self.snapshot(user_id, 'first')['step'])})", x=None, y=None,
                 color="#999999", symbol="circle-open", size=13),
            dict(label="your profile", x=None, y=None, color="#d62728", symbol="circle", size=15)],
            title=f"{info['label']}: next item {viz._short(info['positive_title'], 60)}")
        _replace_figure(self.map, fresh)
        if self.text.value != trained["text"]:
            self.text.value = trained["text"]  # fires update() through the observer
        else:
            self.update()

    # -- the numbers (no widgets involved: tests and notebooks call this)
    def evaluate(self, text: str, user_id: str | None = None) -> dict:
        """Embed, place, rank and score one profile text for a panel user."""
        from bluekit.evaluate import target_ranks
        from bluekit.rewards import score_profiles

        start = time.perf_counter()
        user_id = user_id or getattr(self, "user", None)
        if not user_id:
            return {"ok": False, "message": "no panel user selected (the run has no snapshots)"}
        text = " ".join(str(text or "").split())
        if not text:
            return {"ok": False, "message": "the profile is empty: write a few words about this user's tastes"}
        info = self.user_info(user_id)
        pos = int(info["positive_row"])
        if pos < 0:
            return {"ok": False, "message": f"this user's next item ({info['positive']}) is not in the catalogue"}
        texts = viz.loo_texts(text)  # the profile, then without each sentence: one encode call
        vecs = viz.encode_quietly(self.ws.embedder, texts)
        vec = vecs[:1]
        hist = list(info["history_rows"])
        exclude = [hist] if self.exclude_history else None
        rank = float(target_ranks(vec, self.ws.item_vecs, [pos], exclude)[0])
        scores = self.ws.item_vecs @ vec[0]
        if exclude:
            scores[[h for h in hist if h != pos]] = -np.inf
        top = np.argsort(-scores, kind="stable")[:10]
        titles = self.ws.prepared.items["title"].astype(str).to_numpy()
        rewards = {}
        row = self.rows.get(user_id)
        if row is not None and self.specs:
            quiet = getattr(self.ws.embedder, "show_progress", None)
            try:
                if quiet is not None:
                    self.ws.embedder.show_progress = False  # the rewards embed the text again
                table = score_profiles([text], [row], self.ctx, self.specs)
                rewards = {c: float(table[c].iloc[0]) for c in table.columns if c not in ("user_id", "profile")}
            except Exception as err:  # a reward that cannot score here: say so, keep the rest
                rewards = {"(rewards unavailable)": str(err)[:200]}
            finally:
                if quiet is not None:
                    self.ws.embedder.show_progress = quiet
        xy = self.imap.place(vec)[0]
        attribution = viz.attribution(text, pos, self.ws.item_vecs, self.ws.embedder,
                                      exclude=hist if self.exclude_history else None, vectors=vecs)
        return {"ok": True, "user_id": user_id, "text": text, "rank": rank,
                "cosine": float(vec[0] @ self.ws.item_vecs[pos]), "n_items": len(self.ws.item_vecs),
                "top10": [titles[i] for i in top], "top10_rows": top.tolist(),
                "positive_in_top10": bool(pos in set(top.tolist())), "rewards": rewards,
                "xy": (float(xy[0]), float(xy[1])), "attribution": attribution,
                "seconds": time.perf_counter() - start}

    def compare_texts(self, texts: list[str], user_id: str | None = None) -> pd.DataFrame:
        """One row per profile text: rank of the positive, cosine, top-10 hit and each reward
        (or the message saying why it cannot be scored): the editor's numbers without widgets."""
        rows = []
        for text in texts:
            r = self.evaluate(text, user_id)
            if r.get("ok"):
                rows.append({"profile": r["text"], "rank": int(r["rank"]), "cosine": round(r["cosine"], 4),
                             "in top 10": r["positive_in_top10"],
                             **{k: v for k, v in r["rewards"].items() if isinstance(v, float)}})
            else:
                rows.append({"profile": text, "message": r["message"]})
        return pd.DataFrame(rows)

    # -- the widget
    def update(self, text: str | None = None) -> dict:
        """Re-score the text box (or `text`, which is put in the box) and redraw."""
        if text is not None and text != self.text.value:
            self.text.value = text  # the observer calls update() again
            return self.last
        result = self.evaluate(self.text.value)
        self.last = result
        if not result.get("ok"):
            self.stats.value = self._message(result["message"])
            self.attrib.value = ""
            with self.map.batch_update():
                self.map.data[-1].x, self.map.data[-1].y = [], []
            return result
        first = self.snapshot(self.user, "first")
        trained = self.snapshot(self.user, "last")
        with self.map.batch_update():
            self.map.data[-1].x, self.map.data[-1].y = [result["xy"][0]], [result["xy"][1]]
            self.map.data[-2].x = [first["x"]] if self.compare.value else []
            self.map.data[-2].y = [first["y"]] if self.compare.value else []
        self.stats.value = self._stats_html(result, trained, first if self.compare.value else None)
        self.attrib.value = "<b>Which sentences help?</b>" + viz.attribution_html(result["attribution"])
        return result

    def _stats_html(self, result: dict, trained: pd.Series, first: pd.Series | None) -> str:
        e = html.escape
        n = result["n_items"]
        rows = [("your profile", result["rank"], result["cosine"], result["rewards"])]
        reward_names = [c for c in self.traj.reward_names]
        rows.append((f"trained (step {int(trained['step'])})", trained["rank"], trained["cosine"],
                     {c: trained[c] for c in reward_names if c in trained}))
        if first is not None:
            rows.append((f"untrained (step {int(first['step'])})", first["rank"], first["cosine"],
                         {c: first[c] for c in reward_names if c in first}))
        names = list(dict.fromkeys([k for r in rows for k in r[3]]))
        head = "".join(f"<th>{e(k)}</th>" for k in names)
        body = ""
        for label, rank, cos, rewards in rows:
            cells = "".join(f"<td>{rewards[k]:.3f}</td>" if isinstance(rewards.get(k), (int, float))
                            else f"<td>{e(str(rewards.get(k, '')))}</td>" for k in names)
            body += f"<tr><td>{e(label)}</td><td><b>{int(rank)}</b> / {n}</td><td>{cos:.3f}</td>{cells}</tr>"
        info = self.user_info(self.user)
        green = " style='font-weight:700;color:#0a7d32'"
        top = "".join(f"<li{green if r == info['positive_row'] else ''}>{e(viz._short(t, 70))}</li>"
                      for t, r in zip(result["top10"], result["top10_rows"]))
        verdict = ("<span style='color:#0a7d32'>the positive is in the top 10!</span>"
                   if result["positive_in_top10"] else "the positive is not in the top 10 yet")
        compare = ""
        if first is not None:
            compare = f"<p><b>untrained profile:</b> <i>{e(first['text']) or '(empty)'}</i></p>"
        return (f"<p><b>next item (positive):</b> {e(info['positive_title'])} · {verdict} "
                f"<span style='color:#888'>({result['seconds'] * 1000:.0f} ms)</span></p>"
                f"<table style='border-collapse:collapse' border='1' cellpadding='3'><tr><th>profile</th>"
                f"<th>rank</th><th>cosine</th>{head}</tr>{body}</table>{compare}"
                f"<p><b>top 10 for your profile</b> (the positive in green):</p><ol>{top}</ol>")
