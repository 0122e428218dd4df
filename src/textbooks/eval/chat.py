"""Chat mode: how an instruct model is asked for a benchmark's solution, and how its answer is read.

In the style of evalplus's instruct prompts: the task's own prompt in a fenced block and a request
for a complete, self-contained solution in one code block. The answer's program (see `extract.py`)
is then checked like a completion: after the prompt, which it redefines, as evalplus's `solution`.

    messages = chat_messages(benchmark, task)
    found = extract_program(answer, entry_point_of(task), task.prompt)
"""

from __future__ import annotations

from textbooks.benchmarks.tasks import Benchmark, Task
from textbooks.errors import UserError
from textbooks.eval.extract import mbpp_entry_point

HUMANEVAL_INSTRUCTION = (
    "Complete the Python function `{entry_point}` below. Reply with a complete, self-contained Python "
    "script in one markdown code block: the whole function, the imports it needs and any helper it calls."
)
MBPP_INSTRUCTION = (
    "Write a Python function `{entry_point}` for the problem below; it must pass the test shown. Reply "
    "with a complete, self-contained Python script in one markdown code block: the function, the imports "
    "it needs and any helper it calls."
)


def entry_point_of(task: Task) -> str:
    """The function the tests call: the task's own, or (MBPP) the one its first test calls."""
    if task.entry_point:
        return task.entry_point
    test_list = task.record.get("test_list") or []
    found = mbpp_entry_point(test_list[0]) if test_list else None
    if found is None:
        raise UserError(f"task {task.task_id!r}: no entry point, and its first test names no function to call")
    return found


def chat_messages(benchmark: Benchmark, task: Task) -> list[dict[str, str]]:
    """The one user turn asking for `task`'s solution."""
    instruction = MBPP_INSTRUCTION if benchmark.name.startswith("mbpp") else HUMANEVAL_INSTRUCTION
    content = f"{instruction.format(entry_point=entry_point_of(task))}\n\n```python\n{task.prompt.strip()}\n```\n"
    return [{"role": "user", "content": content}]
