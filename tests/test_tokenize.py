"""`textbooks tokenize`: datasets -> token shards with a loss mask, a weighted mixture, a held-out split."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from conftest import run_cli
from textbooks.data.datasets import Dataset, import_jsonl
from textbooks.data.sources import import_local_trees
from textbooks.errors import UserError
from textbooks.tokenizer import EOS_ID, load_tokenizer
from textbooks.train import tokenize as pack
from textbooks.train.loader import PackedData
from textbooks.train.shards import DTYPES, HEADER_BYTES, read_header, token_dtype
from textbooks.train.tokenize import MixtureInput, pack_datasets

STDLIB_EMAIL = Path(sysconfig.get_paths()["stdlib"]) / "email"  # 29 files, about 450 KB of Python


def exercise_records(n: int) -> list[dict]:
    records = []
    for i in range(n):
        prompt = f'def add_{i}(a: int, b: int) -> int:\n    """Return a + b + {i}.\n\n    >>> add_{i}(1, 2)\n    {3 + i}\n    """\n'
        solution = f"    total = a + b\n    return total + {i}\n"
        records.append({"prompt": prompt, "solution": solution, "function_name": f"add_{i}", "tests": [f"assert add_{i}(1, 2) == {3 + i}"]})
    return records


@pytest.fixture(scope="session")
def code_ds(tmp_path_factory) -> Dataset:
    return import_local_trees([STDLIB_EMAIL], tmp_path_factory.mktemp("data") / "email", rows_per_shard=8)


@pytest.fixture(scope="session")
def exercise_ds(tmp_path_factory) -> Dataset:
    root = tmp_path_factory.mktemp("data")
    src = root / "exercises.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in exercise_records(40)))
    return import_jsonl(src, root / "exercises", "exercise", rows_per_shard=16)


def read_split(directory: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every document of a split (closing EOS included) and its mask, read from the raw files."""
    docs, masks = [], []
    for tokens_path in sorted(directory.glob("tokens-*.bin")):
        header = read_header(tokens_path)
        tokens = np.fromfile(tokens_path, dtype=DTYPES[header["itemsize"]], offset=HEADER_BYTES)
        mask = np.fromfile(directory / tokens_path.name.replace("tokens", "mask"), dtype=np.uint8)
        offsets = np.fromfile(directory / tokens_path.name.replace("tokens", "docs").replace(".bin", ".idx"), dtype="<i8")
        assert offsets[0] == 0 and offsets[-1] == len(tokens) == len(mask) == header["count"]
        docs += np.split(tokens, offsets[1:-1])
        masks += np.split(mask, offsets[1:-1])
    return docs, masks


def decoded(docs: list[np.ndarray]) -> list[str]:
    tok = load_tokenizer()
    return [tok.decode(d[:-1].tolist(), skip_special_tokens=False) for d in docs]


def test_dtype_is_uint16_up_to_65536_tokens_and_uint32_above():
    assert token_dtype(50295) == np.uint16
    assert token_dtype(65536) == np.uint16
    assert token_dtype(65537) == np.uint32


def test_large_vocabulary_writes_uint32_shards_whose_header_round_trips(tmp_path):
    # A word-level tokenizer of 70,000 words: ids above 65,535 only fit in uint32.
    vocab = {f"w{i}": i for i in range(70_000)} | {"<|endoftext|>": 70_000, "[UNK]": 70_001}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    texts = ["w1 w69999 w65536", "w65535 w2"]
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    ds = import_jsonl(src, tmp_path / "ds", "textbook")
    manifest = pack_datasets([MixtureInput(ds.path)], tmp_path / "pack", val_fraction=0, tokenizer=tok)
    assert (manifest["dtype"], manifest["itemsize"], manifest["vocab_size"], manifest["eos_id"]) == ("uint32", 4, 70_002, 70_000)
    header = read_header(tmp_path / "pack" / "train" / "tokens-00000.bin")
    assert header == {"itemsize": 4, "count": 3 + 1 + 2 + 1, "vocab": 70_002}
    docs, _ = read_split(tmp_path / "pack" / "train")
    assert sorted(d.tolist() for d in docs) == sorted(tok.encode(t).ids + [70_000] for t in texts)


def test_documents_are_joined_by_eos_and_decode_to_the_source(code_ds, tmp_path):
    manifest = pack_datasets([MixtureInput(code_ds.path)], tmp_path / "pack", val_fraction=0)
    assert manifest["dtype"] == "uint16" and manifest["eos_id"] == EOS_ID
    docs, masks = read_split(tmp_path / "pack" / "train")
    assert all(d[-1] == EOS_ID and EOS_ID not in d[:-1] for d in docs)
    assert sorted(decoded(docs)) == sorted(r["text"] for r in code_ds.iter_records(["text"]))
    assert all(m.all() for m in masks)  # code: every token, EOS included, is a target
    assert manifest["splits"]["train"]["documents"] == code_ds.num_rows
    assert [s["index"] for s in manifest["splits"]["train"]["shards"]] == [0, 1, 2, 3]  # one per input shard


