"""The code that runs INSIDE the sandbox for HumanEval+ and MBPP+ (stdlib only, no `textbooks`).

`textbooks.benchmarks.groundtruth` pastes this file's source in front of each program, followed by one
call: `ground_truth(...)` runs the canonical solution on the inputs and prints the expected
outputs with the reference run time of each input; `check(...)` runs a candidate solution on the
same inputs and raises at the first input whose output is wrong or late, so the program passes iff
every input passes. Data travels as base64 pickles: the host only ever decodes what it pickled
itself (the inputs); the expected outputs are unpickled only in here. Outputs too large to ship
in every program (HumanEval/15's is 196 MB) are recomputed by `check` from the canonical solution
before the candidate is loaded. Recomputing costs seconds where a wrong answer fails in
milliseconds, so `check` first runs the inputs before the first recomputed one in a forked child
(see `_failure_before`): a candidate that fails there fails without the recomputation.

The comparison follows evalplus 0.3.1 (`evalplus/eval/__init__.py`, `unsafe_execute`): exact
equality, else `np.allclose(out, exp, rtol=1e-7, atol)` when the task has an `atol` or the
expected output is a float or a list/tuple of floats (then atol becomes 1e-6 for that input and
every later one, as there); the benchmark's special oracles; a time limit per input of
max(1 s, 4 x the reference's own time). One deliberate difference: evalplus never records a pass
for HumanEval/32 (`find_zero`: its special check ends in `continue`), so there no solution passes;
here a root with |poly(x)| <= atol passes.
"""

import base64
import builtins
import copy
import gc
import json
import math
import os
import pickle
import signal
import time

MIN_TIME_LIMIT_S = 1.0  # evalplus DEFAULT_MIN_TIME_LIMIT
TIME_LIMIT_FACTOR = 4.0  # evalplus DEFAULT_GT_TIME_LIMIT_FACTOR
RTOL = 1e-07  # np.allclose as evalplus calls it
LARGE_OUTPUT_BYTES = 64 * 1024  # larger expected outputs are recomputed in each check, not shipped

# MBPP+ tasks whose outputs are checked loosely (evalplus/eval/_special_oracle.py).
MBPP_OUTPUT_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
MBPP_OUTPUT_SET_EQ = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                      "larg_nnum", "intersection_array", "find_dissimilar", "Diff")


def _decode(blob):
    return pickle.loads(base64.b64decode(blob))


def _encode(value):
    return base64.b64encode(pickle.dumps(value)).decode("ascii")


def _load(solution, entry_point):
    # An empty namespace, as evalplus: `__name__` is then "builtins", so `if __name__ == "__main__"`
    # blocks of a solution do not run.
    namespace = {}
    exec(compile(solution, "solution.py", "exec"), namespace)
    return namespace[entry_point]


def _expected_outputs(canonical, entry_point, inputs, output_not_none):
    function = _load(canonical, entry_point)
    outputs, times = [], []
    for args in inputs:
        args = copy.deepcopy(args)  # as evalplus: the reference must not see an input it changed itself
        start = time.time()
        outputs.append(function(*args))
        times.append(time.time() - start)
    if output_not_none:
        outputs = [out is not None for out in outputs]
    return outputs, times


def ground_truth(canonical, entry_point, inputs_blob, output_not_none):
    """Print {"expected", "recompute", "times"} for the canonical solution on each input.

    An output whose pickle is larger than LARGE_OUTPUT_BYTES (HumanEval/15's is 196 MB) is not
    printed: its index goes to "recompute" and `check` runs the canonical solution on it again.
    """
    outputs, times = _expected_outputs(canonical, entry_point, _decode(inputs_blob), output_not_none)
    recompute = [i for i, out in enumerate(outputs) if len(pickle.dumps(out)) > LARGE_OUTPUT_BYTES]
    for i in recompute:
        outputs[i] = None
    print(json.dumps({"expected": _encode(outputs), "recompute": recompute, "times": times}))


class InputTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise InputTimeout("input exceeded its time limit")


def check(solution, canonical, dataset, entry_point, inputs_blob, expected_blob, recompute, ref_times, atol,
          output_not_none):
    """Raise at the first input on which `solution` is wrong or slower than its limit."""
    inputs, expected_outputs = _decode(inputs_blob), _decode(expected_blob)
    if recompute and recompute[0] > 0:
        failure = _failure_before(recompute[0], solution, dataset, entry_point, inputs, expected_outputs, ref_times, atol)
        if failure is not None:
            raise failure
    if recompute:  # before the solution is loaded, so that it cannot have changed anything yet
        outputs, _ = _expected_outputs(canonical, entry_point, [inputs[i] for i in recompute], output_not_none)
        for i, out in zip(recompute, outputs):
            expected_outputs[i] = out
    _check_inputs(solution, dataset, entry_point, inputs, expected_outputs, ref_times, atol)


