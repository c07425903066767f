from taxfree import provenance


def test_source_hash_follows_module_content(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGE_DIR", tmp_path)
    (tmp_path / "train.py").write_text("x = 1\n")
    (tmp_path / "figures.py").write_text("y = 1\n")
    before = provenance.source_hash("train")
    figures_before = provenance.source_hash("figures")
    assert provenance.source_hash("train", "train") == before
    (tmp_path / "train.py").write_text("x = 2\n")
    assert provenance.source_hash("train") != before
    assert provenance.source_hash("figures") == figures_before


def test_spec_hash_is_stable_and_tells_settings_apart():
    spec = {"method": "lora", "training": {"learning_rate": 1e-3, "seed": 42}}
    assert provenance.spec_hash(spec) == provenance.spec_hash(dict(reversed(list(spec.items()))))
    assert provenance.spec_hash(spec) != provenance.spec_hash({**spec, "method": "full"})


def test_git_commit_marks_local_changes(tmp_path):
    import subprocess

    assert provenance.git_commit(tmp_path) is None
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run([*git, "add", "f"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "c"], cwd=tmp_path, check=True)
    commit = provenance.git_commit(tmp_path)
    assert len(commit) == 40
    (tmp_path / "f").write_text("2")
    assert provenance.git_commit(tmp_path) == commit + "-dirty"


def test_environment_names_packages_and_hardware():
    env = provenance.environment()
    assert env["packages"]["torch"].startswith("2.13.0")
    assert env["hardware"]["cpus"] >= 1 and isinstance(env["hardware"]["gpus"], list)
    assert env["git_commit"] is None or env["git_commit"][:40].isalnum()