def test_a_literal_eos_inside_a_document_is_text_not_a_separator(tmp_path):
    text = 'SEP = "<|endoftext|>"\n'
    src = tmp_path / "c.jsonl"
    src.write_text(json.dumps({"text": text}) + "\n")
    ds = import_jsonl(src, tmp_path / "ds", "code")
    pack_datasets([MixtureInput(ds.path)], tmp_path / "pack", val_fraction=0)
    (doc,), _ = read_split(tmp_path / "pack" / "train")
    assert list(doc).count(EOS_ID) == 1 and decoded([doc]) == [text]


def test_loss_on_solution_marks_exactly_the_solution_tokens_and_eos(exercise_ds, tmp_path):
    pack_datasets([MixtureInput(exercise_ds.path)], tmp_path / "pack", val_fraction=0, loss_on="solution")
    tok = load_tokenizer()
    docs, masks = read_split(tmp_path / "pack" / "train")
    by_text = {r["text"]: r for r in exercise_ds.iter_records()}
    for doc, mask, text in zip(docs, masks, decoded(docs), strict=True):
        record = by_text[text]
        prompt, solution = tok.encode(record["prompt"]).ids, tok.encode(record["solution"]).ids
        assert doc.tolist() == prompt + solution + [EOS_ID]  # tokenized apart: the boundary is exact
        assert mask.tolist() == [0] * len(prompt) + [1] * (len(solution) + 1)
    assert len(docs) == 40


def test_loss_on_all_trains_on_every_exercise_token(exercise_ds, tmp_path):
    manifest = pack_datasets([MixtureInput(exercise_ds.path)], tmp_path / "pack", val_fraction=0, loss_on="all")
    _, masks = read_split(tmp_path / "pack" / "train")
    assert manifest["loss_on"] == "all" and all(m.all() for m in masks)


@pytest.mark.parametrize(("weight", "expected_docs"), [(2.0, 2 * 28), (0.5, 14), (1.5, 28 + 14)])
def test_mixture_weight_is_passes_over_the_training_documents(code_ds, exercise_ds, tmp_path, weight, expected_docs):
    # email has 29 files: one is held out (0.5% rounds to 0, at least 1), 28 are trained on.
    manifest = pack_datasets([MixtureInput(code_ds.path, weight), MixtureInput(exercise_ds.path, 1.0)], tmp_path / "pack")
    code, exercises = manifest["inputs"]
    assert code["train"]["documents"] == expected_docs and code["val"]["documents"] == 1
    assert exercises["train"]["documents"] == 39 and exercises["val"]["documents"] == 1
    docs, _ = read_split(tmp_path / "pack" / "train")
    assert len(docs) == expected_docs + 39
    assert manifest["splits"]["train"]["tokens"] == code["train"]["tokens"] + exercises["train"]["tokens"] == sum(map(len, docs))
    assert code["train"]["share"] + exercises["train"]["share"] == pytest.approx(1.0)
    counts = {}
    for text in decoded(docs):
        counts[text] = counts.get(text, 0) + 1
    code_texts = {r["text"] for r in code_ds.iter_records(["text"])}
    copies = sorted(n for text, n in counts.items() if text in code_texts)
    assert set(copies) <= {int(weight), int(weight) + 1} and sum(copies) == expected_docs


def test_held_out_documents_are_disjoint_from_training_and_seeded(exercise_ds, tmp_path):
    def split_texts(out, seed):
        pack_datasets([MixtureInput(exercise_ds.path)], out, val_fraction=0.2, seed=seed)
        return set(decoded(read_split(out / "train")[0])), set(decoded(read_split(out / "val")[0]))

    train, val = split_texts(tmp_path / "a", seed=0)
    assert len(val) == round(0.2 * 40) and not train & val
    assert train | val == {r["text"] for r in exercise_ds.iter_records()}
    assert split_texts(tmp_path / "b", seed=0) == (train, val)
    assert split_texts(tmp_path / "c", seed=1)[1] != val


def test_rerunning_an_unchanged_tokenize_is_a_noop(exercise_ds, tmp_path):
    first = pack_datasets([MixtureInput(exercise_ds.path)], tmp_path / "pack")
    shard = tmp_path / "pack" / "train" / "tokens-00000.bin"
    before = shard.stat().st_mtime_ns
    assert pack_datasets([MixtureInput(exercise_ds.path)], tmp_path / "pack") == first
    assert shard.stat().st_mtime_ns == before
    changed = pack_datasets([MixtureInput(exercise_ds.path)], tmp_path / "pack", seed=7)
    assert changed["fingerprint"] != first["fingerprint"]


