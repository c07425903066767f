"""Evaluation sets load from local files (the real benchmark files in ../shared/data) as the hub ones would."""

import pytest
from conftest import SHARED_DATA

from taxfree.core.errors import InputError
from taxfree.data.benchmarks import prepare_evalset

SPEC = {"split": "test", "revision": None, "hub_config": None,
        "columns": {"prompt": "prompt", "answer": None, "example": None},
        "where": {}, "prompt_template": "{prompt}", "max_rows": None,
        "num_samples": 1, "seed": 0, "choices": None, "choice_label": "{letter}) ", "unique_prompts": False}


def test_xstest_safe_and_unsafe_prompts():
    path = str(SHARED_DATA / "xstest_prompts.csv")
    safe = prepare_evalset({**SPEC, "path": path, "where": {"label": "safe"}})
    unsafe = prepare_evalset({**SPEC, "path": path, "where": {"label": "unsafe"}})
    assert (len(safe), len(unsafe)) == (250, 200)
    assert all(row["prompt"] == row["source_prompt"] for row in safe)


def test_math500_with_answers_and_a_latex_template():
    spec = {**SPEC, "path": str(SHARED_DATA / "math500.jsonl"), "columns": {"prompt": "problem", "answer": "answer", "example": None},
            "prompt_template": "{prompt}\nPut your final answer within \\boxed{}."}
    rows = prepare_evalset(spec)
    assert len(rows) == 500
    assert rows[0]["prompt"] == rows[0]["problem"] + "\nPut your final answer within \\boxed{}."
    assert all(isinstance(row["answer"], str) and row["answer"] for row in rows)


def test_gsm8k_rows_truncated():
    rows = prepare_evalset({**SPEC, "path": str(SHARED_DATA / "gsm8k_test.jsonl"), "max_rows": 10,
                            "columns": {"prompt": "question", "answer": "answer", "example": None}})
    assert len(rows) == 10


def test_missing_prompt_column_names_file_and_column():
    with pytest.raises(InputError, match=r"math500\.jsonl: row 1: missing column 'question'"):
        prepare_evalset({**SPEC, "path": str(SHARED_DATA / "math500.jsonl"),
                         "columns": {"prompt": "question", "answer": None, "example": None}})
    with pytest.raises(InputError, match="no rows left"):
        prepare_evalset({**SPEC, "path": str(SHARED_DATA / "xstest_prompts.csv"), "where": {"label": "maybe"}})


def test_samples_are_rows_with_their_own_seed():
    rows = prepare_evalset({**SPEC, "path": str(SHARED_DATA / "gsm8k_test.jsonl"), "max_rows": 3, "num_samples": 4,
                            "seed": 10, "columns": {"prompt": "question", "answer": "answer", "example": None}})
    assert len(rows) == 12
    assert [(r["prompt_id"], r["sample"], r["seed"]) for r in rows[:5]] == \
        [(0, 0, 10), (0, 1, 11), (0, 2, 12), (0, 3, 13), (1, 0, 10)]
    assert len({r["prompt"] for r in rows[:4]}) == 1


GPQA_ROW = {"Question": "Which is heaviest?", "Correct Answer": " lead\n", "Incorrect Answer 1": "air",
            "Incorrect Answer 2": "water", "Incorrect Answer 3": "cork"}
CHOICES = {"correct": "Correct Answer", "incorrect": ["Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"]}


def test_choices_shuffle_per_seed_and_the_answer_letter_follows(tmp_path):
    from taxfree.core.io import write_jsonl

    write_jsonl(tmp_path / "gpqa.jsonl", [GPQA_ROW, {**GPQA_ROW, "Question": "Which is densest?"}])
    spec = {**SPEC, "path": str(tmp_path / "gpqa.jsonl"), "columns": {"prompt": "Question", "answer": None, "example": None},
            "choices": CHOICES, "num_samples": 8, "prompt_template": "{prompt}\n{choices}\nAnswer with a letter."}
    rows = prepare_evalset(spec)
    assert rows == prepare_evalset(spec)  # deterministic
    for row in rows:
        options = dict(line.split(") ", 1) for line in row["prompt"].splitlines()[1:5])
        assert options[row["answer"]] == "lead" and sorted(options.values()) == ["air", "cork", "lead", "water"]
    assert len({r["answer"] for r in rows}) > 1  # the correct option moves between seeds
    assert [r["answer"] for r in rows[:8]] != [r["answer"] for r in rows[8:]]  # and between questions
    from taxfree.evaluation.graders import GRADERS
    graded = GRADERS["mcq"]().grade([{**r, "response": f"<think>hm</think>\\boxed{{{r['answer']}}}"} for r in rows])
    assert all(r["correct"] for r in graded)


def test_unique_prompts_keep_the_first_row_of_each(tmp_path):
    from taxfree.core.io import write_jsonl

    rows = [{"prompt": p, "response": r, "is_safe": s} for p, r, s in
            [("a", 1, False), ("b", 2, True), ("c", 3, False), ("a", 4, False), ("c", 5, False)]]
    write_jsonl(tmp_path / "bt.jsonl", rows)
    spec = {**SPEC, "path": str(tmp_path / "bt.jsonl"), "where": {"is_safe": False}, "unique_prompts": True}
    assert [(r["prompt"], r["response"], r["prompt_id"]) for r in prepare_evalset(spec)] == [("a", 1, 0), ("c", 3, 1)]


def test_choices_as_the_authors_gpqa_prompt_writes_them(tmp_path):
    from taxfree.core.io import write_jsonl

    write_jsonl(tmp_path / "gpqa.jsonl", [GPQA_ROW])
    spec = {**SPEC, "path": str(tmp_path / "gpqa.jsonl"), "columns": {"prompt": "Question", "answer": None, "example": None},
            "choices": CHOICES, "choice_label": "({letter}) ", "prompt_template": "Question: {prompt}\nChoices:\n{choices}\n\n"}
    (row,) = prepare_evalset(spec)
    lines = row["prompt"].splitlines()
    assert lines[:2] == ["Question: Which is heaviest?", "Choices:"]
    assert [line[:4] for line in lines[2:6]] == ["(A) ", "(B) ", "(C) ", "(D) "]
    assert f"({row['answer']}) lead" in lines


def test_example_fills_the_prompt_with_the_first_test(tmp_path):
    """MBPP+: the first test assertion names the function the model must write."""
    from taxfree.core.io import write_jsonl

    write_jsonl(tmp_path / "mbpp.jsonl", [{"prompt": "Write a function to add.", "test_list": ["assert add(1, 2) == 3",
                                                                                             "assert add(0, 0) == 0"]},
                                          {"prompt": "Write a function to subtract.", "test_list": []}])
    spec = {**SPEC, "path": str(tmp_path / "mbpp.jsonl"), "max_rows": 1,
            "columns": {"prompt": "prompt", "answer": None, "example": "test_list"},
            "prompt_template": '"""\n{prompt}\n{example}\n"""'}
    assert prepare_evalset(spec)[0]["prompt"] == '"""\nWrite a function to add.\nassert add(1, 2) == 3\n"""'
    with pytest.raises(InputError, match=r"mbpp.jsonl: row 2: column 'test_list' \(columns.example\) has no text"):
        prepare_evalset({**spec, "max_rows": None})
