"""The figures and what they draw: the cached item map, profiles placed on it, trajectories with the
true distances, the animated map, and leave-one-out attribution."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bluekit import viz


def fake_snapshots(ws, n_users: int = 3, steps=(0, 2, 4)) -> pd.DataFrame:
    """Snapshot lines as SnapshotCallback writes them, for held-out users: the profile starts at a
    random direction and ends ON the positive's vector, so every positive must end at rank 1."""
    rng = np.random.default_rng(0)
    test = ws.test_examples.head(n_users)
    rows = []
    for _, ex in test.iterrows():
        target = ws.item_vecs[ws.prepared.item_index[ex.item_id]]
        start = rng.standard_normal(target.shape)
        start /= np.linalg.norm(start)
        for k, step in enumerate(steps):
            w = k / (len(steps) - 1)
            vec = (1 - w) * start + w * target
            vec /= np.linalg.norm(vec)
            rows.append({"step": step, "user_id": ex.user_id, "text": f"profile at step {step}",
                         "embedding": [round(float(x), 6) for x in vec],
                         "rewards": {"infonce": -3.0 + k, "length_format": 0.0, "total": -3.0 + k},
                         "positive": ex.item_id})
    return pd.DataFrame(rows)


def test_item_map_is_fitted_once_seeded_and_then_loaded_from_its_cache(ws, imap, tmp_path):
    assert imap.xy.shape == (len(ws.prepared.items), 2) and np.isfinite(imap.xy).all()
    assert "fit_s" in imap.timings
    files = sorted(p.suffix for p in imap.cache_path.parent.iterdir())
    assert files == [".json", ".npz", ".pkl"]  # coordinates, reducer, transform placements
    again = viz.item_map(ws, cache_dir=imap.cache_path.parent.parent)
    assert "fit_s" not in again.timings and again.timings["load_s"] < 1.0
    np.testing.assert_array_equal(again.xy, imap.xy)
    # another catalogue (one item fewer) gets its own key, so a stale map is never reused
    items = ws.prepared.items
    assert viz.map_key("m", items.item_id[:-1], ws.item_vecs[:-1]) != viz.map_key("m", items.item_id, ws.item_vecs)


def test_the_umap_fit_is_seeded(ws, imap, tmp_path):
    refit = viz.item_map(ws, cache_dir=tmp_path, refit=True)
    np.testing.assert_allclose(refit.xy, imap.xy, atol=1e-4)


def test_placing_a_profile_is_umaps_own_transform_start(ws, imap):
    from umap.umap_ import init_graph_transform

    rng = np.random.default_rng(1)
    vecs = ws.item_vecs[:20] + 0.3 * rng.standard_normal(ws.item_vecs[:20].shape).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    reducer = imap._load_reducer()
    reducer.transform_mode = "graph"
    try:
        graph = reducer.transform(vecs)
    finally:
        reducer.transform_mode = "embedding"
    expected = init_graph_transform(graph.tocsr(), reducer.embedding_)
    np.testing.assert_allclose(imap.place(vecs), expected, atol=1e-3)
    # an item's own vector lands on the item; placing is deterministic and batch-independent (up to
    # float32 rounding: BLAS may sum a batch of 3 and of 20 in another order, CI saw 2e-7)
    np.testing.assert_allclose(imap.place(ws.item_vecs[5:8]), imap.xy[5:8], atol=1e-5)
    np.testing.assert_array_equal(imap.place(vecs[:3]), imap.place(vecs[:3]))
    np.testing.assert_allclose(imap.place(vecs[:3]), imap.place(vecs)[:3], atol=1e-5)


def test_full_transform_placements_are_cached_per_vector(imap, ws):
    vec = ws.item_vecs[10:11]
    first = imap.place(vec, method="transform")
    saved = json.loads(imap.cache_path.with_suffix(".placed.json").read_text())
    assert len(saved) >= 1
    np.testing.assert_array_equal(imap.place(vec, method="transform"), first)


def test_trajectories_measure_the_true_rank_and_cosine(ws, imap):
    traj = viz.trajectories(fake_snapshots(ws), ws, imap, "fake run")
    assert traj.steps == [0, 2, 4] and len(traj.users) == 3 and not traj.message
    last = traj.points[traj.points.step == 4]
    assert (last["rank"] == 1).all() and np.allclose(last["cosine"], 1.0, atol=1e-4)
    assert traj.reward_names == ["infonce", "length_format", "total"]
    summary = viz.trajectory_summary(traj)
    assert summary["median_rank_last"] == 1 and summary["users_rank_improved"] == 3
    # the history markers are the items the prompt showed: the most recent ones, never the target
    for _, user in traj.users.iterrows():
        ex = ws.test_examples.set_index("user_id").loc[user.user_id]
        shown = [ws.prepared.item_index[h] for h in list(ex.history)[-ws.cfg.profiler.max_history_items:]]
        assert user.history_rows == shown and user.positive_row == ws.prepared.item_index[ex.item_id]
    assert -1 <= viz.map_agreement(imap, traj) <= 1


