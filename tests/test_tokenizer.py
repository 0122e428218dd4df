"""The shipped tokenizer is codegen-350M-mono's: same ids, exact round trips, loadable by transformers."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from textbooks.tokenizer import EOS_ID, PADDED_VOCAB_SIZE, VOCAB_SIZE, load_tokenizer, save_hf_tokenizer

REPO = Path(__file__).resolve().parents[1]

TRICKY_TEXTS = [
    "def f():\n\treturn 1\n\t\t\tx = 2\n",
    "mixed \t \t  indentation\t\t\t\t\t\t\t\t\t\t\t\t (13 tabs)",
    " " * 100 + "x",  # longer than the longest run
    "line one\r\nline two\r\n\r\n",
    "naïve café, 日本語のテキスト, emoji 🐍🚀, combining e\u0301, RTL שלום",
    "\x00\x01\x7f bytes and a lone \ufeff BOM",
    "   leading spaces, trailing spaces   ",
    "text<|endoftext|>more text",
    "",
]


def stdlib_sources(count: int = 40) -> list[Path]:
    """A fixed, varied sample of the standard library's Python files."""
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    step = max(1, len(files) // count)
    return files[::step][:count]


def test_encodes_the_reference_example_to_codegen_ids():
    assert load_tokenizer().encode("def hello():\n    return 1").ids == [4299, 23748, 33529, 198, 50284, 7783, 352]


@pytest.mark.parametrize("n", range(2, 32))
def test_a_run_of_spaces_is_one_added_token(n):
    assert load_tokenizer().encode(" " * n).ids == [50257 + 31 - n]


@pytest.mark.parametrize("n", range(2, 10))
def test_a_run_of_tabs_is_one_added_token(n):
    assert load_tokenizer().encode("\t" * n).ids == [50287 + 9 - n]


def test_longer_runs_take_the_longest_token_first():
    tokenizer = load_tokenizer()
    assert tokenizer.encode(" " * 33).ids == [50257, 50286]  # 31 + 2
    assert tokenizer.encode("\t" * 11).ids == [50287, 50294]  # 9 + 2


def test_sizes_and_end_of_text():
    tokenizer = load_tokenizer()
    assert tokenizer.get_vocab_size() == VOCAB_SIZE == 50295
    assert PADDED_VOCAB_SIZE == 51200
    assert tokenizer.token_to_id("<|endoftext|>") == EOS_ID == 50256
    assert tokenizer.encode("a<|endoftext|>b").ids == [64, EOS_ID, 65]
    assert tokenizer.decode([64, EOS_ID, 65], skip_special_tokens=True) == "ab"
    assert load_tokenizer() is tokenizer


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_decoding_round_trips_tricky_text(text):
    tokenizer = load_tokenizer()
    assert tokenizer.decode(tokenizer.encode(text).ids, skip_special_tokens=False) == text


def test_decoding_round_trips_standard_library_files():
    tokenizer = load_tokenizer()
    texts = [path.read_text(encoding="utf-8") for path in stdlib_sources()]
    for path, encoding in zip(stdlib_sources(), tokenizer.encode_batch(texts)):
        assert tokenizer.decode(encoding.ids, skip_special_tokens=False) == path.read_text(encoding="utf-8"), path


def test_transformers_loads_the_saved_folder_with_the_same_ids(tmp_path):
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(save_hf_tokenizer(tmp_path / "tok"))
    tokenizer = load_tokenizer()
    assert hf.eos_token_id == EOS_ID and len(hf) == VOCAB_SIZE
    for text in TRICKY_TEXTS + [p.read_text(encoding="utf-8")[:5000] for p in stdlib_sources(8)]:
        ids = tokenizer.encode(text).ids
        assert hf(text)["input_ids"] == ids
        assert hf.decode(ids) == text


def test_build_script_reproduces_the_shipped_tokenizer(tmp_path):
    out = tmp_path / "tokenizer.json"
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_tokenizer.py"), "--out", str(out)], check=True)
    from tokenizers import Tokenizer

    assert Tokenizer.from_file(str(out)).to_str() == load_tokenizer().to_str()