def _failure_before(stop, solution, dataset, entry_point, inputs, expected_outputs, ref_times, atol):
    """The exception `solution` raises on inputs [0, stop) when checked in a forked child, or None.

    The child starts from this process's state with the solution not yet loaded, as the full check
    does, so an ordinary exception it raises there is the verdict of the full check too. Anything
    else (the inputs pass, the child exits or is killed, SystemExit) gives None and the full check
    decides: only a failure is ever taken from the child, which runs the candidate's code alone.
    """
    exit_now, write, dumps = os._exit, os.write, json.dumps  # bound before the solution can patch them
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        report = b""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)  # the full check's run, if any, prints what the solution prints
            os.dup2(devnull, 2)
            _check_inputs(solution, dataset, entry_point, inputs[:stop], expected_outputs[:stop], ref_times[:stop],
                          atol)
        except Exception as error:
            try:
                report = dumps([type(error).__name__, str(error)[:1000]]).encode()
            except BaseException:
                pass
        finally:
            try:
                write(report_w, report)
            finally:
                exit_now(0)
    os.close(report_w)
    os.waitpid(pid, 0)
    os.set_blocking(report_r, False)  # whatever the child left running, its report came before it exited
    try:
        report = os.read(report_r, 1 << 16)
    except BlockingIOError:
        report = b""
    os.close(report_r)
    if not report:
        return None
    name, message = json.loads(report)
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except TypeError:  # an exception class that wants more arguments (UnicodeDecodeError...)
            pass
    return type(name, (Exception,), {})(message)


def _check_inputs(solution, dataset, entry_point, inputs, expected_outputs, ref_times, atol):
    # Out of the garbage collector's sight: scanning millions of expected objects at every
    # collection made a correct Mbpp/255 four times slower than its reference, and time out.
    gc.freeze()
    function = _load(solution, entry_point)
    signal.signal(signal.SIGALRM, _alarm)
    for i, (args, expected, ref_time) in enumerate(zip(inputs, expected_outputs, ref_times)):
        signal.setitimer(signal.ITIMER_REAL, max(MIN_TIME_LIMIT_S, TIME_LIMIT_FACTOR * ref_time))
        try:
            out = function(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if dataset == "humaneval" and entry_point == "find_zero":
            assert abs(_poly(*args, out)) <= atol, f"input {i}: not a root"
            continue
        if atol == 0 and _is_floats(expected):
            atol = 1e-6  # kept for the later inputs too, as in evalplus
        exact = _special_oracle(dataset, entry_point, args, out, expected, atol)
        if not exact and atol != 0:
            assert type(out) == type(expected), f"input {i}: got a {type(out).__name__}, expected a {type(expected).__name__}"
            assert _allclose(out, expected, atol), f"input {i}: {out!r:.200} is not close to {expected!r:.200}"
        else:
            assert exact, f"input {i}: got {out!r:.200}, expected {expected!r:.200}"


def _special_oracle(dataset, entry_point, args, out, expected, atol):
    exact = out == expected
    if dataset != "mbpp":
        return exact
    if entry_point == "are_equivalent":  # Mbpp/164: any answer
        return True
    if entry_point == "sum_div":  # Mbpp/295
        return exact or out == 0
    if entry_point == "surface_Area":  # Mbpp/581: the slant-height reading also counts
        return exact or abs(out - _surface_area(*args)) <= atol
    if entry_point == "digit_distance_nums":  # Mbpp/558: the zero-padding reading also counts
        return exact or out == _digit_distance_nums(*args)
    if entry_point in MBPP_OUTPUT_SET_EQ:
        return set(out) == set(expected)
    if entry_point in MBPP_OUTPUT_NOT_NONE:
        return out == expected if isinstance(out, bool) else expected == (out is not None)
    return exact


def _is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return type(x).__name__ == "ndarray" and str(getattr(x, "dtype", "")) in ("float64", "float32")


def _allclose(out, expected, atol):
    """np.allclose(out, expected, rtol=1e-7, atol) for numbers and equal-shaped nested lists.

    Written out because numpy is not among the sandbox's preloaded modules (importing it would
    cost each program about 0.1 s); like numpy, inf equals inf of the same sign and nan nothing.
    """
    if isinstance(expected, (list, tuple)):
        return (isinstance(out, (list, tuple)) and len(out) == len(expected)
                and all(_allclose(o, e, atol) for o, e in zip(out, expected)))
    if isinstance(out, (list, tuple)) or isinstance(out, str) or isinstance(expected, str):
        return False
    if out == expected:
        return True
    if math.isinf(abs(out)) or math.isinf(abs(expected)):
        return False
    return abs(out - expected) <= atol + RTOL * abs(expected)


def _poly(xs, x):  # HumanEval/32's oracle
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge, height):  # Mbpp/581's oracle
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def _digit_distance_nums(num1, num2):  # Mbpp/558's oracle
    width = max(len(str(num1)), len(str(num2)))
    return sum(abs(int(a) - int(b)) for a, b in zip(str(num1).zfill(width), str(num2).zfill(width)))
