"""Make a workspace restored by ``dvc pull`` look to Snakemake exactly as finished as it was.

DVC restores file contents, not modification times, so after a pull every output looks as
new as every other and Snakemake's mtime check would plan reruns at random. Snakemake's
own metadata (``.snakemake/metadata``, versioned with the outputs) records when each output
was finished; re-stamping the outputs in that order, just before now, makes each output
newer than its inputs and newer than the freshly cloned sources, while the params, code and
input triggers, which read the same metadata, still catch real changes.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from pathlib import Path

from taxfree.config.paths import JOB_BENCHMARKS

log = logging.getLogger(__name__)

STEP_NS = 1_000_000  # 1 ms between consecutive outputs keeps their order on any file system


def recorded_path(record: Path, metadata_dir: Path) -> str:
    """The output a metadata record is about. Snakemake names a record by the output's path in
    URL-safe base64, split into ``@``-prefixed directories where it exceeds the file name limit."""
    parts = record.relative_to(metadata_dir).parts
    encoded = "".join(part.removeprefix("@") for part in parts[:-1]) + parts[-1]
    return base64.urlsafe_b64decode(encoded).decode()


def finished_outputs(workdir: str | Path) -> list[tuple[float, Path]]:
    """(end time, path) of every complete output Snakemake recorded that exists in ``workdir``."""
    workdir = Path(workdir)
    metadata_dir = workdir / ".snakemake" / "metadata"
    records = []
    for meta in sorted(p for p in metadata_dir.rglob("*") if p.is_file()):
        path = workdir / recorded_path(meta, metadata_dir)
        try:
            record = json.loads(meta.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{meta}: not a Snakemake metadata record ({err})") from err
        if not record.get("incomplete") and record.get("endtime") is not None and path.exists():
            records.append((float(record["endtime"]), path))
    return sorted(records)


def _stamp(path: Path, ns: int) -> None:
    # A directory output's time is its .snakemake_timestamp file's; stamp every file in it alike.
    targets = [path, *path.rglob("*")] if path.is_dir() else [path]
    for target in targets:
        os.utime(target, ns=(ns, ns), follow_symlinks=False)


def restore_times(workdir: str | Path) -> int:
    """Re-stamp every recorded output in its recorded order, ending now; returns how many."""
    outputs = finished_outputs(workdir)
    start = time.time_ns() - STEP_NS * (len(outputs) + 1)
    for index, (_, path) in enumerate(outputs):
        _stamp(path, start + index * STEP_NS)
    # Jobs' benchmark files count among their outputs for Snakemake's time check, but its metadata has no
    # record of them: stamped last, they are never a job's oldest output. Nothing reads them as input.
    benchmarks = Path(workdir) / JOB_BENCHMARKS
    if benchmarks.is_dir():
        _stamp(benchmarks, start + len(outputs) * STEP_NS)
    log.info("re-stamped %d outputs in the order Snakemake finished them", len(outputs))
    return len(outputs)
