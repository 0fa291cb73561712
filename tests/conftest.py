"""Shared test set-up: offline, one thread, and small fixtures built at test time."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    import torch
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory):
    """A small demo world written once per session through the real writers."""
    from bluekit.data import synth
    out = tmp_path_factory.mktemp("demo")
    synth.write_demo_data(out, n_users=120, n_items=300, seed=0)
    return out


@pytest.fixture(scope="session")
def embedder():
    """The offline default embedder (all-MiniLM-L6-v2 from its package)."""
    from bluekit.embed import Embedder
    return Embedder(show_progress=False)


@pytest.fixture(scope="session")
def tiny_lm():
    """A tiny random chat model + tokenizer (~100k parameters), built in memory."""
    from bluekit.llm import build_tiny_model
    return build_tiny_model(seed=0)


@pytest.fixture(scope="session")
def ws():
    """The smoke preset's workspace: its demo world (about 300 items), split and item vectors."""
    from bluekit import pipeline
    from bluekit.config import load_config
    return pipeline.workspace(load_config("smoke"))


@pytest.fixture(scope="session")
def imap(ws, tmp_path_factory):
    """The smoke world's item map, fitted once per session into a fresh cache."""
    from bluekit import viz
    return viz.item_map(ws, cache_dir=tmp_path_factory.mktemp("umap-cache"))
