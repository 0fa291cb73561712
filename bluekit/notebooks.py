"""Run the tutorial notebooks headless, and let them record the numbers tests assert on.

The notebooks follow one convention (as in microsoft/recommenders): a cell tagged
`parameters` holds scalars only; `execute_notebook` injects a cell after it with new
values (e.g. PRESET = "smoke"), runs every cell, and saves the executed copy. The
last cell of each notebook calls `record({...})`; `read_record` returns that dict.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import nbformat

from bluekit.atomic import atomic_path

RECORD_MIME = "application/vnd.bluekit.record+json"


def project_root(start: str | Path | None = None) -> Path:
    """The folder holding pyproject.toml (notebooks run from notebooks/, paths are root-relative)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "pyproject.toml").exists() and (folder / "bluekit").is_dir():
            return folder
    raise FileNotFoundError(f"no bluekit project root above {here}")


def setup(seed: int = 0, threads: int | None = None) -> Path:
    """First cell of every notebook: go to the project root, seed everything, stay offline-safe."""
    import numpy as np
    import torch

    root = project_root()
    os.chdir(root)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    from bluekit.viz import notebook_renderer
    notebook_renderer()  # figures also render in exported HTML, offline
    print(f"bluekit project root: {root}  (torch threads: {torch.get_num_threads()})")
    return root


def record(values: dict) -> dict:
    """Show the notebook's headline numbers and store them in the executed notebook."""
    from IPython.display import display

    clean = json.loads(json.dumps(values, default=float))  # numpy scalars -> float
    display({RECORD_MIME: clean, "text/plain": json.dumps(clean, indent=1)}, raw=True)
    return clean


def read_record(notebook: str | Path | nbformat.NotebookNode) -> dict:
    """The dict the executed notebook passed to `record` (last one wins)."""
    nb = notebook if isinstance(notebook, nbformat.NotebookNode) else nbformat.read(
        str(notebook), as_version=4)
    found = None
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if RECORD_MIME in out.get("data", {}):
                found = out["data"][RECORD_MIME]
    if found is None:
        raise KeyError("the notebook recorded nothing (no bluekit.notebooks.record call ran)")
    return dict(found)


def inject_parameters(nb: nbformat.NotebookNode, parameters: dict) -> None:
    """Insert a cell after the one tagged `parameters` that overrides its values."""
    index = next((i for i, c in enumerate(nb.cells)
                  if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if index is None:
        raise ValueError("notebook has no cell tagged 'parameters'")
    source = "# Parameters injected by bluekit.notebooks.execute_notebook\n" + "\n".join(
        f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(index + 1, cell)


def execute_notebook(src: str | Path, dst: str | Path | None = None, parameters: dict | None = None,
                     timeout: int = 3600, kernel_name: str = "python3") -> nbformat.NotebookNode:
    """Execute a notebook headless (in the project root) and write the executed copy to dst."""
    from nbclient import NotebookClient

    src = Path(src)
    nb = nbformat.read(str(src), as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(project_root(src.parent))}})
    try:
        client.execute()
    finally:
        if dst is not None:
            with atomic_path(dst) as tmp:
                nbformat.write(nb, str(tmp))
    return nb
