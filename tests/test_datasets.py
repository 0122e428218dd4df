from __future__ import annotations

import hashlib
import json

import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from textbooks.data.datasets import Dataset, DatasetWriter, export_jsonl, import_jsonl, write_shard_file
from textbooks.data.schemas import validate_record
from textbooks.errors import UserError


def _records(n, start=0):
    return [{"id": f"r{i}", "text": f"def f{i}():\n    return {i}\n", "source": "test"} for i in range(start, start + n)]


def test_written_dataset_is_plain_parquet_with_manifest(tmp_path):
    out = tmp_path / "ds"
    with DatasetWriter(out, stage="unit", kind="code", config={"a": 1}) as writer:
        writer.write_records(_records(5), rows_per_shard=2)
    ds = Dataset.open(out)
    assert [p.name for p in ds.shards] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert ds.num_rows == 5 and ds.kind == "code"
    table = pq.read_table(ds.shards[0])
    assert table.column_names[:6] == ["id", "text", "source", "path", "repo", "license"]
    assert [r["id"] for r in ds.iter_records()] == [f"r{i}" for i in range(5)]
    assert not list(tmp_path.glob(".*partial"))


def test_fingerprint_excludes_time_and_unchanged_stage_is_a_noop(tmp_path):
    out = tmp_path / "ds"
    with DatasetWriter(out, stage="unit", kind="code", config={"a": 1}) as writer:
        writer.write_records(_records(3))
    first = Dataset.open(out).fingerprint
    again = DatasetWriter(out, stage="unit", kind="code", config={"a": 1})
    assert again.done
    changed = DatasetWriter(out, stage="unit", kind="code", config={"a": 2})
    assert not changed.done and changed.fingerprint != first


def test_crash_leaves_no_dataset_and_resume_skips_finished_shards(tmp_path):
    out = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        with DatasetWriter(out, stage="unit", kind="code", config={}) as writer:
            writer.write_shard(0, _records(2))
            raise RuntimeError("crash after shard 0")
    assert not out.exists(), "a half dataset must never look complete"
    with DatasetWriter(out, stage="unit", kind="code", config={}) as writer:
        assert writer.shard_done(0) and not writer.shard_done(1)
        writer.write_shard(1, _records(2, start=2))
    assert [r["id"] for r in Dataset.open(out).iter_records()] == ["r0", "r1", "r2", "r3"]


def test_rerun_with_new_config_replaces_atomically(tmp_path):
    out = tmp_path / "ds"
    for value in (1, 2):
        with DatasetWriter(out, stage="unit", kind="code", config={"v": value}) as writer:
            writer.write_records(_records(value))
    assert Dataset.open(out).num_rows == 2


def test_refuses_to_replace_a_foreign_directory(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep")
    with pytest.raises(UserError, match="not a textbooks dataset"):
        DatasetWriter(out, stage="unit", kind="code", config={})
    assert (out / "precious.txt").read_text() == "keep"


def test_exercise_invariant_and_field_errors():
    ok = validate_record("exercise", {"prompt": "def f():\n", "solution": "    return 1\n"}, "x")
    assert ok["text"] == ok["prompt"] + ok["solution"] and ok["tests"] == [] and len(ok["id"]) == 24
    with pytest.raises(UserError, match="x: field 'text' must equal prompt \\+ solution"):
        validate_record("exercise", {"prompt": "a", "solution": "b", "text": "c"}, "x")
    with pytest.raises(UserError, match="y: field 'usage_tokens' should be int64"):
        validate_record("textbook", {"text": "t", "usage_tokens": "3"}, "y")


def test_jsonl_round_trip_keeps_extra_columns(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"text": "print('héllo')\r\n\tx = 1\n", "edu_score": 0.5}, {"id": "b", "text": "pass\n", "edu_score": 0.25}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ds = import_jsonl(src, tmp_path / "ds", "code")
    dst = tmp_path / "out.jsonl"
    assert export_jsonl(ds, dst) == 2
    back = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in back] == [r["text"] for r in rows]
    assert [r["edu_score"] for r in back] == [0.5, 0.25]
    assert back[1]["id"] == "b"


def test_cli_reports_broken_jsonl_line_and_exits_2(tmp_path):
    src = tmp_path / "broken.jsonl"
    src.write_text('{"text": "ok"}\n{"text": \n')
    result = run_cli("dataset", "import", str(src), "--out", str(tmp_path / "ds"))
    assert result.returncode == 2
    assert "broken.jsonl:2: not valid JSON" in result.stderr  # file:line, as every JSONL reader says it
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ds").exists()


