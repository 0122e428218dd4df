"""Curation's inputs and its cleaning: every source form, every cleaning rule, every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textbooks.curate.clean import EMAIL_PLACEHOLDER, SECRET_PLACEHOLDER, CleanConfig, clean_text
from textbooks.data.sources import hf_records, import_sources, post_text
from textbooks.errors import UserError

CODE = 'def area(width, height):\n    """The area of a rectangle."""\n    return width * height\n'


def test_jsonl_with_the_stacks_columns_maps_them_and_keeps_provenance(tmp_path):
    source = tmp_path / "stack.jsonl"
    rows = [{"content": CODE, "hexsha": "abc", "max_stars_repo_path": "geo/area.py", "max_stars_repo_name": "me/geo",
             "max_stars_repo_licenses": ["MIT", "Apache-2.0"]}, {"text": "x = 1\n"}]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    records = list(import_sources([source], tmp_path / "raw").iter_records())
    assert records[0] == {"id": "abc", "text": CODE, "source": "jsonl", "path": "geo/area.py", "repo": "me/geo",
                          "license": "MIT,Apache-2.0"}
    assert records[1]["text"] == "x = 1\n" and len(records[1]["id"]) == 24 and records[1]["path"] == ""


def test_hugging_face_streaming_reads_a_local_parquet_with_the_stacks_columns(tmp_path):
    # The Hub is unreachable here: the same `load_dataset(..., streaming=True)` path on a local file.
    path = tmp_path / "data-00000.parquet"
    pq.write_table(pa.table({"content": [CODE, "print(1)\n"], "max_stars_repo_path": ["a.py", "b.py"],
                             "max_stars_repo_name": ["r/a", "r/b"], "max_stars_repo_licenses": [["MIT"], ["BSD"]],
                             "hexsha": ["h1", "h2"]}), path)
    records = list(hf_records("parquet", data_files=str(path)))
    assert [(r["id"], r["path"], r["repo"], r["license"]) for r in records] == [("h1", "a.py", "r/a", "MIT"), ("h2", "b.py", "r/b", "BSD")]
    assert records[0]["text"] == CODE and records[0]["source"] == "hf:parquet"


POSTS = """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" AcceptedAnswerId="3" Score="5" Title="How do I reverse a list?" Tags="&lt;python&gt;&lt;list&gt;"
       Body="&lt;p&gt;I have &lt;code&gt;xs&lt;/code&gt;:&lt;/p&gt;&lt;pre&gt;&lt;code&gt;xs = [1, 2]&#xA;&lt;/code&gt;&lt;/pre&gt;" ContentLicense="CC BY-SA 4.0" />
  <row Id="2" PostTypeId="2" ParentId="1" Score="50" Body="&lt;p&gt;A popular answer&lt;/p&gt;" />
  <row Id="3" PostTypeId="2" ParentId="1" Score="2" Body="&lt;p&gt;Slice it:&lt;/p&gt;&lt;pre&gt;&lt;code&gt;xs[::-1]&#xA;&lt;/code&gt;&lt;/pre&gt;" />
  <row Id="4" PostTypeId="1" Score="1" Title="Sort a dict?" Tags="|python|dict|" Body="&lt;p&gt;How?&lt;/p&gt;" />
  <row Id="5" PostTypeId="2" ParentId="4" Score="1" Body="&lt;p&gt;Low&lt;/p&gt;" />
  <row Id="6" PostTypeId="2" ParentId="4" Score="7" Body="&lt;p&gt;Use sorted(d.items())&lt;/p&gt;" />
  <row Id="7" PostTypeId="1" Score="1" Title="Java thing" Tags="&lt;java&gt;" Body="&lt;p&gt;?&lt;/p&gt;" />
  <row Id="8" PostTypeId="2" ParentId="7" Score="1" Body="&lt;p&gt;java answer&lt;/p&gt;" />
  <row Id="9" PostTypeId="1" Score="1" Title="Unanswered" Tags="&lt;python&gt;" Body="&lt;p&gt;?&lt;/p&gt;" />
