from conftest import REPO

from taxfree.core import provenance


def test_code_hash_follows_the_import_closure(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGE_DIR", tmp_path)
    (tmp_path / "stage").mkdir()
    (tmp_path / "stage" / "__init__.py").write_text("")
    (tmp_path / "stage" / "train.py").write_text("from taxfree.stage import helper\n")
    (tmp_path / "stage" / "helper.py").write_text("def f():\n    from taxfree.lazy import g\n")
    (tmp_path / "lazy.py").write_text("x = 1\n")
    (tmp_path / "figures.py").write_text("y = 1\n")
    assert provenance.import_closure("taxfree.stage.train") == [
        "taxfree.lazy", "taxfree.stage", "taxfree.stage.helper", "taxfree.stage.train"]
    train, figures = provenance.code_hash("taxfree.stage.train"), provenance.code_hash("taxfree.figures")
    provenance.imports_of.cache_clear()
    (tmp_path / "lazy.py").write_text("x = 2\n")  # imported inside a function, two hops away
    assert provenance.code_hash("taxfree.stage.train") != train
    assert provenance.code_hash("taxfree.figures") == figures


def test_each_rule_script_imports_real_library_modules():
    from pathlib import Path

    scripts = sorted((Path(__file__).parents[1] / "scripts").glob("*.py"))
    for script in scripts:
        modules = provenance.script_imports(script)
        assert modules, script
        provenance.code_hash(*modules)  # raises on a module that does not exist


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


def test_the_library_has_no_import_circle():
    """Follows every import statement, function-level ones included: a circle there is a design smell
    even where Python tolerates it."""
    package = provenance.PACKAGE_DIR
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = provenance.imports_of(name, path) - {name}
    done, stack = set(), []

    def visit(module):
        assert module not in stack, "import circle: " + " -> ".join([*stack[stack.index(module):], module])
        if module in done:
            return
        stack.append(module)
        for imported in modules.get(module, ()):
            visit(imported)
        stack.pop()
        done.add(module)

    for module in sorted(modules):
        visit(module)


def test_each_variant_trains_under_a_fingerprint_of_its_own_methods_only():
    from test_config import default_config

    from taxfree.config.resolve import check_references
    from taxfree.training.methods import modules_of

    specs = check_references(default_config())

    def closure(variant):
        return provenance.import_closure("taxfree.training.__main__", *modules_of(specs[variant]))

    assert "taxfree.training.methods.sap.trainer" in closure("downstream_sap")
    assert "taxfree.training.methods.sap.trainer" not in closure("downstream_lora")
    assert "taxfree.training.methods.ssah.units" in closure("downstream_ssah_freeze")
    assert "taxfree.training.methods.ssah.units" not in closure("full")
    assert "taxfree.data.preferences" in closure("saro") and "taxfree.data.datasets" in closure("full")
    figure = provenance.import_closure(*provenance.script_imports(REPO / "scripts" / "figure_tradeoff.py"))
    assert not any(module.startswith("taxfree.training") for module in figure)
