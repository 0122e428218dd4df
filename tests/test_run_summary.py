"""The run summary's warnings, computed from fixture numbers: each threshold of issue 22, each line
with its number and a remedy, and none where every part is strong."""

from __future__ import annotations

import pytest

from textbooks.pipeline.summary import teacher_parameters, warnings


def strong() -> dict:
    """A run no warning should fire on: every number on the good side of its threshold."""
    return {
        "curation": [{"stage": "code", "classifier": "random_forest", "roc_auc": 0.91, "f1": 0.8,
                      "histogram": {"0": 10, "1": 20, "2": 30, "3": 25, "4": 10, "5": 5}}],
        "exercise_yield": [{"stage": "exercises", "kept": 40, "requests": 100}],
        "teacher": [{"stage": "exercises", "role": "synthesis", "model": "Qwen2.5-Coder-32B-Instruct"},
                    {"stage": "humaneval", "role": "judge", "model": "tiny-judge"}],
        "heldout_loss": [{"stage": "finetune-loss", "model": "finetune", "loss": {"humaneval": 1.234, "mbpp": 1.5}}],
        "pass_at_1": [{"stage": "humaneval", "benchmark": "humaneval", "solved": 80, "tasks": 164,
                       "isolation": "bwrap+uid"}],
    }


def test_a_strong_run_has_no_warnings():
    assert warnings(strong()) == []


def test_a_classifier_near_chance_is_called_out_with_its_numbers_and_what_to_do():
    run = strong()
    run["curation"][0].update(roc_auc=0.67, f1=0.14)
    [line] = warnings(run)
    assert "ROC-AUC 0.67, F1 0.14" in line and "annotate.sample" in line and "classify.model" in line
    run["curation"][0].update(roc_auc=0.9, f1=0.49)  # either number alone is enough
    assert len(warnings(run)) == 1


def test_a_rating_histogram_dominated_by_one_score_is_called_out():
    run = strong()
    run["curation"][0]["histogram"] = {"0": 68, "1": 12, "2": 10, "3": 10, "4": 0, "5": 0}
    [line] = warnings(run)
    assert "68 of 100 rated files a 0 (68%)" in line and "stronger teacher" in line
    run["curation"][0]["histogram"] = {"0": 60, "1": 40}  # 60% is not over 60%
    assert warnings(run) == []


def test_a_low_exercise_yield_is_called_out():
    run = strong()
    run["exercise_yield"] = [{"stage": "exercises", "kept": 9, "requests": 48}]
    [line] = warnings(run)
    assert line.startswith("exercises: 9 of 48 exercises kept (19%")


@pytest.mark.parametrize("model, says", [("smollm2-135m-instruct", "135M parameters (under 7B)"),
                                         ("fault-model", "its size is unknown")])
def test_a_small_or_unknown_teacher_is_called_out_but_a_judge_is_not(model, says):
    run = strong()
    run["teacher"][0]["model"] = model
    [line] = warnings(run)
    assert line.startswith(f"teacher {model}: ") and says in line


def test_pass_at_1_of_zero_points_at_the_held_out_loss():
    run = strong()
    run["pass_at_1"][0]["solved"] = 0
    [line] = warnings(run)
    assert line == ("pass@1 is 0 (humaneval: 0 of 164 humaneval tasks): read the held-out loss (finetune-loss), "
                    "the number that moves at this size")
    run["heldout_loss"] = []
    assert warnings(run)[0].endswith("read the held-out loss; add a heldout-loss stage, the number that moves at this size")


def test_a_sandbox_weaker_than_full_isolation_is_called_out():
    run = strong()
    run["pass_at_1"][0]["isolation"] = "unshare"
    [line] = warnings(run)
    assert "level unshare, weaker than full isolation" in line
    run["pass_at_1"][0]["isolation"] = "namespaces"
    assert warnings(run) == []


def test_parameter_counts_are_read_from_model_names():
    assert teacher_parameters("SmolLM2-135M-Instruct") == 135e6
    assert teacher_parameters("Qwen2.5-Coder-7B-Instruct") == 7e9
    assert teacher_parameters("meta-llama/Llama-3.1-70B") == 70e9
    assert teacher_parameters("gpt-4o") is None and teacher_parameters("fake") is None
