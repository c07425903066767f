"""Scoring a benchmark's generations with the judge or grader its config names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taxfree.core.io import read_jsonl, write_jsonl
from taxfree.evaluation.graders import GRADERS, Grader
from taxfree.evaluation.judges import JUDGES, Judge

# Fields every judge and grader reads as text: a null or a number there (a broken generation file) is
# named by file and line rather than failing inside a judge.
TEXT_FIELDS = ("prompt", "response")


def scorer(benchmark: dict[str, Any]) -> type[Judge] | type[Grader]:
    """The judge or grader class a benchmark is scored with."""
    return JUDGES[benchmark["judge"]] if "judge" in benchmark else GRADERS[benchmark["grader"]]


def verdicts(rows: list[dict[str, Any]], benchmark: dict[str, Any], threads: int | None = None
             ) -> list[dict[str, Any]]:
    """The rows with the benchmark's verdict fields added; a grader uses up to ``threads`` CPUs
    (default: all the job may use)."""
    if "judge" in benchmark:
        return JUDGES[benchmark["judge"]](benchmark["judge_model"]).judge(rows)
    return GRADERS[benchmark["grader"]].for_benchmark(benchmark, threads).grade(rows)


def score_file(in_path: str | Path, out_path: str | Path, benchmark: dict[str, Any], threads: int | None = None
               ) -> None:
    """Score a generations JSONL into a scores JSONL (written atomically)."""
    rows = read_jsonl(in_path, required=scorer(benchmark).required, text=TEXT_FIELDS)
    write_jsonl(out_path, verdicts(rows, benchmark, threads))
