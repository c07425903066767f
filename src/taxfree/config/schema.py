"""The config schema (package data) and the helpers that fill and check blocks against it."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from taxfree.core.errors import ConfigError

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@functools.cache
def load_schema() -> dict[str, Any]:
    """The parsed schema, read once per process; callers must not modify it."""
    # libyaml's loader when PyYAML has it: the workflow parses the schema on every run, even a no-op one.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def definition(name: str) -> dict[str, Any]:
    """One entry of the schema's ``$defs``."""
    return load_schema()["$defs"][name]


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def schema_defaults(block: str) -> dict[str, Any]:
    """The defaults of a schema definition's properties."""
    return {key: prop["default"] for key, prop in definition(block)["properties"].items() if "default" in prop}


def check(instance: Any, schema: dict[str, Any], where: str) -> None:
    """Raise a ConfigError naming the key under ``where`` that breaks ``schema``."""
    validator = jsonschema.Draft202012Validator({**schema, "$defs": load_schema()["$defs"]})
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        key = ".".join([where, *map(str, error.absolute_path)])
        raise ConfigError(f"config key '{key}': {error.message}")


def fill_defaults(schema: dict[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """``block`` with the schema's defaults filled in, nested objects included."""
    filled = {key: prop["default"] for key, prop in schema["properties"].items() if "default" in prop}
    for key, prop in schema["properties"].items():
        if prop.get("type") == "object" and "properties" in prop:
            filled[key] = fill_defaults(prop, block.get(key, {}))
    return {**filled, **{k: v for k, v in block.items() if k not in filled or not isinstance(v, dict)}}


def resolve_block(overrides: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    """A block with the schema definition ``name``'s defaults filled in, checked."""
    block = fill_defaults(definition(name), overrides)
    check(block, definition(name), where)
    return block


# The training block's own keys; every other key is an argument of TRL's SFTConfig / DPOConfig.
OWN_TRAINING_KEYS = ("precision", "keep_checkpoints")


def _check_trainer_arguments(keys: set[str], where: str) -> None:
    """Keys the schema does not list must be TRL trainer arguments. TRL is imported only when
    such keys are present: it takes seconds, and every workflow start resolves the config."""
    from trl import DPOConfig, SFTConfig

    known = {field.name for cls in (SFTConfig, DPOConfig) for field in dataclasses.fields(cls)}
    for key in sorted(keys - known):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(f"config key '{where}.{key}': not a training setting nor an argument of TRL's "
                          f"SFTConfig or DPOConfig{hint}")


def resolve_training(config: dict[str, Any], overrides: dict[str, Any], where: str,
                     default_epochs: int) -> dict[str, Any]:
    """The top-level ``training`` block with ``overrides`` applied, checked; epochs default by method."""
    spec = deep_merge(config["training"], overrides)
    check(spec, definition("training"), where)
    extra = set(spec) - set(definition("training")["properties"])
    if extra:
        _check_trainer_arguments(extra, where)
    if spec["num_train_epochs"] is None:
        spec["num_train_epochs"] = default_epochs
    return spec


def training_defaults() -> dict[str, Any]:
    """The schema's default ``training`` block (the paper's settings)."""
    return schema_defaults("training")
