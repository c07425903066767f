import json
import os
import subprocess
import sys

import pytest

from taxfree.cli import main
from taxfree.core.errors import InputError
from taxfree.evaluation.graders import GRADERS
from taxfree.evaluation.sandbox import Limits


def test_toy_grader_extracts_final_answer():
    grader = GRADERS["toy"]()
    rows = [
        {"response": "<think> 1 plus 2 is 3 . </think> the answer is 3 .", "answer": "3"},
        {"response": "<think> 1 plus 2 is 4 . </think> the answer is 4 .", "answer": "3"},
        # The reasoning block is not the answer.
        {"response": "<think> the answer is 3 </think> i do not know .", "answer": "3"},
        {"response": "<think> 1 plus 2 is", "answer": "3"},
    ]
    graded = grader.grade(rows)
    assert [r["correct"] for r in graded] == [True, False, False, False]
    assert [r["extracted"] for r in graded] == ["3", "4", None, None]


def grade(name, rows):
    return GRADERS[name]().grade(rows)


def test_math_grader_reads_only_the_final_answer():
    rows = [
        {"response": r"<think> maybe \boxed{3} </think> so it is \boxed{\dfrac{1}{2}}.", "answer": "0.5"},
        # The last box wins over an earlier "answer is", and only after the reasoning block.
        {"response": r"<think> the answer is 7 </think> The answer is 2, no: \boxed{7}", "answer": "7"},
        {"response": "<think> x </think> The answer is **$\\frac{14}{3}$**.", "answer": r"\frac{14}{3}"},
        {"response": "<think> x </think> 3 boxes of 4 make 12.\n#### 12", "answer": "Work.\n#### 12"},
        {"response": "<think> x </think> In all we have 1,234 apples.", "answer": "1234"},
        {"response": r"<think> the answer is \boxed{5}", "answer": "5"},  # never finished thinking
        {"response": "<think> x </think> I could not solve it.", "answer": "5"},
        {"response": r"<think> x </think> \boxed{(3,4]}", "answer": "(3,4)"},
    ]
    graded = grade("math", rows)
    assert [r["correct"] for r in graded] == [True, True, True, True, True, False, False, False]
    assert [r["extracted"] for r in graded] == [
        r"\dfrac{1}{2}", "7", r"\frac{14}{3}", "12", "1,234", None, None, "(3,4]"]


def test_mcq_grader_finds_the_letter():
    rows = [
        {"response": r"<think> A or B? </think> The answer is $\boxed{B}$.", "answer": "B"},
        {"response": r"<think> x </think> \boxed{\text{(C)}}", "answer": "(C)"},
        {"response": "<think> x </think> **Final Answer:** D", "answer": "D"},
        {"response": "<think> x </think> Having checked each option, the answer is (J).", "answer": "J"},
        {"response": "<think> x </think> The answer is A.", "answer": "C"},
        {"response": "<think> the answer is C </think> I am not sure.", "answer": "C"},
        {"response": "<think> x </think> The answer is a matter of taste.", "answer": "A"},
    ]
    graded = grade("mcq", rows)
    assert [r["extracted"] for r in graded] == ["B", "C", "D", "J", "A", None, None]
    assert [r["correct"] for r in graded] == [True, True, True, True, False, False, False]


def test_code_grader_runs_the_tests():
    problem = {"prompt": "def add(a, b):\n", "entry_point": "add",
               "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n"}
    rows = [{**problem, "completion": "    return a + b\n"},
            {**problem, "completion": "    return a - b\n"},
            {**problem, "completion": "    return undefined\n"},
            {**problem, "completion": "    while True:\n        pass\n"}]
    graded = GRADERS["code"](Limits(timeout_s=2)).grade(rows)
    assert [(r["passed"], r["status"]) for r in graded] == [
        (True, "passed"), (False, "failed"), (False, "error"), (False, "timeout")]


@pytest.mark.parametrize("escape", [
    "import sys\nsys.exit(0)\n",
    "exit()\n",
    "import atexit, os\natexit.register(os._exit, 0)\n",  # turns the failed check's exit status into 0
    "import unittest\nunittest.main()\n",  # no TestCase: exits 0 before the tests run
])
def test_wrong_code_that_exits_early_fails(escape):
    """Only the harness seeing check() return counts as a pass, not the process's exit status."""
    problem = {"prompt": "def add(a, b):\n", "entry_point": "add",
               "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n"}
    graded = GRADERS["code"](Limits(timeout_s=5)).grade([{**problem, "completion": f"    return a - b\n{escape}"}])
    assert [(r["passed"], r["status"]) for r in graded] == [(False, "failed")]


def test_code_grader_uses_the_cpus_it_may_and_the_benchmark_settings():
    pinned = subprocess.run([sys.executable, "-c", "from taxfree.evaluation.graders import CodeGrader\n"
                             "print(CodeGrader().workers, CodeGrader(workers=8).workers)"],
                            preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
                            capture_output=True, text=True, check=True)
    assert pinned.stdout.split() == ["1", "1"]
    grader = GRADERS["code"].for_benchmark({"unsafe_code_execution": True, "code_test": "script"}, threads=1)
    assert (grader.workers, grader.unsafe, grader.code_test) == (1, True, "script")


