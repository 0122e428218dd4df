"""`textbooks eval`: HumanEval, MBPP and their evalplus versions, scored the way the papers do.

benchmarks (tasks, prompts, programs) -> backends (completions) -> sandbox (execution) ->
passk (scores); runner ties them together with resumable files, cli is the command.
"""