def test_cli_imports_a_local_tree(tmp_path):
    tree = tmp_path / "pkg"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.py").write_text("x = 1\n")
    (tree / "sub" / "b.py").write_text("def f():\n\treturn 'ü'\n")
    (tree / "notes.txt").write_text("not python")
    result = run_cli("dataset", "import", str(tree), "--out", str(tmp_path / "ds"))
    assert result.returncode == 0, result.stderr
    records = list(Dataset.open(tmp_path / "ds").iter_records())
    assert [r["path"] for r in records] == ["a.py", "sub/b.py"]
    assert records[1]["text"] == "def f():\n\treturn 'ü'\n"


# -- torn and damaged shards ---------------------------------------------------------------------------


def _written(tmp_path, n=5, rows_per_shard=2):
    out = tmp_path / "ds"
    with DatasetWriter(out, stage="unit", kind="code", config={"a": 1}) as writer:
        writer.write_records(_records(n), rows_per_shard=rows_per_shard)
    return out


def _tear(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_the_manifest_records_each_shards_size_and_sha256(tmp_path):
    out = _written(tmp_path)
    for shard in Dataset.open(out).manifest["shards"]:
        path = out / shard["name"]
        assert shard["bytes"] == path.stat().st_size and shard["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_opening_a_dataset_with_a_torn_shard_names_the_shard_and_what_to_do(tmp_path):
    out = _written(tmp_path)
    _tear(out / "part-00001.parquet")
    with pytest.raises(UserError, match=r"part-00001\.parquet: \d+ bytes, but manifest\.json records \d+ .*copy the dataset "
                                         r"again or re-run the stage"):
        Dataset.open(out)


def test_tokenize_of_a_torn_dataset_is_one_line_naming_the_shard(tmp_path):
    out = _written(tmp_path)
    _tear(out / "part-00000.parquet")
    result = run_cli("tokenize", "--input", str(out), "--out", str(tmp_path / "pack"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and f"{out / 'part-00000.parquet'}: " in result.stderr


def test_dataset_verify_checks_every_shards_hash_and_names_the_damaged_ones(tmp_path):
    out = _written(tmp_path)
    good = run_cli("dataset", "verify", str(out))
    assert good.returncode == 0 and "every shard matches" in good.stdout
    for name in ("part-00000.parquet", "part-00002.parquet"):  # same size, other bytes: only the hash tells
        data = bytearray((out / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (out / name).write_bytes(bytes(data))
    bad = run_cli("dataset", "verify", str(out))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert f"{out / 'part-00000.parquet'}: sha256 differs" in bad.stdout
    assert f"{out / 'part-00002.parquet'}: sha256 differs" in bad.stdout and "part-00001" not in bad.stdout
    assert bad.stderr == f"error: {out}: 2 damaged shard file(s) in this dataset (listed above); copy it again or re-run the stage that wrote it\n"


def test_a_manifest_without_sizes_still_opens_and_a_torn_shard_is_named_when_read(tmp_path):
    out = _written(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"] = [{"name": s["name"], "rows": s["rows"]} for s in manifest["shards"]]  # as written before
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert [r["id"] for r in Dataset.open(out).iter_records()] == [f"r{i}" for i in range(5)]
    _tear(out / "part-00002.parquet")
    with pytest.raises(UserError, match=r"part-00002\.parquet: not a readable Parquet file .*textbooks dataset verify"):
        list(Dataset.open(out).iter_records())
    problems = Dataset.open(out).verify()
    assert len(problems) == 1 and problems[0].startswith(f"{out / 'part-00002.parquet'}: not a readable Parquet file")
    tokenized = run_cli("tokenize", "--input", str(out), "--out", str(tmp_path / "pack"))  # read in a worker process
    assert tokenized.returncode == 2 and "Traceback" not in tokenized.stderr and tokenized.stderr.count("\n") == 1
    assert tokenized.stderr.startswith(f"error: {out / 'part-00002.parquet'}: not a readable Parquet file")


def test_shards_written_by_workers_as_datatrove_steps_do_carry_size_and_hash(tmp_path):
    out = tmp_path / "curated"
    with DatasetWriter(out, stage="unit", kind="code", config={"a": 1}) as writer:
        for index in range(2):  # what curate/steps.py runs in each datatrove task
            write_shard_file(writer.staged, index, "code", [_records(3, start=3 * index)])
    shards = Dataset.open(out).manifest["shards"]
    assert [s["rows"] for s in shards] == [3, 3] and all(s["bytes"] > 0 and len(s["sha256"]) == 64 for s in shards)
    assert Dataset.open(out).verify() == []