@pytest.mark.parametrize(("name", "row", "field"), [
    ("math", {"response": r"<think> x </think> \boxed{\frac{1}{2}}", "answer": "0.5"}, "correct"),
    ("mcq", {"response": "<think> x </think> Final Answer: B", "answer": "B"}, "correct"),
    ("code", {"prompt": "def one():\n", "completion": "    return 1\n", "entry_point": "one",
              "test": "def check(f):\n    assert f() == 1\n"}, "passed"),
])
def test_grade_command(tmp_path, name, row, field):
    (tmp_path / "in.jsonl").write_text(json.dumps(row) + "\n")
    assert main(["grade", "--grader", name, "--in", str(tmp_path / "in.jsonl"),
                 "--out", str(tmp_path / "out.jsonl")]) == 0
    (out,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert out[field] is True and GRADERS[name].field == field
    assert {key: out[key] for key in row} == row


def test_grade_command_names_the_missing_field(tmp_path, capsys):
    (tmp_path / "in.jsonl").write_text(json.dumps({"prompt": "def f():\n", "completion": "    pass\n"}) + "\n")
    assert main(["grade", "--grader", "code", "--in", str(tmp_path / "in.jsonl"),
                 "--out", str(tmp_path / "out.jsonl")]) == 2
    assert "missing field(s) test" in capsys.readouterr().err


def test_code_grader_takes_the_fenced_code_of_the_final_answer():
    problem = {"prompt": "Complete this:\n```python\ndef add(a, b):\n```", "source_prompt": "def add(a, b):\n",
               "entry_point": "add", "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n"}
    responses = [
        "<think>```python\ndef add(a, b):\n    return 0\n```</think>Here:\n```python\ndef add(a, b):\n    return a + b\n```",
        "<think>easy</think>\n```py\n    return a + b\n```\nDone.",
        "<think>```python\ndef add(a, b):\n    return a + b\n```",  # reasoning never closed: no answer
        "<think>x</think>```python\ndef add(a, b):\n    return a - b\n```",
    ]
    graded = GRADERS["code"](Limits(timeout_s=5)).grade([{**problem, "response": r} for r in responses])
    assert [r["passed"] for r in graded] == [True, True, False, False]
    assert graded[0]["completion"] == "def add(a, b):\n    return a + b\n"


# EvalPlus' test forms, written here in their shape (numpy-based tolerance helper, inputs and expected
# results, plus inputs beyond the base tests): HumanEval+ defines check(candidate); MBPP+ calls the function.
PLUS_HELPER = """import numpy as np

def assertion(out, exp, atol):
    if atol == 0:
        assert out == exp, f"{out} != {exp}"
    else:
        assert np.allclose(out, exp, atol=atol)
"""
HUMANEVAL_PLUS = {"prompt": "def halve(x: float) -> float:\n    \"\"\"Half of x.\"\"\"\n", "entry_point": "halve",
                  "test": PLUS_HELPER + "\n\ndef check(candidate):\n    inputs = [[2.0], [-3.0], [1e9]]\n"
                          "    results = [1.0, -1.5, 5e8]\n    for inp, exp in zip(inputs, results):\n"
                          "        assertion(candidate(*inp), exp, 1e-6)\n"}
MBPP_PLUS = {"prompt": "Write a function to find the shared elements of two lists, sorted.",
             "test_list": ["assert shared([1, 2], [2, 3]) == [2]"],
             "test": PLUS_HELPER + "\ninputs = [[[1, 2], [2, 3]], [[], [1]], [[5, 4, 3], [3, 4]]]\n"
                     "results = [[2], [], [3, 4]]\nfor i, (inp, exp) in enumerate(zip(inputs, results)):\n"
                     "    assertion(shared(*inp), exp, 0)\n"}


def test_evalplus_forms_run_with_their_plus_inputs():
    check, script = GRADERS["code"](Limits(timeout_s=10)), GRADERS["code"](Limits(timeout_s=10), code_test="script")
    right = "def halve(x):\n    return x / 2\n"
    floor = "def halve(x):\n    return x // 2\n"  # passes 2.0 and 1e9, fails the plus input -3.0
    graded = check.grade([{**HUMANEVAL_PLUS, "response": f"<think>x</think>```python\n{c}```"} for c in (right, floor)])
    assert [(r["passed"], r["status"]) for r in graded] == [(True, "passed"), (False, "failed")]
    right = "def shared(a, b):\n    return sorted(set(a) & set(b))\n"
    unsorted = "def shared(a, b):\n    return [x for x in a if x in b]\n"  # fails only the plus input [5, 4, 3]
    renamed = "def common(a, b):\n    return sorted(set(a) & set(b))\n"  # not the name the test calls
    graded = script.grade([{**MBPP_PLUS, "response": f"<think>x</think>```python\n{c}```"}
                           for c in (right, unsorted, renamed)])
    assert [r["passed"] for r in graded] == [True, False, False]
    assert [r["status"] for r in graded] == ["passed", "failed", "error"]


def test_check_form_needs_the_entry_point():
    with pytest.raises(InputError, match="row 1: needs 'entry_point'"):
        GRADERS["code"]().grade([{**MBPP_PLUS, "completion": "pass"}])
