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