</posts>
"""


def test_stackoverflow_joins_each_python_question_with_its_accepted_or_else_top_answer(tmp_path):
    (tmp_path / "Posts.xml").write_text(POSTS)
    records = {r["id"]: r for r in import_sources([tmp_path / "Posts.xml"], tmp_path / "raw").iter_records()}
    assert sorted(records) == ["stackoverflow-1", "stackoverflow-4"]  # java and unanswered left out
    first = records["stackoverflow-1"]["text"]
    assert first.startswith("How do I reverse a list?") and "```\nxs = [1, 2]\n```" in first
    assert "xs[::-1]" in first and "popular" not in first  # the accepted answer, though less scored
    assert "Use sorted(d.items())" in records["stackoverflow-4"]["text"] and "Low" not in records["stackoverflow-4"]["text"]
    assert records["stackoverflow-1"]["license"] == "CC BY-SA 4.0" and records["stackoverflow-1"]["source"] == "stackoverflow"


def test_post_text_keeps_code_blocks_verbatim_and_unescapes_entities():
    assert post_text("<p>a &amp; b</p><pre><code>if x &lt; 2:\n    pass\n</code></pre>") == "a & b\n```\nif x < 2:\n    pass\n```"


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize("setup, message", [
    (lambda d: _write(d / "bad.jsonl", '{"text": "ok"}\n{"text": oops}\n'), "bad.jsonl:2: not valid JSON"),
    (lambda d: _write(d / "list.jsonl", '[1, 2]\n'), "list.jsonl:1: a JSON list; expected a JSON object"),
    (lambda d: _write(d / "notext.jsonl", '{"code": "x"}\n'), "notext.jsonl:1: no text"),
    (lambda d: (pq.write_table(pa.table({"code": ["x"]}), d / "notext.parquet"), d / "notext.parquet")[1],
     "notext.parquet: no text column; expected 'text' or 'content', found code"),
    (lambda d: _write(d / "broken.parquet", b"PAR1 not really"), "broken.parquet: not a readable Parquet file"),
    (lambda d: _write(d / "Posts.xml", '<posts>\n<row Id="1" PostTypeId="1"\n</posts>'), "Posts.xml line 3: not a well-formed"),
    (lambda d: _write(d / "empty.jsonl", ""), "no records"),
    (lambda d: _write(d / "latin1.jsonl", '{"text": "Jos\xe9"}\n'.encode("latin-1")), "latin1.jsonl: not UTF-8"),
    (lambda d: (d / "empty-tree").mkdir() or d / "empty-tree", "no records"),
    (lambda d: d / "missing", "missing: no such file or directory"),
    (lambda d: _write(d / "data.csv", "a,b\n"), "data.csv: unknown kind of source"),
])
def test_bad_sources_are_user_errors_naming_file_and_line_and_publish_nothing(tmp_path, setup, message):
    source = setup(tmp_path)
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(")):
        import_sources([source], tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_non_utf8_and_binary_files_are_read_then_dropped_by_cleaning_under_their_rule(tmp_path):
    _write(tmp_path / "tree" / "latin1.py", "name = 'Jos\xe9'\n".encode("latin-1"))
    _write(tmp_path / "tree" / "blob.py", b"\x00\x01\x02binary\x00")
    _write(tmp_path / "tree" / "good.py", CODE)
    records = {r["path"]: r["text"] for r in import_sources([tmp_path / "tree"], tmp_path / "raw").iter_records()}
    assert sorted(records) == ["blob.py", "good.py", "latin1.py"]  # nothing vanishes at import
    verdicts = {path: clean_text(text, CleanConfig()).dropped for path, text in records.items()}
    assert verdicts == {"blob.py": "binary", "good.py": None, "latin1.py": "undecodable"}


@pytest.mark.parametrize("text, rule", [
    ("   \n\n", "empty"),
    ("x = 1\n" * 200_000, "huge"),
    ("# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\nx = 1\n", "autogenerated"),
    ("var a=" + "1," * 700 + "2;\n", "long_lines"),
    ("x = [" + ", ".join(["'abcdefgh'"] * 30) + "]\n" + "y = 1\n", "mean_line_length"),
    ("#" * 50 + "\n" + "= - + * / \n" * 20, "alphanumeric"),
    ("x = 1\x07\x08\x1b\n", "binary"),
])
def test_each_cleaning_rule_drops_what_it_names(text, rule):
    assert clean_text(text, CleanConfig()).dropped == rule


def test_clean_code_is_kept_unchanged():
    verdict = clean_text(CODE, CleanConfig())
    assert verdict.dropped is None and verdict.text == CODE and verdict.redacted == {}


def test_secrets_and_emails_are_redacted_and_counted():
    text = (
        '"""Written by Ada <ada.lovelace@example.org>."""\n'
        'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'
        'api_key = "9f8e7d6c5b4a39281706"\n'
        "token = gh" + "p_" + "a" * 36 + "\n"
        "password = 'short'\n"  # no digits: a word, not a key
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"
    )
    verdict = clean_text(text, CleanConfig())
    assert verdict.redacted == {"email": 1, "secret": 4}
    assert "ada.lovelace" not in verdict.text and EMAIL_PLACEHOLDER in verdict.text
    for secret in ("AKIAIOSFODNN7EXAMPLE", "9f8e7d6c5b4a39281706", "MIIEpAIBAAKCAQEA", "a" * 36):
        assert secret not in verdict.text
    assert verdict.text.count(SECRET_PLACEHOLDER) == 4 and "password = 'short'" in verdict.text
