"""The live training view and the profile editor: they update from real files and real embeddings,
and bad input (no snapshots, no panel, an empty profile) is a message in the widget."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bluekit import viz
from bluekit.train.records import append_jsonl

SPECS = [{"name": "infonce", "weight": 1.0, "params": {"tau": 0.05, "num_negatives": 8}},
         {"name": "length_format", "weight": 0.5}]


def snapshot_lines(ws, step: int, users: int = 2) -> list[dict]:
    """Real profile texts, embedded: generic at step 0, naming the positive's title later."""
    lines = []
    for _, ex in ws.test_examples.head(users).iterrows():
        title = ws.prepared.items.title[ws.prepared.item_index[ex.item_id]]
        text = "Likes nice things." if step == 0 else f"Wants the {title}."
        lines.append({"step": step, "user_id": ex.user_id, "text": text,
                      "embedding": ws.embedder.encode_queries([text])[0].tolist(),
                      "rewards": {"infonce": -2.0 + step, "total": -2.0 + step}, "positive": ex.item_id})
    return lines


def hooks(max_steps=4, step=0):
    return SimpleNamespace(max_steps=max_steps), SimpleNamespace(global_step=step, max_steps=max_steps), None


def test_live_view_redraws_the_map_at_each_snapshot_and_the_rewards_at_each_log(ws, imap, tmp_path):
    from bluekit.widgets import LiveTrainingView

    live = LiveTrainingView(ws, tmp_path, imap=imap)
    live.on_train_begin(*hooks())
    assert "snapshots.jsonl" in live.status.value  # nothing yet: a message, not a traceback
    append_jsonl(tmp_path / "snapshots.jsonl", snapshot_lines(ws, 0))
    live.on_step_end(*hooks(step=0))
    paths = [t for t in live.map.data if t.meta == "path"]
    assert len(paths) == 2 and all(len(p.x) == 1 for p in paths)
    assert live.map.layout.xaxis2.range[1] >= 4  # the step axis spans the whole run from the start
    drawn = live.updates
    for step in (1, 2):
        live.on_log(*hooks(step=step), logs={"reward": -1.0 + step, "rewards/infonce/mean": -1.0})
        live.on_step_end(*hooks(step=step))
    assert live.updates == drawn  # no new snapshot, no redraw
    assert len(live.rewards.widget.data) == 4  # total + infonce, raw and smoothed
    append_jsonl(tmp_path / "snapshots.jsonl", snapshot_lines(ws, 2))
    live.on_step_end(*hooks(step=2))
    paths = [t for t in live.map.data if t.meta == "path"]
    assert live.updates == drawn + 1 and all(len(p.x) == 2 for p in paths)
    assert "step <b>2</b>" in live.status.value and "→ <b>1</b>" in live.status.value  # rank 1 at step 2
    fig, curves = live.static_figures()
    assert [f.name for f in fig.frames] == ["0", "2"] and len(fig.data[0].x) == imap.n_items


@pytest.mark.slow
def test_live_view_follows_a_real_grpo_run(ws, imap, tmp_path):
    from bluekit.config import load_config
    from bluekit.train import train_profiler
    from bluekit.widgets import LiveTrainingView

    cfg = load_config("smoke", {"train.output_dir": str(tmp_path / "run"), "train.rewards": SPECS})
    live = LiveTrainingView(ws, cfg.train.output_dir, imap=imap)
    train_profiler(cfg, prepared=ws.prepared, embedder=ws.embedder, item_vecs=ws.item_vecs,
                   resume=False, progress=False, extra_callbacks=[live])
    assert live.traj.steps == [0, 2, 4] and live.max_steps == 4
    assert len(live.traj.users) == cfg.train.panel_users
    assert live.updates >= 3 and len(live.rewards.rows) == 4


@pytest.fixture(scope="module")
def editor(ws, imap, tmp_path_factory):
    from bluekit.widgets import ProfileEditor
    from bluekit.train import load_snapshots

    run = tmp_path_factory.mktemp("run")
    append_jsonl(run / "snapshots.jsonl", snapshot_lines(ws, 0, users=3) + snapshot_lines(ws, 4, users=3))
    traj = viz.trajectories(load_snapshots(run), ws, imap, "fake run")
    return ProfileEditor(ws, imap, traj, specs=SPECS)


def test_editor_starts_with_the_trained_profile_and_scores_edits(editor, ws):
    user = editor.traj.users.iloc[0]
    title = user.positive_title
    assert editor.text.value == f"Wants the {title}."
    assert editor.last["ok"] and editor.last["rank"] <= 3 and editor.last["positive_in_top10"]
    generic = editor.update("Likes nice things. Buys stuff.")
    assert generic["ok"] and generic["rank"] > editor.evaluate(f"Wants the {title}.")["rank"]
    assert len(generic["top10"]) == 10 and set(generic["rewards"]) == {"infonce", "length_format", "total"}
    assert "not in the top 10" in editor.stats.value and "Which sentences help?" in editor.attrib.value
    x, y = editor.map.data[-1].x[0], editor.map.data[-1].y[0]
    assert (x, y) == pytest.approx(editor.imap.place(ws.embedder.encode_queries(["Likes nice things. Buys stuff."]))[0])


def test_editor_compare_shows_the_untrained_profile(editor):
    editor.compare.value = True
    try:
        assert len(editor.map.data[-2].x) == 1 and "untrained profile" in editor.stats.value
        assert "Likes nice things." in editor.stats.value
    finally:
        editor.compare.value = False
    assert len(editor.map.data[-2].x) == 0


def test_editor_switches_user_and_says_when_a_profile_is_empty(editor):
    second = editor.users[1]
    editor.user_box.value = second
    assert editor.user == second and editor.last["user_id"] == second
    editor.update("   ")
    assert "profile is empty" in editor.stats.value and len(editor.map.data[-1].x) == 0
    table = editor.compare_texts(["", "Likes nice things."], second)
    assert "message" in table and table["rank"].notna().sum() == 1


def test_editor_without_a_panel_shows_a_message(ws, imap, tmp_path):
    from bluekit.widgets import ProfileEditor

    empty = viz.run_trajectories(tmp_path, ws, imap)
    editor = ProfileEditor(ws, imap, empty, specs=SPECS)
    assert "snapshots.jsonl" in editor.stats.value
    assert not editor.evaluate("anything")["ok"]
