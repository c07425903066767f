import pytest

from taxfree.core.io import atomic_path, write_jsonl


def test_failed_write_leaves_nothing_and_keeps_old_output(tmp_path):
    target = tmp_path / "out.jsonl"
    write_jsonl(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        write_jsonl(target, rows())
    assert target.read_text() == '{"a": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_atomic_directory_replaces_whole(tmp_path):
    target = tmp_path / "model"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "weights").write_text("1")
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "config").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["config"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
