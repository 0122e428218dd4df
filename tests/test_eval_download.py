"""Benchmark files: found in the data directory, else downloaded once into the cache, sha256 checked."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from textbooks.benchmarks.download import DATA_DIR_ENV, DataFile, benchmark_file
from textbooks.errors import UserError

CONTENT = b'{"task_id": 11}\n'


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/www, counting requests."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "data.jsonl").write_bytes(CONTENT)
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_env_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no ../shared/assets from here


def data_file(url, content=CONTENT):
    return DataFile("data.jsonl", url, hashlib.sha256(content).hexdigest())


def test_an_absent_file_is_downloaded_once_into_the_cache(server, tmp_path):
    base, hits = server
    cache = tmp_path / "cache"
    path = benchmark_file("data.jsonl", None, cache_dir=cache, data_file=data_file(f"{base}/data.jsonl"))
    assert path == cache / "data.jsonl" and path.read_bytes() == CONTENT
    again = benchmark_file("data.jsonl", None, cache_dir=cache, data_file=data_file(f"{base}/data.jsonl"))
    assert again == path and hits == ["/data.jsonl"]


def test_a_download_with_the_wrong_sha256_is_refused_and_not_kept(server, tmp_path):
    base, _ = server
    cache = tmp_path / "cache"
    wrong = data_file(f"{base}/data.jsonl", content=b"something else")
    with pytest.raises(UserError, match="data.jsonl has sha256 .*; expected"):
        benchmark_file("data.jsonl", None, cache_dir=cache, data_file=wrong)
    assert list(cache.iterdir()) == []


def test_a_missing_url_and_an_unreachable_host_are_user_errors_naming_the_url(server, tmp_path):
    base, _ = server
    with pytest.raises(UserError, match=r"/nothing.jsonl: HTTP 404"):
        benchmark_file("data.jsonl", None, cache_dir=tmp_path / "c", data_file=data_file(f"{base}/nothing.jsonl"))
    with pytest.raises(UserError, match=r"http://127.0.0.1:9/data.jsonl: cannot download data.jsonl"):
        benchmark_file("data.jsonl", None, cache_dir=tmp_path / "c", data_file=data_file("http://127.0.0.1:9/data.jsonl"))


def test_the_data_dir_comes_first_and_is_checked_too(server, tmp_path, monkeypatch):
    base, hits = server
    local = tmp_path / "local"
    local.mkdir()
    (local / "data.jsonl").write_bytes(CONTENT)
    assert benchmark_file("data.jsonl", local, cache_dir=tmp_path / "c", data_file=data_file(f"{base}/x")) == local / "data.jsonl"
    monkeypatch.setenv(DATA_DIR_ENV, str(local))
    assert benchmark_file("data.jsonl", None, cache_dir=tmp_path / "c", data_file=data_file(f"{base}/x")) == local / "data.jsonl"
    assert hits == []
    (local / "data.jsonl").write_bytes(b"edited")
    with pytest.raises(UserError, match=r"local/data.jsonl: sha256 .*; expected"):
        benchmark_file("data.jsonl", local, cache_dir=tmp_path / "c", data_file=data_file(f"{base}/x"))


def test_the_shared_assets_match_the_pinned_checksums(shared_assets):
    from textbooks.benchmarks.download import DATA_FILES

    for name in DATA_FILES:
        assert benchmark_file(name, shared_assets / "benchmarks") == shared_assets / "benchmarks" / name