def test_trajectory_map_animates_with_fixed_ranges_and_says_what_each_point_is(ws, imap):
    traj = viz.trajectories(fake_snapshots(ws), ws, imap, "fake run")
    fig = viz.trajectory_map(imap, traj, max_steps=4)
    assert len(fig.data[0].x) == imap.n_items  # the faint item background, one point per item
    assert [f.name for f in fig.frames] == ["0", "2", "4"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0", "2", "4"]
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["▶ play", "❚❚ pause"]
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2", "xaxis3", "yaxis3"):
        assert fig.layout[axis].range is not None, f"{axis} must have a fixed range"
    paths = [t for t in fig.data if t.meta == "path"]
    assert len(paths) == 3 and all(len(p.x) == 3 for p in paths)
    assert list(paths[0].marker.symbol) == ["circle", "circle", "arrow"]
    stars = [t for t in fig.data if t.marker.symbol == "star"]
    assert len(stars) == 3
    hover = paths[0].hovertext[-1]
    assert "profile at step 4" in hover and "rank: <b>1 /" in hover and "infonce" in hover
    # frame k draws the path up to step k
    assert [len(f.data[0].x) for f in fig.frames] == [1, 2, 3]
    # direction at a glance: earlier steps faint, colour = the positive's rank, one start->end arrow
    opacity = list(paths[0].marker.opacity)
    assert opacity == sorted(opacity) and opacity[0] < 0.3 and opacity[-1] == 1.0
    assert paths[0].marker.coloraxis == "coloraxis" and paths[0].marker.color[-1] == 0.0  # rank 1
    arrows = [t for t in fig.data if t.meta == "arrow"]
    assert len(arrows) == 3 and list(arrows[0].x) == [paths[0].x[0], paths[0].x[-1]]
    # one user at a time: the dropdown fades every other user's traces (restyle: no kernel needed)
    selector = fig.layout.updatemenus[-1]
    assert [b.label for b in selector.buttons][0] == "all users" and len(selector.buttons) == 4
    faded = selector.buttons[1].args[0]["opacity"]
    first_user = paths[0].legendgroup
    assert all((o >= 0.5) == (t.legendgroup in (None, "median", first_user))
               for t, o in zip(fig.data, faded))
    assert faded[fig.data.index(paths[0])] == 1.0 and paths[0].opacity < 0.5  # faint among all


def test_runs_without_snapshots_or_panel_get_a_message_not_a_traceback(ws, imap, tmp_path):
    traj = viz.run_trajectories(tmp_path, ws, imap, "empty run")
    assert traj.empty and "snapshots.jsonl" in traj.message
    fig = viz.trajectory_map(imap, traj)
    assert "snapshots.jsonl" in fig.layout.annotations[-1].text and not fig.frames
    assert len(fig.data[0].x) == imap.n_items
    missing = viz.run_trajectories(tmp_path / "nope", ws, imap)
    assert missing.empty and "not a folder" in missing.message
    assert viz.trajectory_summary(traj) == {"users": 0, "steps": 0}


def test_notebook_figures_have_fixed_ranges(ws, imap):
    for fig in (viz.history_lengths(ws.test_examples, "demo"), viz.item_popularity(ws.prepared.interactions),
                viz.item_map_figure(imap)):
        assert fig.layout.xaxis.range is not None and fig.layout.title.text
    assert sum(len(t.x) for t in viz.item_map_figure(imap).data) == imap.n_items


BOOTS = "Waterproof leather hiking boots with grippy soles for mountain trails"
CATALOGUE = [BOOTS, "Silk necktie for formal office wear", "Cotton pajama set with long sleeves",
             "Wool beanie hat for cold winter days", "Stainless steel wrist watch with leather strap",
             "Polarized sunglasses for driving", "Lightweight running shorts for the gym",
             "Classic denim jacket", "Fleece lined slippers for the house", "Baseball cap with embroidered logo"]


def test_removing_the_sentence_that_names_the_positives_kind_worsens_its_rank(embedder):
    items = embedder.encode_documents(CATALOGUE)
    profile = ("Spends weekends on mountain trails and wants sturdy waterproof hiking boots. "
               "Reads novels in the evening. Likes the colour blue.")
    table = viz.attribution(profile, 0, items, embedder)
    assert list(table["unit"]) == ["Spends weekends on mountain trails and wants sturdy waterproof hiking boots.",
                                   "Reads novels in the evening.", "Likes the colour blue."]
    boots = table.iloc[0]
    assert table.attrs["rank"] == 1
    assert boots["rank_without"] > table.attrs["rank"]  # without it the positive falls down the ranking
    assert boots["delta_rank"] > 0 and boots["delta_cosine"] > 0
    assert table["delta_cosine"].idxmax() == 0  # the sentence that helps most
    html = viz.attribution_html(table)
    assert html.count("<span") == 3 and "rgba(0,150,60" in html  # green for the helping sentence


def test_attribution_of_nothing_is_a_message(embedder):
    items = embedder.encode_documents(CATALOGUE)
    table = viz.attribution("   ", 0, items, embedder)
    assert table.empty and "empty profile" in viz.attribution_html(table)
