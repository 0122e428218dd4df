"""datatrove's Ray executor, its task logs in a temporary directory of each task's own.

datatrove writes a task's log under the fixed `tempfile.gettempdir()/ray_logs` first, then copies
it into the stage's logging directory: on a machine where another user (or root) ran it before,
that directory is theirs and the task fails with PermissionError; two runs at once would share it.
"""

from __future__ import annotations

import tempfile

from datatrove.executor import RayPipelineExecutor


class OwnTempRayExecutor(RayPipelineExecutor):
    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        previous = tempfile.tempdir
        with tempfile.TemporaryDirectory(prefix="textbooks-ray-task-") as own:
            tempfile.tempdir = own  # what gettempdir() answers in this worker while the task runs
            try:
                return super()._run_for_rank(rank, local_rank, node_rank)
            finally:
                tempfile.tempdir = previous
