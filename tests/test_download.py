"""Downloads against a tiny HTTP server on 127.0.0.1 (never the internet)."""
import http.server
import re
import threading

import pytest

from bluekit.data import download

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves server.files; honours "Range: bytes=N-" unless server.ignore_range.

    server.cut_after = N makes the next response stop after N body bytes (a lost connection).
    """

    def do_GET(self):
        self.server.seen.append((self.path, self.headers.get("Range")))
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not self.server.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.cut_after:  # promise the whole body, send part of it, hang up
            body, self.server.cut_after = body[:self.server.cut_after], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.files, srv.seen, srv.ignore_range, srv.cut_after = {"/data.bin": PAYLOAD}, [], False, None
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def test_full_download_then_skip(server, tmp_path):
    dest = tmp_path / "sub" / "data.bin"
    assert download.download_file(f"{server.url}/data.bin", dest, progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "data.bin.part").exists()
    download.download_file(f"{server.url}/data.bin", dest, progress=False)
    assert len(server.seen) == 1  # a complete file is not fetched again


def test_resume_from_partial_part(server, tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:3000])
    download.download_file(f"{server.url}/data.bin", dest, chunk=1000, progress=False)
    assert server.seen == [("/data.bin", "bytes=3000-")]
    assert dest.read_bytes() == PAYLOAD


def test_lost_connection_keeps_part_and_rerun_resumes(server, tmp_path):
    dest = tmp_path / "data.bin"
    server.cut_after = 4000
    with pytest.raises(download.DownloadError, match="rerun to resume"):
        download.download_file(f"{server.url}/data.bin", dest, chunk=1000, progress=False)
    assert not dest.exists()
    assert (tmp_path / "data.bin.part").read_bytes() == PAYLOAD[:4000]
    download.download_file(f"{server.url}/data.bin", dest, chunk=1000, progress=False)
    assert server.seen[-1] == ("/data.bin", "bytes=4000-")
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts(server, tmp_path):
    server.ignore_range = True
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(b"garbage that must not survive")
    download.download_file(f"{server.url}/data.bin", dest, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_part_already_complete(server, tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    download.download_file(f"{server.url}/data.bin", dest, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_size_mismatch_raises_and_keeps_part(server, tmp_path):
    dest = tmp_path / "data.bin"
    with pytest.raises(download.DownloadError, match="expected_size says 999"):
        download.download_file(f"{server.url}/data.bin", dest, expected_size=999, progress=False)
    assert not dest.exists()
    assert (tmp_path / "data.bin.part").read_bytes() == PAYLOAD


def test_http_error_names_url(server, tmp_path):
    with pytest.raises(download.DownloadError, match=r"missing\.bin: HTTP 404"):
        download.download_file(f"{server.url}/missing.bin", tmp_path / "m.bin", progress=False)
    assert not (tmp_path / "m.bin").exists()


def test_dataset_layouts_match_the_readers(server, tmp_path):
    server.files.update({
        "/a/review_categories/Sports_and_Outdoors.jsonl.gz": b"r",
        "/a/meta_categories/meta_Sports_and_Outdoors.jsonl.gz": b"m",
        "/g/review-New_York.json.gz": b"R", "/g/meta-New_York.json.gz": b"M"})
    paths = download.download_amazon("Sports", tmp_path, base_url=f"{server.url}/a/",
                                      progress=False)
    root = tmp_path / "amazon_2023" / "raw"
    assert paths == [root / "review_categories" / "Sports_and_Outdoors.jsonl.gz",
                     root / "meta_categories" / "meta_Sports_and_Outdoors.jsonl.gz"]
    paths = download.download_google_local("New_York", tmp_path, base_url=f"{server.url}/g",
                                           progress=False)
    assert [p.read_bytes() for p in paths] == [b"R", b"M"]
    assert paths[0] == tmp_path / "google_local" / "review-New_York.json.gz"
    assert download.amazon_urls("All_Beauty")["review_categories/All_Beauty.jsonl.gz"] == (
        "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023/raw/"
        "review_categories/All_Beauty.jsonl.gz")


def test_amazon_split_urls_and_layout_match_prep(server, tmp_path):
    urls = download.amazon_split_urls("All_Beauty")
    assert urls["last_out_w_his/All_Beauty.train.csv.gz"] == (
        "https://mcauleylab.ucsd.edu/public_datasets/data/amazon_2023/benchmark/5core/"
        "last_out_w_his/All_Beauty.train.csv.gz")
    assert sorted(urls) == sorted(f"{folder}/All_Beauty.{part}.csv.gz"
                                  for folder in ("last_out_w_his", "timestamp_w_his")
                                  for part in ("train", "valid", "test"))
    header = b"user_id,parent_asin,rating,timestamp,history\n"
    server.files.update({f"/b/{rel.replace('All_Beauty', 'Sports_and_Outdoors')}": header
                         for rel in urls})
    paths = download.download_amazon_splits("Sports", tmp_path, base_url=f"{server.url}/b",
                                            progress=False)
    assert len(paths) == 6 and all(p.read_bytes() == header for p in paths)
    from bluekit.data import amazon  # where prep looks for them
    found = amazon.benchmark_files(tmp_path / "amazon_2023" / "raw", "Sports_and_Outdoors",
                                   "timestamp")
    assert found == {part: tmp_path / "amazon_2023" / "benchmark" / "5core" / "timestamp_w_his"
                     / f"Sports_and_Outdoors.{part}.csv.gz" for part in ("train", "valid", "test")}


def test_split_download_without_network_is_one_clear_error(tmp_path):
    import socket
    with socket.socket() as s:  # a port nobody listens on: the connection is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(download.DownloadError, match=r"127\.0\.0\.1:\d+/last_out_w_his/"
                                                     r"All_Beauty\.train\.csv\.gz: .*refused"):
        download.download_amazon_splits("All_Beauty", tmp_path, base_url=f"http://127.0.0.1:{port}",
                                        progress=False)
    assert not any(tmp_path.rglob("*.csv.gz"))
