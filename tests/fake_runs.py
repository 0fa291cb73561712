"""Finished runs made at test time, for the tests of what reads runs (transfer, the paper table)."""
import hashlib
import shutil
from pathlib import Path


def fake_tiny_run(folder: Path, cache: Path, seed: int = 1, **overrides) -> Path:
    """A finished full-fine-tune run on the smoke world: its config.yaml and final/ holding a tiny
    model with other weights than the untrained profiler's (build_tiny_model(seed=0)). Its embed
    cache is `cache` (profiles land there), seeded with the smoke item vectors already made."""
    from bluekit.config import load_config, save_config
    from bluekit.llm import build_tiny_model

    cfg = load_config("smoke", {"train.output_dir": str(folder), "embed.cache_dir": str(cache), **overrides})
    cache.mkdir(parents=True, exist_ok=True)
    for vectors in Path(load_config("smoke").embed.cache_dir).glob("items-*.npz"):
        if not (cache / vectors.name).exists():
            shutil.copy(vectors, cache / vectors.name)
    folder.mkdir(parents=True, exist_ok=True)
    save_config(cfg, folder / "config.yaml")
    model, tok = build_tiny_model(seed=seed)
    model.save_pretrained(folder / "final")
    tok.save_pretrained(folder / "final")
    return folder


def file_hashes(folder: Path) -> dict:
    """Every file under folder -> its sha256: to show that nothing was written there."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
