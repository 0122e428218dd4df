"""Benchmark data files: from a data directory, or downloaded once into a cache, sha256 checked.

Lookup order for a file: `data_dir` (the `--data-dir` flag), then `$TEXTBOOKS_BENCHMARK_DIR`, then
`../shared/assets/benchmarks` (the project's test assets, relative to the working directory); when
none holds it, it is downloaded from its canonical public URL into `$XDG_CACHE_HOME/textbooks/
benchmarks` (default ~/.cache). A file's sha256 is checked wherever it came from: a different
file would silently give a different number.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from textbooks.errors import UserError
from textbooks.io import sha256_file

DATA_DIR_ENV = "TEXTBOOKS_BENCHMARK_DIR"
SHARED_ASSETS_DIR = Path("../shared/assets/benchmarks")


@dataclass(frozen=True)
class DataFile:
    name: str
    url: str
    sha256: str


DATA_FILES = {
    f.name: f
    for f in (
        DataFile("mbpp.jsonl", "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl",
                 "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f"),
        DataFile("sanitized-mbpp.json",
                 "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/sanitized-mbpp.json",
                 "7fec016546acaee11dbe14f9f0bb670e59f41919f7b522a59fba34871da78551"),
        DataFile("HumanEvalPlus.jsonl.gz",
                 "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
                 "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101"),
        DataFile("MbppPlus-v0.2.0.jsonl.gz",
                 "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
                 "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63"),
    )
}


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textbooks"


def data_dirs(data_dir: str | Path | None) -> list[Path]:
    candidates = [data_dir, os.environ.get(DATA_DIR_ENV) or None, SHARED_ASSETS_DIR]
    return [Path(d) for d in candidates if d is not None]


def benchmark_file(name: str, data_dir: str | Path | None = None, *, cache_dir: Path | None = None,
                   data_file: DataFile | None = None) -> Path:
    """The local path of the data file `name`, downloading it into the cache if no directory has it."""
    data_file = data_file or DATA_FILES[name]
    for directory in data_dirs(data_dir):
        if (directory / name).is_file():
            return _checked(directory / name, data_file)
    cached = (cache_dir or cache_root() / "benchmarks") / name
    if cached.is_file():
        return _checked(cached, data_file)
    return download(data_file, cached)


def download(data_file: DataFile, destination: Path) -> Path:
    """Fetch `data_file.url` to `destination`; the file appears only once complete and checked."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=destination.parent, prefix=f".{data_file.name}.", delete=False) as partial:
        try:
            with httpx.stream("GET", data_file.url, follow_redirects=True, timeout=60) as response:
                if response.status_code != 200:
                    raise UserError(f"{data_file.url}: HTTP {response.status_code} while downloading {data_file.name}; "
                                    f"expected the file (or put it in --data-dir / ${DATA_DIR_ENV})")
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    partial.write(chunk)
        except httpx.HTTPError as err:
            os.unlink(partial.name)
            raise UserError(f"{data_file.url}: cannot download {data_file.name} ({err or type(err).__name__}); "
                            f"put the file in --data-dir or ${DATA_DIR_ENV} to run offline") from None
        except BaseException:
            os.unlink(partial.name)
            raise
    if digest.hexdigest() != data_file.sha256:
        os.unlink(partial.name)
        raise UserError(f"{data_file.url}: downloaded {data_file.name} has sha256 {digest.hexdigest()}; "
                        f"expected {data_file.sha256}")
    os.replace(partial.name, destination)
    return destination


def _checked(path: Path, data_file: DataFile) -> Path:
    actual = sha256_file(path)
    if actual != data_file.sha256:
        raise UserError(f"{path}: sha256 {actual}; expected {data_file.sha256} ({data_file.name} from {data_file.url})")
    return path
