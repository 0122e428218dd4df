from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from textbooks.data.datasets import Dataset, DatasetWriter, export_jsonl, import_jsonl
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
