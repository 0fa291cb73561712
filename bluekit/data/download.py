"""Download the real datasets (needs internet): resumable, size-checked, atomically renamed.

    python -m bluekit download amazon All_Beauty        # -> data/raw/amazon_2023/raw/...
    python -m bluekit download amazon All_Beauty --splits   # + .../amazon_2023/benchmark/5core/...
    python -m bluekit download google_local New_York    # -> data/raw/google_local/...

A file is streamed into "<dest>.part"; a rerun resumes it with an HTTP Range request
(restarting from zero when the server ignores Range), checks the final size against
Content-Length (and expected_size when given), and only then renames it to <dest>.
"""
from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from bluekit.errors import KitError

from .domains import amazon_category

AMAZON_BASE_URL = "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023/raw"
# The official benchmark splits (5-core, with history): last_out_w_his/ and timestamp_w_his/.
AMAZON_SPLITS_URL = "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023/benchmark/5core"
# Google Local Reviews (2021) per-state files; this host has moved before: pass base_url
# if it answers 404 (the dataset page links the current location).
GOOGLE_LOCAL_BASE_URL = "https://datarepo.eng.ucsd.edu/mcauley_group/gdrive/googlelocal"
USER_AGENT = "bluekit-downloader"
TIMEOUT_S = 60


class DownloadError(KitError, RuntimeError):
    """A download failed or came out the wrong size; the .part file is kept for a resume."""


def download_file(url: str, dest: str | Path, expected_size: int | None = None,
                  chunk: int = 1 << 20, progress: bool = True) -> Path:
    """Stream `url` to `dest`, resuming a previous "<dest>.part"; returns dest.

    An existing dest (of expected_size, when given) is kept and not downloaded again.
    A final size that differs from Content-Length or expected_size raises DownloadError
    and leaves the .part file in place (dest is never written half-way).
    """
    dest = Path(dest)
    if dest.exists() and (expected_size is None or dest.stat().st_size == expected_size):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0

    response = _open(url, offset)
    if response is None:  # 416: the .part already holds the whole file
        total = offset
    else:
        with response:
            offset, total = _resume_point(response, offset, part)
            _stream(response, part, offset, total, chunk, progress, url)

    size = part.stat().st_size
    if total is not None and size < total:
        raise DownloadError(f"{url}: transfer ended early at {size} of {total} bytes; "
                            f"rerun to resume from {part}")
    for what, wanted in (("Content-Length", total), ("expected_size", expected_size)):
        if wanted is not None and size != wanted:
            raise DownloadError(f"{url}: got {size} bytes but {what} says {wanted}; "
                                f"the file is kept at {part} (delete it to start over)")
    os.replace(part, dest)
    return dest


def amazon_urls(category: str, base_url: str = AMAZON_BASE_URL) -> dict[str, str]:
    """Relative destination path -> URL for one Amazon Reviews 2023 category."""
    base = base_url.rstrip("/")
    return {f"review_categories/{category}.jsonl.gz":
            f"{base}/review_categories/{category}.jsonl.gz",
            f"meta_categories/meta_{category}.jsonl.gz":
            f"{base}/meta_categories/meta_{category}.jsonl.gz"}


def amazon_split_urls(category: str, base_url: str = AMAZON_SPLITS_URL) -> dict[str, str]:
    """Relative destination path -> URL of the official split files (last_out and timestamp)."""
    from .amazon import BENCHMARK_FOLDERS, BENCHMARK_PARTS
    base = base_url.rstrip("/")
    return {f"{folder}/{category}.{part}.csv.gz": f"{base}/{folder}/{category}.{part}.csv.gz"
            for folder in BENCHMARK_FOLDERS.values() for part in BENCHMARK_PARTS}


def google_local_urls(state: str, base_url: str = GOOGLE_LOCAL_BASE_URL) -> dict[str, str]:
    """Relative destination path -> URL for one Google Local state (e.g. "New_York")."""
    base = base_url.rstrip("/")
    return {f"review-{state}.json.gz": f"{base}/review-{state}.json.gz",
            f"meta-{state}.json.gz": f"{base}/meta-{state}.json.gz"}


def download_amazon(category: str, raw_dir: str | Path = "data/raw",
                    base_url: str = AMAZON_BASE_URL, progress: bool = True) -> list[Path]:
    """Reviews and metadata of one category into {raw_dir}/amazon_2023/raw/ (where load_domain reads).

    Paper short names ("Clothing", "sports") are mapped to the file names (bluekit.data.domains).
    """
    category = amazon_category(category)
    root = Path(raw_dir) / "amazon_2023" / "raw"
    return [download_file(url, root / rel, progress=progress)
            for rel, url in amazon_urls(category, base_url).items()]


def download_amazon_splits(category: str, raw_dir: str | Path = "data/raw",
                           base_url: str = AMAZON_SPLITS_URL, progress: bool = True) -> list[Path]:
    """The official 5-core split files of one category into {raw_dir}/amazon_2023/benchmark/5core/,
    where load_prepared looks for them (amazon.benchmark_files)."""
    category = amazon_category(category)
    root = Path(raw_dir) / "amazon_2023" / "benchmark" / "5core"
    return [download_file(url, root / rel, progress=progress)
            for rel, url in amazon_split_urls(category, base_url).items()]


def download_google_local(state: str, raw_dir: str | Path = "data/raw",
                          base_url: str = GOOGLE_LOCAL_BASE_URL,
                          progress: bool = True) -> list[Path]:
    """Reviews and metadata of one state into {raw_dir}/google_local/ (where load_domain reads).

    The default base_url is the UCSD data repository of 2021; if it has moved, pass the
    folder that holds review-{State}.json.gz as base_url.
    """
    root = Path(raw_dir) / "google_local"
    return [download_file(url, root / rel, progress=progress)
            for rel, url in google_local_urls(state, base_url).items()]


# ---- helpers ----

def _open(url: str, offset: int):
    """GET url (from byte `offset` when > 0); None when the server says 416 (nothing left)."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            # "Range Not Satisfiable": fine only if the .part is already the full size.
            full = _total_from_content_range(e.headers.get("Content-Range", ""))
            if full == offset:
                return None
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"{url}: {e.reason}") from e


def _resume_point(response, offset: int, part: Path) -> tuple[int, int | None]:
    """(byte offset to append at, total size or None) from the response headers."""
    length = response.headers.get("Content-Length")
    length = int(length) if length is not None else None
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        start = re.match(r"bytes (\d+)-", content_range)
        if not (offset and start and int(start.group(1)) == offset):
            raise DownloadError(f"asked for bytes {offset}- but the server sent {content_range!r}")
        return offset, (offset + length if length is not None else None)
    # Full body (server ignored Range, or a fresh start): begin again from byte 0.
    if offset:
        part.unlink()
    return 0, length


def _stream(response, part: Path, offset: int, total: int | None, chunk: int,
            progress: bool, url: str) -> None:
    with open(part, "ab") as out, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                       desc=part.name[:-len(".part")], disable=not progress) as bar:
        try:
            while block := response.read(chunk):
                out.write(block)
                bar.update(len(block))
        except (http.client.IncompleteRead, OSError) as e:
            out.flush()
            raise DownloadError(f"{url}: connection lost after {out.tell()} bytes ({e}); "
                                f"rerun to resume from {part}") from e


def _total_from_content_range(value: str) -> int | None:
    match = re.search(r"/(\d+)\s*$", value)
    return int(match.group(1)) if match else None
