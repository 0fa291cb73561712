"""The embedder and its on-disk item cache (real MiniLM, offline)."""
import copy
import logging

import numpy as np
import pytest

from bluekit.embed import cache_path, item_vectors, item_vectors_with_stats, safe_name


def test_encode_gives_unit_float32_rows_and_survives_empty_input(embedder):
    assert embedder.name == "all-MiniLM-L6-v2" and embedder.dim == 384
    vecs = embedder.encode_queries(["waterproof boots", "", None])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.encode_documents([]).shape == (0, 384)
    # Same text, same vector; different texts, different vectors.
    again = embedder.encode_documents(["waterproof boots"])
    assert float(again[0] @ vecs[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(vecs[0] @ vecs[1]) < 0.9


def test_prompts_by_name_or_literal(embedder):
    # MiniLM defines the prompt names "query" and "document" (both empty strings).
    assert embedder.prompt_kwargs("query") == {"prompt_name": "query"}
    assert embedder.prompt_kwargs("Represent this user: ") == {"prompt": "Represent this user: "}
    assert embedder.prompt_kwargs(None) == {}
    prefixed = copy.copy(embedder)  # shares the model, own prompts
    prefixed.query_prompt = "Represent this user: "
    q = prefixed.encode_queries(["likes jazz"])[0]
    d = prefixed.encode_documents(["likes jazz"])[0]
    literal = embedder.encode_documents(["Represent this user: likes jazz"])[0]
    assert float(q @ literal) == pytest.approx(1.0, abs=1e-5)
    assert float(q @ d) < 0.999


def test_item_cache_reuses_rows_reencodes_changed_text_and_keeps_order(embedder, tmp_path):
    ids = ["a", "b", "c"]
    texts = ["Gore-Tex hiking boots", "Sourdough cookbook", "Jazz guitar strings"]
    first, stats = item_vectors_with_stats(embedder, ids, texts, tmp_path, show_progress=False)
    assert (stats.hits, stats.encoded) == (0, 3)
    assert cache_path(tmp_path, embedder).name == "items-all-MiniLM-L6-v2.npz"
    np.testing.assert_allclose(first, embedder.encode_documents(texts), atol=1e-6)

    again, stats = item_vectors_with_stats(embedder, ids[::-1], texts[::-1], tmp_path, show_progress=False)
    assert (stats.hits, stats.encoded) == (3, 0)
    np.testing.assert_array_equal(again, first[::-1])

    changed = texts[:2] + ["Vintage film camera"]
    vecs, stats = item_vectors_with_stats(embedder, ids, changed, tmp_path, show_progress=False)
    assert (stats.hits, stats.encoded) == (2, 1)
    np.testing.assert_allclose(vecs[2], embedder.encode_documents(["Vintage film camera"])[0], atol=1e-6)
    with np.load(cache_path(tmp_path, embedder)) as data:  # the stale "c" entry is gone
        assert sorted(data["ids"].tolist()) == ["a", "b", "c"]
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left no temp file behind


def test_corrupt_cache_is_rebuilt_with_a_warning(embedder, tmp_path, caplog):
    path = cache_path(tmp_path, embedder)
    path.write_bytes(b"not a zip file")
    with caplog.at_level(logging.WARNING, logger="bluekit.embed"):
        vecs, stats = item_vectors_with_stats(embedder, ["a"], ["hiking boots"], tmp_path, show_progress=False)
    assert stats.rebuilt and stats.encoded == 1 and "rebuilding" in caplog.text
    _, stats = item_vectors_with_stats(embedder, ["a"], ["hiking boots"], tmp_path, show_progress=False)
    assert stats.hits == 1 and not stats.rebuilt
    np.testing.assert_array_equal(item_vectors(embedder, ["a"], ["hiking boots"], tmp_path), vecs)


def test_safe_name_keeps_long_names_unique():
    a, b = safe_name("x" * 200 + "a"), safe_name("x" * 200 + "b")
    assert a != b and len(a) <= 80
