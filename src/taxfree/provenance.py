"""Fingerprints of the library's own source, so editing a module reruns the rules that use it."""

from __future__ import annotations

import hashlib
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def source_hash(*modules: str) -> str:
    """SHA-256 (first 16 hex digits) over the named modules' source files, e.g. ``"train", "data"``."""
    digest = hashlib.sha256()
    for module in sorted(set(modules)):
        path = PACKAGE_DIR / f"{module.replace('.', '/')}.py"
        digest.update(module.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]
