"""Graders: compare a response's final answer with the reference. Adding a grader is one class.

Heavy dependencies (math-verify and its sympy) are imported on first use, so that the
CLI and the workflow's parse step, which only look graders up, start fast.
"""

from __future__ import annotations

import re
import threading
from typing import Any, ClassVar

from taxfree.core.errors import InputError
from taxfree.core.reasoning import final_answer, truncated
from taxfree.evaluation.sandbox import Limits, run_programs, usable_cpus

# math-verify loads inside the math grader: the other graders, and config resolution, never need it.


class Grader:
    """A grader adds ``field`` (and its own details) to each row; ``metric`` is the mean of ``field``."""

    name: ClassVar[str]
    field: ClassVar[str]
    metric: ClassVar[str]
    required: ClassVar[tuple[str, ...]]

    @classmethod
    def for_benchmark(cls, benchmark: dict[str, Any], threads: int | None = None) -> Grader:
        """The grader with the benchmark's settings, using up to ``threads`` CPUs."""
        return cls()

    def grade(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise NotImplementedError


class AnswerGrader(Grader):
    """Extracts an answer from the text after the reasoning block and compares it with ``answer``;
    adds ``correct`` and ``extracted`` (None when no answer was found). A response whose reasoning never
    closed has no answer, whatever its reasoning says: no extractor's fallback reads it."""

    field = "correct"
    metric = "accuracy"
    required = ("response", "answer")

    def extract(self, response: str) -> str | None:
        raise NotImplementedError

    def equal(self, extracted: str, answer: str) -> bool:
        return extracted.strip() == str(answer).strip()

    def grade(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        graded = []
        for row in rows:
            extracted = None if truncated(row["response"]) else self.extract(row["response"])
            correct = extracted is not None and self.equal(extracted, row["answer"])
            graded.append({**row, "extracted": extracted, self.field: correct})
        return graded


class ToyGrader(AnswerGrader):
    """The toy world's answers: ``the answer is N`` after the reasoning block."""

    name = "toy"
    _pattern = re.compile(r"the answer is (-?\d+)")

    def extract(self, response: str) -> str | None:
        match = self._pattern.search(final_answer(response))
        return match.group(1) if match else None


def last_boxed(text: str) -> str | None:
    r"""The content of the last ``\boxed{...}`` (or ``\fbox``, or ``\boxed 5``), braces balanced;
    None when there is none or it was cut off."""
    starts = [match.end() for match in re.finditer(r"\\(?:boxed|fbox)\b", text)]
    if not starts:
        return None
    rest = text[starts[-1]:]
    if not rest.lstrip().startswith("{"):
        match = re.match(r"\s+([^\s$]+)", rest)
        return match.group(1) if match else None
    rest, depth = rest.lstrip(), 0
    for i, char in enumerate(rest):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return rest[1:i]
    return None


_ANSWER_IS = re.compile(r"answer is\s*:?\s*(.+)", re.IGNORECASE)
_HASHES = re.compile(r"####\s*(.+)")
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
_MATH_DELIMITERS = re.compile(r"^\$+|\$+$|^\\\(|\\\)$|^\\\[|\\\]$")


def _marked_answer(text: str) -> str | None:
    """The answer after the last "answer is" (else the last "####"), up to the end of its line or sentence."""
    for pattern in (_ANSWER_IS, _HASHES):
        matches = pattern.findall(text)
        if matches:
            answer = re.split(r"\.\s", matches[-1])[0].lstrip(" *").rstrip(" *.")
            return _MATH_DELIMITERS.sub("", answer).strip() or None
    return None


def _math_verify_timeout() -> int | None:
    """math-verify times out with ``signal.alarm``, which only the main thread may use."""
    return 5 if threading.current_thread() is threading.main_thread() else None


def parse_math(latex: str) -> list:
    """Parse one answer (LaTeX or plain) with math-verify, as it would parse it boxed."""
    from math_verify import parse

    return parse(f"\\boxed{{{latex}}}", parsing_timeout=_math_verify_timeout())


class MathGrader(AnswerGrader):
    r"""Competition maths (MATH-500, AIME, GSM8K): the answer is the last ``\boxed{}``, else the
    one after "answer is" or "####", else the last number; it counts as correct when math-verify
    finds it equal to the reference (``1/2`` = ``\frac12`` = ``0.5``, sets, intervals, matrices).
    A reference with a GSM8K solution in it is read from after its ``####``."""

    name = "math"

    def extract(self, response: str) -> str | None:
        final = final_answer(response)
        answer = last_boxed(final) or _marked_answer(final)
        if answer is None:
            numbers = _NUMBER.findall(final)
            answer = numbers[-1] if numbers else None
        return answer

    def equal(self, extracted: str, answer: str) -> bool:
        from math_verify import verify

        gold = str(answer).rsplit("####", 1)[-1].strip()
        return verify(parse_math(gold), parse_math(extracted), timeout_seconds=_math_verify_timeout())


_LETTER = r"\(?\b([A-J])\b\)?"
_MCQ_PATTERNS = [re.compile(p) for p in (
    r"\\boxed\{\s*(?:\\text\{\s*)?" + _LETTER,
    r"(?i:final answer)\s*:?\s*\**\s*" + _LETTER,
    r"(?i:answer is)\s*:?\s*\**\s*" + _LETTER,
)]


class McqGrader(AnswerGrader):
    r"""Multiple choice (GPQA, A-J): the letter in the last ``\boxed{}``, else after "Final Answer:",
    else after "answer is"; compared with the reference letter, which may be written ``(B)``."""

    name = "mcq"

    def extract(self, response: str) -> str | None:
        final = final_answer(response)
        for pattern in _MCQ_PATTERNS:
            letters = pattern.findall(final)
            if letters:
                return letters[-1]
        return None

    def equal(self, extracted: str, answer: str) -> bool:
        return extracted == str(answer).strip().strip("()").upper()


_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def code_of(response: str) -> str:
    """The code of a response's final answer: its last fenced block that is not cut off, else all of it."""
    final = final_answer(response)
    blocks = _FENCE.findall(final)
    return blocks[-1] if blocks else final


class CodeGrader(Grader):
    """Code run against the row's tests in the sandbox (see ``taxfree.evaluation.sandbox``); adds
    ``completion`` and ``passed`` and ``status`` (passed, failed, error or timeout). ``code_test`` is the
    tests' form: ``check`` (HumanEval, HumanEval+): ``prompt`` + ``completion`` + ``test`` +
    ``check(entry_point)``; ``script`` (MBPP+): ``completion`` + ``test``, whose code calls the function
    itself. A row from generation has no ``completion``: it is the code of the response's final answer; a
    response whose reasoning never closed has none and is not run (status ``truncated``). ``workers``
    samples run at once, by default one per CPU the process may use; ``unsafe`` runs them even where the
    sandbox's namespaces are not available."""

    name = "code"
    field = "passed"
    metric = "pass_rate"
    required = ("prompt", "test")

    def __init__(self, limits: Limits = Limits(), workers: int | None = None, unsafe: bool = False,
                 code_test: str = "check") -> None:
        self.limits, self.unsafe, self.code_test = limits, unsafe, code_test
        self.workers = min(workers or usable_cpus(), usable_cpus())

    @classmethod
    def for_benchmark(cls, benchmark: dict[str, Any], threads: int | None = None) -> CodeGrader:
        return cls(workers=threads, unsafe=benchmark["unsafe_code_execution"], code_test=benchmark["code_test"])

    def program(self, row: dict[str, Any]) -> str:
        if self.code_test == "script":
            return f"{row['completion']}\n\n{row['test']}\n"
        # Benchmark rows keep the untemplated prompt (the function stub) as source_prompt.
        stub = row.get("source_prompt", row["prompt"])
        if re.search(rf"^def {re.escape(row['entry_point'])}\s*\(", row["completion"], re.MULTILINE):
            # A whole function redefines the stub, which gets a body so that it still parses; the
            # stub's imports and helpers stay.
            stub = f"{stub.rstrip()}\n    pass\n"
        return f"{stub}{row['completion']}\n{row['test']}\ncheck({row['entry_point']})\n"

    def grade(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for lineno, row in enumerate(rows, start=1):
            if "completion" not in row and "response" not in row:
                raise InputError(f"row {lineno}: needs 'completion' or 'response'")
            if self.code_test == "check" and "entry_point" not in row:
                raise InputError(f"row {lineno}: needs 'entry_point' (code_test check calls check(entry_point))")
        rows = [row if "completion" in row else {**row, "completion": code_of(row["response"])} for row in rows]
        runnable = [i for i, row in enumerate(rows) if not truncated(row.get("response", ""))]
        results = dict(zip(runnable, run_programs([self.program(rows[i]) for i in runnable], self.limits,
                                                  self.workers, self.unsafe), strict=True))
        return [{**row, self.field: results[i].passed, "status": results[i].status} if i in results
                else {**row, self.field: False, "status": "truncated"} for i, row in enumerate(rows)]


GRADERS: dict[str, type[Grader]] = {cls.name: cls for cls in (ToyGrader, MathGrader, McqGrader, CodeGrader)}
