"""The shipped pools, seeded draws, and checked inputs: taxonomy rows and template placeholders."""

from __future__ import annotations

import keyword
from pathlib import Path

import pytest

from textbooks.errors import UserError
from textbooks.synth.constraints import Pools, load_lines, load_topics
from textbooks.synth.exercises import PLACEHOLDERS as EXERCISE_PLACEHOLDERS
from textbooks.synth.templates import builtin_template_path, load_template
from textbooks.synth.textbooks import PLACEHOLDERS as TEXTBOOK_PLACEHOLDERS


@pytest.fixture(scope="module")
def pools() -> Pools:
    return Pools.load()


def test_shipped_pools_are_large_and_clean(pools):
    assert len(pools.topics) >= 300 and len({t.topic for t in pools.topics}) >= 30
    assert len(pools.audiences) >= 10 and len(pools.styles) >= 10
    assert len(pools.function_names) >= 20_000
    assert len(set(pools.function_names)) == len(pools.function_names)
    assert all(n.isidentifier() and not keyword.iskeyword(n) and n == n.lower() for n in pools.function_names)


def test_draws_are_a_function_of_seed_and_index(pools):
    first = [pools.draw(seed=7, index=i) for i in range(200)]
    assert first == [Pools.load().draw(seed=7, index=i) for i in range(200)]
    assert first != [pools.draw(seed=8, index=i) for i in range(200)]
    # diverse: 200 draws touch many topics, audiences and styles, and repeat no function name
    assert len({d.topic for d in first}) >= 30
    assert len({d.audience for d in first}) == len(pools.audiences)
    assert len({d.style for d in first}) == len(pools.styles)
    assert len({d.function_name for d in first}) >= 199


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("topic,subtopic\nstrings,slicing\nstrings\n", r"topics.csv line 3: 1 fields; expected 2"),
        ("topic,subtopic\nstrings,slicing,extra\n", r"topics.csv line 2: 3 fields"),
        ("topic,subtopic\nstrings,\n", r"topics.csv line 2: empty topic or subtopic"),
        ("topic,subtopic\nstrings,slicing\n\nstrings,slicing\n", r"topics.csv line 4: duplicate of line 2"),
        ("name,sub\nstrings,slicing\n", r"topics.csv line 1: header"),
        ("topic,subtopic\n", r"topics.csv: no topics"),
    ],
)
def test_a_bad_taxonomy_row_is_a_user_error_naming_file_and_line(tmp_path, body, message):
    with pytest.raises(UserError, match=message):
        load_topics(write(tmp_path / "topics.csv", body))


def test_files_that_are_missing_or_not_utf8_are_user_errors(tmp_path):
    with pytest.raises(UserError, match=r"nothere.csv: topic taxonomy file not found"):
        load_topics(tmp_path / "nothere.csv")
    (tmp_path / "latin1.txt").write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(UserError, match=r"latin1.txt line 2: not UTF-8 text"):
        load_template(tmp_path / "latin1.txt", TEXTBOOK_PLACEHOLDERS)


def test_a_quoted_comma_is_one_field(tmp_path):
    topics = load_topics(write(tmp_path / "topics.csv", 'topic,subtopic\ncomplexity,"best, worst and average case"\n'))
    assert topics[0].subtopic == "best, worst and average case"


def test_line_files_skip_comments_and_refuse_duplicates(tmp_path):
    assert load_lines(write(tmp_path / "a.txt", "# comment\nfirst\n\nsecond\n")) == ["first", "second"]
    with pytest.raises(UserError, match=r"b.txt line 3: duplicate of line 1"):
        load_lines(write(tmp_path / "b.txt", "x\ny\nx\n"))


def test_shipped_templates_load_and_render():
    textbook = load_template(builtin_template_path("textbook"), TEXTBOOK_PLACEHOLDERS)
    exercise = load_template(builtin_template_path("exercise"), EXERCISE_PLACEHOLDERS)
    assert textbook.placeholders == set(TEXTBOOK_PLACEHOLDERS)
    text = exercise.render(function_name="count_words", topic="strings", subtopic="splitting")
    assert "`count_words`" in text and "{" not in text.replace('"code"', "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("About {topic} for {reader}.", r"t.txt: unknown placeholder \{reader\}; expected only \{audience\}"),
        ("About {topic.upper}.", r"t.txt: unknown placeholder \{topic.upper\}"),
        ("About {topic!r}.", r"t.txt: unknown placeholder \{topic!r\}"),
        ('JSON like {"code": 1}.', r"t.txt: unknown placeholder"),
        ("A lone { brace.", r"t.txt: malformed template"),
    ],
)
def test_a_template_with_an_unknown_placeholder_is_a_user_error_naming_file_and_placeholder(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        load_template(write(tmp_path / "t.txt", text), TEXTBOOK_PLACEHOLDERS)


def test_literal_braces_are_doubled(tmp_path):
    template = load_template(write(tmp_path / "t.txt", 'Answer {{"code": ...}} about {topic}.'), ["topic"])
    assert template.render(topic="loops") == 'Answer {"code": ...} about loops.'
