"""The paper table (bluekit.paper_table): every cell holds numbers or names why not (a missing run
names the command that publishes it), the MRR mark follows a hand-made paired case, the three
files are written, and nothing is written into the published runs."""
import copy
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from fake_runs import fake_tiny_run, file_hashes


def result(name, mrr, users=None):
    from bluekit.evaluate import MethodResult
    mrr = np.asarray(mrr, dtype=float)
    users = users or [f"u{i}" for i in range(len(mrr))]
    per_user = pd.DataFrame({"user_id": users, "recall@10": (mrr >= 0.1).astype(float),
                             "ndcg@10": np.where(mrr >= 0.1, mrr, 0.0), "mrr": mrr})
    return MethodResult(name, per_user, {"n": len(mrr)})


def test_the_mrr_mark_follows_a_hand_made_paired_case():
    from bluekit.evaluate import paired_test
    from bluekit.paper_table import DOWN, UP, assemble

    rng = np.random.default_rng(0)
    ref = rng.uniform(0.01, 0.3, 30)
    noise = rng.normal(0, 0.01, 30)
    cells = {("cpu-long", "A"): result("cpu-long", ref),
             ("better", "A"): result("better", ref + 0.05 + noise),  # every user up: p << 0.05
             ("worse", "A"): result("worse", ref - 0.05 + noise),
             ("same", "A"): result("same", ref + noise),  # symmetric noise: no mark
             ("missing", "A"): "not published: make train-x"}
    long, wide = assemble(cells, ["cpu-long", "better", "worse", "same", "missing"], ["A"], "cpu-long")
    marks = dict(zip(long.method, long.mark))
    assert (marks["better"], marks["worse"], marks["same"]) == (UP, DOWN, "")
    assert wide.loc["better", "A"].endswith(f"] {UP}") and wide.loc["worse", "A"].endswith(f"] {DOWN}")
    assert wide.loc["cpu-long", "A"].endswith("(reference)") and wide.loc["missing", "A"] == "not published: make train-x"
    p = paired_test(cells[("cpu-long", "A")], cells[("same", "A")], "mrr")["p_value"]
    assert long.set_index("method").loc["same", "p_vs_reference"] == p >= 0.05
    shown = wide.loc["same", "A"]
    assert shown.startswith("R@10 ") and " / N@10 " in shown and " / MRR " in shown and not shown.endswith(("▲", "▼"))


def test_every_cell_is_filled_or_names_its_missing_run(tmp_path, monkeypatch, embedder, tiny_lm):
    from bluekit.config import load_config
    from bluekit.data import load_prepared
    from bluekit.embed import cache_path, item_vectors
    from bluekit.embedder_training import save_embedder
    from bluekit.paper_table import ROWS, paper_table
    from bluekit.train import pretrained

    root, cache = tmp_path / "pretrained", tmp_path / "cache"
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", root)
    cache.mkdir()
    for vectors in Path(load_config("smoke").embed.cache_dir).glob("items-*.npz"):
        shutil.copy(vectors, cache / vectors.name)  # the smoke catalogues, if already embedded
    for domain in ("Clothing", "local"):
        items = load_prepared(load_config("smoke", {"data.domain": domain}).data).items
        item_vectors(embedder, items.item_id.tolist(), items.text.tolist(), cache, show_progress=False)
    fake_tiny_run(root / "cpu-long", cache, seed=1)
    fake_tiny_run(root / "langptune-cpu", cache, seed=2)
    tuned_run = fake_tiny_run(root / "cpu-long-tuned", cache, seed=3)
    tuned = copy.copy(embedder)
    tuned.name = f"{embedder.base_name}+tuned-test"  # same weights, its own item-vector cache
    save_embedder(tuned, tuned_run, {"rounds": 1})
    shutil.copy(cache_path(cache, embedder), cache_path(cache, tuned))  # the same weights' vectors
    before = file_hashes(root)  # rlpf-cpu is not published

    out = tmp_path / "out"
    table = paper_table("smoke", ["Clothing", "local"], users=10, out=out, embedder=embedder, reader=tiny_lm,
                        overrides={"embed.cache_dir": str(cache),
                                   "eval.sasrec": {"epochs": 2, "dim": 16, "max_len": 10}})
    wide = table["table"]
    source, target = "Clothing_Shoes_and_Jewelry (source)", "Demo_City (zero-shot)"
    assert list(wide.index) == [r.label for r in ROWS]
    readable = "readability on Clothing_Shoes_and_Jewelry"
    assert list(wide.columns) == [source, target, readable, "QA next-item choice (acc.)", "QA rating MAE"]
    rlpf = "not published: make train-rlpf (data/pretrained/rlpf-cpu)"
    for row in wide.index:
        for column in (source, target):
            cell = wide.loc[row, column]
            if row == "RLPF-style":
                assert cell == rlpf
            elif row.startswith("SASRec") and column == target:
                assert cell.startswith("n/a: ID-based")
            else:
                assert cell.startswith("R@10 ") and cell.count("[") == 3, (row, column, cell)
    assert wide.loc["cpu-long (the kit's BLUE-style run)", source].endswith("(reference)")
    for column in ("QA next-item choice (acc.)", "QA rating MAE"):
        assert wide.loc["RLPF-style", column] == rlpf
        assert wide.loc["SASRec (ID-based, not zero-shot)", column] == "n/a: no text to read"
        others = wide[column].drop(["RLPF-style", "SASRec (ID-based, not zero-shot)"])
        assert all(v[0].isdigit() and v.count("[") == 1 for v in others), others
    for row in wide.index:  # readability beside rank, for every row whose text is a profile
        cell = wide.loc[row, readable]
        if row == "RLPF-style":
            assert cell == rlpf
        elif row.startswith(("SASRec", "last item")):
            assert cell == "n/a: its text is not a profile"
        else:
            assert cell.startswith("item ") and " / flu. " in cell and cell.count("[") == 4, (row, cell)
    measured = table["long"][(table["long"].kind == "readability") & (table["long"].status == "ok")]
    assert (measured["n"] == 10).all() and measured["p_vs_reference"].isna().all()  # shown, not tested
    assert measured["fluency"].lt(0).all() and measured["item_description"].between(0, 1).all()
    ranking = table["long"][(table["long"].kind == "ranking") & (table["long"].status == "ok")]
    assert set(ranking.groupby("column")["n"].unique().map(tuple)) == {(10,)}  # the same users per column
    assert ranking["p_vs_reference"].notna().sum() == len(ranking) - 2  # all but the reference's two cells
    for name in ("paper-table.csv", "paper-table.md", "paper-table.json"):
        assert (out / name).stat().st_size > 0
    md = (out / "paper-table.md").read_text()
    assert rlpf in md and "NDCG@10 is not tested" in md and "SASRec is ID-based and not zero-shot" in md
    assert file_hashes(root) == before  # nothing written into the published runs
