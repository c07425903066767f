"""File I/O with clear errors and atomic writes: nothing half-written is left behind."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from taxfree.config.paths import MODEL_MARKER
from taxfree.core.errors import InputError


def read_jsonl(path: str | Path, required: Iterable[str] = (), text: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Read a JSONL file; a line that is not UTF-8 or not valid JSON, a missing field, or a ``text`` field
    that is not a string (null, a number) names the file and line."""
    rows, required, text = [], tuple(required), tuple(text)
    # Bytes, decoded line by line: a stray non-UTF-8 byte then names its line, not just the file.
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(f"{path}:{lineno}: not UTF-8 (byte {raw[err.start]:#04x} at column "
                                 f"{err.start + 1})") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise InputError(f"{path}:{lineno}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            missing = [key for key in required if key not in row]
            if missing:
                raise InputError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            for key in text:
                if key in row and not isinstance(row[key], str):
                    raise InputError(f"{path}:{lineno}: field '{key}' must be a string, got "
                                     f"{type(row[key]).__name__} ({json.dumps(row[key])})")
            rows.append(row)
    return rows


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path (file or directory) that replaces ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)) / path.name
    try:
        yield tmp
        replace_path(tmp, path)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def replace_path(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``; an old directory at ``dst`` is first renamed aside (atomically) and then
    deleted, so a process killed meanwhile never leaves a half-deleted directory under ``dst``'s name."""
    if dst.is_dir():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old.", dir=dst.parent))
        os.replace(dst, old / dst.name)
        os.replace(src, dst)
        shutil.rmtree(old)
    else:
        os.replace(src, dst)


def mark_complete(model_dir: str | Path, stamp: str) -> None:
    """Write a model directory's completion marker (``stamp``: the spec hash it was made from). Call it
    last: the workflow's rules take the marker as their output, so a directory without it, left by a
    job killed half-way, is rebuilt rather than used."""
    with atomic_path(Path(model_dir) / MODEL_MARKER) as tmp:
        tmp.write_text(stamp + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@contextmanager
def redirect_output(log_path: str | Path | None) -> Iterator[None]:
    """Send this process's stdout and stderr (progress bars, C-level output too) to a log file."""
    if log_path is None:
        yield
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "w", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