def test_an_interrupted_tokenize_resumes_at_the_first_unfinished_shard(exercise_ds, tmp_path, monkeypatch):
    real = pack._pack_unit

    def crash_on_third(unit):
        if unit.index == 2:
            raise RuntimeError("killed")
        return real(unit)

    monkeypatch.setattr(pack, "_pack_unit", crash_on_third)
    with pytest.raises(RuntimeError):
        pack_datasets([MixtureInput(exercise_ds.path)], tmp_path / "pack")
    assert not (tmp_path / "pack").exists()  # nothing half-written looks finished
    staging = tmp_path / ".pack.partial"
    finished = staging / "train" / "tokens-00000.bin"
    before = finished.stat().st_mtime_ns
    monkeypatch.setattr(pack, "_pack_unit", real)
    resumed = pack_datasets([MixtureInput(exercise_ds.path)], tmp_path / "pack")
    assert (tmp_path / "pack" / "train" / "tokens-00000.bin").stat().st_mtime_ns == before
    fresh = pack_datasets([MixtureInput(exercise_ds.path)], tmp_path / "fresh")
    assert resumed["splits"] == fresh["splits"] and not staging.exists()


@pytest.mark.slow
def test_worker_processes_write_the_same_shards_as_one_process(code_ds, tmp_path):
    pack_datasets([MixtureInput(code_ds.path, 1.5)], tmp_path / "one", workers=1)
    pack_datasets([MixtureInput(code_ds.path, 1.5)], tmp_path / "two", workers=2)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*-*"))
    assert len(files) == 4 * 3 + 3  # 4 train shards x 3 files; the one held-out file's shard
    assert all((tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes() for f in files)


def test_an_empty_mixture_is_a_user_error(code_ds, tmp_path):
    with pytest.raises(UserError, match="empty mixture"):
        pack_datasets([], tmp_path / "a")
    with pytest.raises(UserError, match="empty mixture"):
        pack_datasets([MixtureInput(code_ds.path, 0.0)], tmp_path / "b")
    empty = import_jsonl(_write(tmp_path / "empty.jsonl", ""), tmp_path / "empty", "code")
    with pytest.raises(UserError, match="empty mixture"):
        pack_datasets([MixtureInput(empty.path)], tmp_path / "c")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    # An empty input beside a real one is no error: it adds nothing.
    manifest = pack_datasets([MixtureInput(code_ds.path), MixtureInput(empty.path)], tmp_path / "d")
    assert manifest["inputs"][1]["train"] == {"documents": 0, "tokens": 0, "share": 0.0}


def test_input_specs_parse_a_numeric_weight_suffix_only():
    assert MixtureInput.parse("data/code:2.5") == MixtureInput(Path("data/code"), 2.5)
    assert MixtureInput.parse("data/code") == MixtureInput(Path("data/code"), 1.0)
    assert MixtureInput.parse("c:/odd:name") == MixtureInput(Path("c:/odd:name"), 1.0)
    with pytest.raises(UserError, match="weight"):
        MixtureInput.parse("data/code:-1")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_cli_tokenizes_a_weighted_mixture(code_ds, exercise_ds, tmp_path):
    out = tmp_path / "pack"
    result = run_cli("tokenize", "--input", f"{code_ds.path}:1.0", "--input", f"{exercise_ds.path}:2", "--out", str(out),
                     "--loss-on", "solution", "--workers", "1")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "pack.json").read_text())
    assert [e["weight"] for e in manifest["inputs"]] == [1.0, 2.0] and manifest["loss_on"] == "solution"
    assert f"train {manifest['splits']['train']['tokens']} tokens" in result.stdout


def test_cli_reports_an_empty_mixture_in_one_line_and_exits_2(code_ds, tmp_path):
    result = run_cli("tokenize", "--input", f"{code_ds.path}:0", "--out", str(tmp_path / "pack"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: empty mixture") and result.stderr.count("\n") == 1


def test_a_pack_records_each_shard_files_sha256_and_verify_names_a_damaged_one(exercise_ds, tmp_path):
    out = tmp_path / "pack"
    manifest = pack_datasets([MixtureInput(exercise_ds.path)], out, val_fraction=0.25)
    shard = manifest["splits"]["train"]["shards"][0]
    assert set(shard["sha256"]) == {"tokens", "mask", "docs"}
    assert run_cli("dataset", "verify", str(out)).returncode == 0
    mask = out / "train" / "mask-00000.bin"
    data = bytearray(mask.read_bytes())
    data[0] ^= 1
    mask.write_bytes(bytes(data))
    bad = run_cli("dataset", "verify", str(out))
    assert bad.returncode == 2 and f"{mask}: sha256 differs" in bad.stdout and "1 damaged shard file(s) in this token pack" in bad.stderr


def test_training_on_a_pack_with_a_torn_token_shard_names_the_file_and_what_to_do(exercise_ds, tmp_path):
    out = tmp_path / "pack"
    pack_datasets([MixtureInput(exercise_ds.path)], out, val_fraction=0.25)
    tokens = out / "train" / "tokens-00001.bin"
    tokens.write_bytes(tokens.read_bytes()[:100])
    with pytest.raises(UserError, match=r"tokens-00001\.bin: .*torn by a full disk or an interrupted copy\? copy the pack "
                                         r"again or re-run `textbooks tokenize`"):
        PackedData(out)
