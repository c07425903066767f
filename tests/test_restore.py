import base64
import json
import os

from taxfree.core.restore import restore_times


def record(workdir, path, endtime, incomplete=False, name_max=255):
    """A record where Snakemake's FilePersistence writes it: URL-safe base64 of the path, split into
    '@'-prefixed directories when longer than the file system's name limit."""
    encoded = base64.urlsafe_b64encode(path.encode()).decode()
    chunks = [encoded[i:i + name_max - 1] for i in range(0, len(encoded), name_max - 1)]
    target = workdir / ".snakemake" / "metadata" / os.path.join(*["@" + c for c in chunks[:-1]], chunks[-1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"endtime": endtime, "incomplete": incomplete}))


def test_outputs_are_restamped_in_the_order_they_finished(tmp_path):
    (tmp_path / "results" / "model").mkdir(parents=True)
    for name in ("a.txt", "model/weights.bin", "model/.snakemake_timestamp", "c.txt", "x???.txt"):
        (tmp_path / "results" / name).write_text(name)
    # As after `dvc pull`: contents back, times in no particular order.
    record(tmp_path, "results/c.txt", 300.0, name_max=8)  # a long name, split into directories
    record(tmp_path, "results/model", 200.0)
    record(tmp_path, "results/a.txt", 100.0)
    record(tmp_path, "results/gone.txt", 50.0)
    record(tmp_path, "results/x???.txt", 400.0)  # URL-safe base64 has '-' and '_' where plain has '+', '/'
    os.utime(tmp_path / "results" / "a.txt", (10**9, 10**9))

    assert restore_times(tmp_path) == 4

    def mtime(name):
        return (tmp_path / "results" / name).stat().st_mtime_ns

    assert mtime("a.txt") < mtime("model") < mtime("c.txt") < mtime("x???.txt")
    assert mtime("model/weights.bin") == mtime("model/.snakemake_timestamp") == mtime("model")


def test_job_benchmark_files_are_never_a_jobs_oldest_output(tmp_path):
    # Snakemake compares a job's inputs with all its outputs, its benchmark file included, but keeps no
    # metadata for that file; after `dvc pull` it must not look older than the inputs.
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "a.txt").write_text("a")
    bench = tmp_path / "logs" / "benchmarks" / "rule" / "job.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\n1\n")
    os.utime(bench, (10**9, 10**9))
    record(tmp_path, "results/a.txt", 100.0)
    restore_times(tmp_path)
    assert bench.stat().st_mtime_ns > (tmp_path / "results" / "a.txt").stat().st_mtime_ns


def test_incomplete_outputs_are_left_for_snakemake_to_redo(tmp_path):
    (tmp_path / "half.txt").write_text("x")
    before = (tmp_path / "half.txt").stat().st_mtime_ns
    record(tmp_path, "half.txt", 100.0, incomplete=True)
    assert restore_times(tmp_path) == 0
    assert (tmp_path / "half.txt").stat().st_mtime_ns == before
