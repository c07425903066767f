"""Graders: compare a response's final answer with the reference. Adding a grader is one class."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from taxfree.judges import final_answer


class Grader:
    """A grader adds ``correct`` and ``extracted`` to each row; its metric is the mean of ``correct``."""

    name: ClassVar[str]
    field: ClassVar[str] = "correct"
    metric: ClassVar[str] = "accuracy"
    required: ClassVar[tuple[str, ...]] = ("response", "answer")

    def extract(self, response: str) -> str | None:
        raise NotImplementedError

    def equal(self, extracted: str, answer: str) -> bool:
        return extracted.strip() == str(answer).strip()

    def grade(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        graded = []
        for row in rows:
            extracted = self.extract(row["response"])
            correct = extracted is not None and self.equal(extracted, row["answer"])
            graded.append({**row, "extracted": extracted, self.field: correct})
        return graded


class ToyGrader(Grader):
    """The toy world's answers: ``the answer is N`` after the reasoning block."""

    name = "toy"
    _pattern = re.compile(r"the answer is (-?\d+)")

    def extract(self, response: str) -> str | None:
        match = self._pattern.search(final_answer(response))
        return match.group(1) if match else None


GRADERS: dict[str, type[Grader]] = {cls.name: cls for cls in (ToyGrader,)}
