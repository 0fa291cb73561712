"""Item vectors at catalogue scale: resumable shards (npy per shard + a manifest), a progress
bar, sentence-transformers' multi-process pool, and item_vectors switching to shards."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bluekit import embed
from bluekit.embed import item_vectors, item_vectors_sharded

TEXTS = [f"{colour} {thing} for {who}" for colour in ("red", "blue", "green")
         for thing in ("running shoes", "coffee mug", "travel book", "wool scarf")
         for who in ("kids", "women", "men")]  # 36 short titles
IDS = [f"i{k:02d}" for k in range(len(TEXTS))]


@pytest.fixture
def counted(embedder, monkeypatch):
    """The embedder, with a list of how many texts each encode_documents call got."""
    calls, encode = [], embedder.encode_documents

    def counting(texts, *args, **kwargs):
        calls.append(len(texts))
        return encode(texts, *args, **kwargs)
    monkeypatch.setattr(embedder, "encode_documents", counting)
    return embedder, calls


def shard_folder(cache, embedder):
    return cache / "item-shards" / embed.safe_name(embedder.name)


def test_shards_hold_the_same_vectors_as_one_encode_with_a_manifest(embedder, tmp_path):
    vecs = item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=10, show_progress=False)
    assert np.allclose(vecs, embedder.encode_documents(TEXTS, show_progress=False), atol=1e-5)
    folder = shard_folder(tmp_path, embedder)
    [manifest] = [json.loads(p.read_text()) for p in folder.glob("catalogue-*.json")]
    assert manifest["items"] == 36 and manifest["dim"] == embedder.dim
    assert len(manifest["shards"]) == 4  # 10 + 10 + 10 + 6 items
    assert [np.load(folder / name).shape[0] for name in manifest["shards"]] == [10, 10, 10, 6]


def test_a_stopped_run_resumes_at_the_first_unfinished_shard(counted, tmp_path, monkeypatch):
    embedder, calls = counted
    encode = embedder.encode_documents

    def dies_on_the_third_shard(texts, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the run is stopped while shard 3 is being encoded
        return encode(texts, *args, **kwargs)
    monkeypatch.setattr(embedder, "encode_documents", dies_on_the_third_shard)
    with pytest.raises(KeyboardInterrupt):
        item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=10, show_progress=False)
    assert len(list(shard_folder(tmp_path, embedder).glob("shard-*.npy"))) == 2

    monkeypatch.setattr(embedder, "encode_documents", encode)
    calls.clear()
    vecs = item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=10, show_progress=False)
    assert calls == [10, 6]  # only the two shards that were not finished
    assert np.allclose(vecs, embedder.encode_documents(TEXTS, show_progress=False), atol=1e-5)
    calls.clear()
    item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=10, show_progress=False)
    assert calls == []  # all finished: nothing is encoded


def test_a_changed_item_re_encodes_its_shard_only(counted, tmp_path):
    embedder, calls = counted
    item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=10, show_progress=False)
    changed = TEXTS[:25] + ["a brand new title"] + TEXTS[26:]
    calls.clear()
    vecs = item_vectors_sharded(embedder, IDS, changed, tmp_path, shard_items=10, show_progress=False)
    assert calls == [10]
    assert np.allclose(vecs[25], embedder.encode_documents(["a brand new title"])[0], atol=1e-5)


def test_a_corrupt_shard_is_encoded_again(counted, tmp_path, caplog):
    embedder, calls = counted
    item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=10, show_progress=False)
    first = sorted(shard_folder(tmp_path, embedder).glob("shard-*.npy"))[0]
    first.write_bytes(first.read_bytes()[:100])  # truncated, as by a full disk
    calls.clear()
    vecs = item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=10, show_progress=False)
    assert calls == [10] and "unreadable" in caplog.text
    assert np.allclose(vecs, embedder.encode_documents(TEXTS, show_progress=False), atol=1e-5)


def test_progress_bar_counts_items(embedder, tmp_path, capsys):
    item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=10, show_progress=True)
    err = capsys.readouterr().err
    assert "item vectors" in err and "36/36" in err


def test_multi_process_pool_gives_the_same_vectors(embedder, tmp_path):
    # Two CPU workers stand in for two GPUs: the same sentence-transformers pool code path.
    vecs = item_vectors_sharded(embedder, IDS, TEXTS, tmp_path, shard_items=20,
                                devices=["cpu", "cpu"], show_progress=False)
    assert np.allclose(vecs, embedder.encode_documents(TEXTS, show_progress=False), atol=1e-5)
    assert str(embedder.model.device) == "cpu"  # the model is back where it was


def test_item_vectors_switches_to_shards_for_a_large_catalogue(embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(embed, "SHARDED_FROM", 30)
    monkeypatch.setattr(embed, "SHARD_ITEMS", 16)
    vecs = item_vectors(embedder, IDS, TEXTS, tmp_path, show_progress=False)
    assert not embed.cache_path(tmp_path, embedder).exists()  # no whole-catalogue npz
    assert len(list(shard_folder(tmp_path, embedder).glob("shard-*.npy"))) == 3
    stats = embed.item_vectors_with_stats(embedder, IDS, TEXTS, tmp_path, show_progress=False)[1]
    assert (stats.hits, stats.encoded) == (36, 0)
    assert np.allclose(vecs, embedder.encode_documents(TEXTS, show_progress=False), atol=1e-5)
