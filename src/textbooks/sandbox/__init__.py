"""Running untrusted, model-written programs: isolation levels, warm workers, limits.

Below the stages: evaluation scores samples with it, synth validates exercises with it, decontam's
behavioural tier runs benchmark tests against training records with it. `pool.py` is the
`Sandbox` (warm workers, isolation, limits); `worker.py` and `namespaces.py` are scripts it starts
inside the isolation (they import nothing from `textbooks`); `cgroup.py` is the ceiling for tests.
"""

from textbooks.sandbox.pool import (
    DISABLE_VARIABLE,
    GUARANTEED,
    ISOLATIONS,
    PROMISES,
    GiB,
    IsolationUnavailable,
    KiB,
    Limits,
    MiB,
    Outcome,
    Sandbox,
    SandboxError,
    Status,
    check_isolation,
    levels_to_try,
)

__all__ = ["DISABLE_VARIABLE", "GUARANTEED", "ISOLATIONS", "PROMISES", "GiB", "IsolationUnavailable", "KiB",
           "Limits", "MiB", "Outcome", "Sandbox", "SandboxError", "Status", "check_isolation", "levels_to_try"]
