"""The benchmarks: HumanEval, MBPP, their evalplus versions and `novel`.

Below the stages: evaluation scores against them, decontamination searches the training data for
their problems, held-out loss and the experiments read their reference solutions. `tasks.py` is
the Task/Benchmark shape, `loaders.py` reads each benchmark, `download.py` finds or fetches the
data files, `groundtruth.py` and `plus_check.py` compute and apply evalplus's expected outputs.
"""

from textbooks.benchmarks.loaders import (
    BENCHMARKS,
    HUMANEVAL_STOP,
    MBPP_STOP,
    PROBLEM_SETS,
    Problem,
    as_in_human_eval,
    benchmark_problems,
    load_benchmark,
    plus_inputs,
)
from textbooks.benchmarks.tasks import Benchmark, Task, TaskId

__all__ = ["BENCHMARKS", "HUMANEVAL_STOP", "MBPP_STOP", "PROBLEM_SETS", "Benchmark", "Problem", "Task", "TaskId",
           "as_in_human_eval", "benchmark_problems", "load_benchmark", "plus_inputs"]
