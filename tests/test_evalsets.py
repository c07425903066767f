"""Evaluation sets load from local files (the real benchmark files in ../shared/data) as the hub ones would."""

import pytest

from conftest import SHARED_DATA
from taxfree.evalsets import prepare_evalset
from taxfree.io import InputError

SPEC = {"split": "test", "revision": None, "hub_config": None, "columns": {"prompt": "prompt", "answer": None},
        "where": {}, "prompt_template": "{prompt}", "max_rows": None}


def test_xstest_safe_and_unsafe_prompts():
    path = str(SHARED_DATA / "xstest_prompts.csv")
    safe = prepare_evalset({**SPEC, "path": path, "where": {"label": "safe"}})
    unsafe = prepare_evalset({**SPEC, "path": path, "where": {"label": "unsafe"}})
    assert (len(safe), len(unsafe)) == (250, 200)
    assert all(row["prompt"] == row["source_prompt"] for row in safe)


def test_math500_with_answers_and_a_latex_template():
    spec = {**SPEC, "path": str(SHARED_DATA / "math500.jsonl"), "columns": {"prompt": "problem", "answer": "answer"},
            "prompt_template": "{prompt}\nPut your final answer within \\boxed{}."}
    rows = prepare_evalset(spec)
    assert len(rows) == 500
    assert rows[0]["prompt"] == rows[0]["problem"] + "\nPut your final answer within \\boxed{}."
    assert all(isinstance(row["answer"], str) and row["answer"] for row in rows)


def test_gsm8k_rows_truncated():
    rows = prepare_evalset({**SPEC, "path": str(SHARED_DATA / "gsm8k_test.jsonl"), "max_rows": 10,
                            "columns": {"prompt": "question", "answer": "answer"}})
    assert len(rows) == 10


def test_missing_prompt_column_names_file_and_column():
    with pytest.raises(InputError, match=r"math500\.jsonl: row 1: missing column 'question'"):
        prepare_evalset({**SPEC, "path": str(SHARED_DATA / "math500.jsonl"),
                         "columns": {"prompt": "question", "answer": None}})
    with pytest.raises(InputError, match="no rows left"):
        prepare_evalset({**SPEC, "path": str(SHARED_DATA / "xstest_prompts.csv"), "where": {"label": "maybe"}})
