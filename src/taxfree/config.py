"""Config validation and variant resolution: the only code that knows the config's shape.

Snakemake's ``validate`` checks the config against ``schemas/config.schema.yaml`` and
fills defaults. Variants hold *overrides* of the top-level ``training`` and ``lora``
blocks, so they are checked after merging, against the same schema definitions.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value that the schema, or a cross-reference, rejects; the message names the key."""


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _check(instance: Any, schema: dict[str, Any], defs: dict[str, Any], where: str) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator({**schema, "$defs": defs})
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        key = ".".join([where, *map(str, error.absolute_path)])
        raise ConfigError(f"config key '{key}': {error.message}")


def resolve_training(config: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """The top-level ``training`` block with ``overrides`` applied, checked against the schema."""
    defs = load_schema()["$defs"]
    spec = deep_merge(config["training"], overrides)
    _check(spec, defs["training"], defs, where)
    return spec


def resolve_variant(config: dict[str, Any], name: str) -> dict[str, Any]:
    """A variant's full spec: method, data set, training and (for LoRA) adapter settings."""
    if name not in config["variants"]:
        raise ConfigError(f"config key 'variants.{name}': no such variant (have: {', '.join(config['variants'])})")
    variant = config["variants"][name]
    spec: dict[str, Any] = {"method": variant["method"]}
    if variant["method"] == "none":
        return spec
    dataset = variant["dataset"]
    if dataset not in config.get("datasets", {}):
        raise ConfigError(f"config key 'variants.{name}.dataset': unknown data set '{dataset}' "
                          f"(have: {', '.join(config.get('datasets', {})) or 'none'})")
    spec["dataset"] = dataset
    spec["training"] = resolve_training(config, variant.get("training", {}), f"variants.{name}.training")
    if variant["method"] == "lora":
        defs = load_schema()["$defs"]
        spec["lora"] = deep_merge(config["lora"], variant.get("lora", {}))
        _check(spec["lora"], defs["lora"], defs, f"variants.{name}.lora")
    elif "lora" in variant:
        raise ConfigError(f"config key 'variants.{name}.lora': only `lora` variants take LoRA settings")
    return spec


def check_references(config: dict[str, Any]) -> None:
    """Checks the schema cannot express: names that must refer to other entries."""
    from taxfree.graders import GRADERS
    from taxfree.judges import JUDGES

    for name in config["variants"]:
        resolve_variant(config, name)
    for name, bench in config["benchmarks"].items():
        if "judge" in bench and bench["judge"] not in JUDGES:
            raise ConfigError(f"config key 'benchmarks.{name}.judge': unknown judge '{bench['judge']}' "
                              f"(have: {', '.join(JUDGES)})")
        if "grader" in bench and bench["grader"] not in GRADERS:
            raise ConfigError(f"config key 'benchmarks.{name}.grader': unknown grader '{bench['grader']}' "
                              f"(have: {', '.join(GRADERS)})")
    for axis, bench in config["figures"]["tradeoff"].items():
        if bench not in config["benchmarks"]:
            raise ConfigError(f"config key 'figures.tradeoff.{axis}': unknown benchmark '{bench}'")
    if any(m["source"] == "toyworld" for m in config["models"].values()):
        resolve_training(config, config["toyworld"]["pretrain"], "toyworld.pretrain")
