"""Graders on the real benchmark files in ../shared/data (read in place, never copied)."""

import gzip
import json

import pytest
from conftest import SHARED_DATA

from taxfree.evaluation.graders import GRADERS

THINK = "<think>Let me work through this. Maybe it is 7? No, check again.</think>\n"


def read_jsonl(name: str) -> list[dict]:
    opener = gzip.open if name.endswith(".gz") else open
    with opener(SHARED_DATA / name, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def humaneval() -> list[dict]:
    return read_jsonl("humaneval.jsonl.gz")


def test_humaneval_canonical_solutions_pass(humaneval):
    assert len(humaneval) == 164
    graded = GRADERS["code"]().grade([{**row, "completion": row["canonical_solution"]} for row in humaneval])
    assert [(r["task_id"], r["status"]) for r in graded if not r["passed"]] == []


def test_humaneval_stubs_fail(humaneval):
    graded = GRADERS["code"]().grade([{**row, "completion": "    pass\n"} for row in humaneval])
    assert [r["task_id"] for r in graded if r["passed"]] == []
    assert {r["status"] for r in graded} <= {"failed", "error"}


def test_humaneval_responses_with_whole_functions_in_code_blocks_pass(humaneval):
    """As a model answers the paper config's HumanEval prompt: the whole function, fenced, after its reasoning."""
    rows = [{**row, "source_prompt": row["prompt"], "prompt": f"Complete this:\n```python\n{row['prompt']}```",
             "response": f"{THINK}Here it is:\n```python\n{row['prompt']}{row['canonical_solution']}```\nDone."}
            for row in humaneval[:40]]
    graded = GRADERS["code"]().grade(rows)
    assert [r["task_id"] for r in graded if not r["passed"]] == []


def graded_as_expected(rows: list[dict], key: str) -> list[tuple]:
    """Grade ``rows`` (each with ``expect``); the (key, response, extracted) of every surprise."""
    graded = GRADERS["math"]().grade(rows)
    return [(row[key], row["response"], out["extracted"]) for row, out in zip(rows, graded, strict=True)
            if out["correct"] != row["expect"]]


def math_rows(gold: str, answer: str, key: dict, wrong: str) -> list[dict]:
    """A model's ways of stating ``gold`` (right) and ``wrong``, graded against ``answer``."""
    responses = [(f"{THINK}So the result is $\\boxed{{{gold}}}$.", True),
                 (f"{THINK}Putting it together, the answer is {gold}.", True),
                 (f"{THINK}Therefore $\\boxed{{{wrong}}}$.", False),
                 (f"{THINK}The answer is {wrong}.", False)]
    return [{**key, "response": response, "answer": answer, "expect": expect} for response, expect in responses]


def test_math500_gold_answers_are_correct_and_wrong_numbers_are_not():
    problems = read_jsonl("math500.jsonl")
    assert len(problems) == 500
    rows = [row for p in problems for row in math_rows(p["answer"], p["answer"], {"id": p["unique_id"]}, "123456789")]
    assert graded_as_expected(rows, "id") == []


def test_gsm8k_gold_answers_are_correct_and_off_by_one_is_not():
    problems = read_jsonl("gsm8k_test.jsonl")
    assert len(problems) == 1319
    rows = []
    for i, problem in enumerate(problems):
        gold = problem["answer"].rsplit("####", 1)[1].strip()
        wrong = str(int(gold.replace(",", "")) + 1)
        # The reference is the whole solution; the grader reads it from after its ####.
        rows += math_rows(gold, problem["answer"], {"id": i}, wrong)
    assert graded_as_expected(rows, "id") == []


def test_aime24_answers_without_leading_zeros_are_correct():
    problems = read_jsonl("aime24.jsonl")
    rows = [row for p in problems
            for row in math_rows(str(int(p["answer"])), p["answer"], {"id": p["id"]}, str(int(p["answer"]) + 1))]
    assert graded_as_expected(rows, "id") == []
