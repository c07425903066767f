import pytest

from taxfree.core.errors import InputError
from taxfree.core.io import atomic_path, read_jsonl, write_jsonl
from taxfree.evaluation.scoring import score_file


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


@pytest.mark.parametrize("line, words", [
    (b'{"prompt": "p", "response": null}\n', "field 'response' must be a string, got NoneType (null)"),
    (b'{"prompt": "p", "response": 7}\n', "field 'response' must be a string, got int (7)"),
    (b'{"prompt": "p", "response": "caf\xe9"}\n', "not UTF-8 (byte 0xe9 at column 33)"),
])
def test_a_malformed_row_names_file_and_line(tmp_path, line, words):
    path = tmp_path / "gen.jsonl"
    path.write_bytes(b'{"prompt": "p", "response": "fine"}\n\n' + line)
    with pytest.raises(InputError) as err:
        read_jsonl(path, required=("prompt", "response"), text=("prompt", "response"))
    assert str(err.value) == f"{path}:3: {words}"


def test_scoring_a_generation_file_with_a_null_response_names_its_line(tmp_path):
    path = tmp_path / "gen.jsonl"
    write_jsonl(path, [{"prompt": "p", "response": "i am sorry ."}, {"prompt": "p", "response": None}])
    with pytest.raises(InputError, match=rf"^{path}:2: field 'response' must be a string"):
        score_file(path, tmp_path / "scores.jsonl", {"judge": "refusal", "judge_model": {}})
    assert not (tmp_path / "scores.jsonl").exists()
