"""The config schema (package data) and the helpers that fill and check blocks against it."""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import math
import re
import reprlib
from collections.abc import Iterator
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


# Reprs of wrong values cut to a line: a wrong block can be large.
_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxlevel = 30, 30, 3, 3, 2


def _unknown_keys(error: jsonschema.ValidationError) -> list[str]:
    """The keys an ``additionalProperties: false`` error objects to."""
    named = error.schema.get("properties", {})
    patterns = error.schema.get("patternProperties", {})
    return [key for key in error.instance if key not in named and not any(re.search(p, key) for p in patterns)]


def describe(error: jsonschema.ValidationError, where: str) -> str:
    """One schema error as ``config key '<path>': <reason>``: the path down to the offending key, a short
    reason, and for an unknown key the closest known one (a typo is the usual cause)."""
    path = [where, *map(str, error.absolute_path)] if where else list(map(str, error.absolute_path))
    if error.validator == "additionalProperties" and error.validator_value is False:
        key = _unknown_keys(error)[0]
        known = sorted(error.schema.get("properties", {}))
        close = difflib.get_close_matches(key, known, n=1)
        reason = f"unknown key (did you mean '{close[0]}'?)" if close else f"unknown key (known: {', '.join(known)})"
        path.append(key)
    elif error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        reason = "required key is missing"
        path.append(missing[0])
    elif error.validator in ("oneOf", "anyOf") and all(list(branch) == ["required"] and len(branch["required"]) == 1
                                                       for branch in error.validator_value):
        options = ", ".join(branch["required"][0] for branch in error.validator_value)
        reason = f"needs {'exactly' if error.validator == 'oneOf' else 'at least'} one of the keys {options}"
    else:
        reason = error.message.replace(repr(error.instance), _SHORT.repr(error.instance), 1)
    return f"config key '{'.'.join(path) or '<top level>'}': {reason}"


def check(instance: Any, schema: dict[str, Any], where: str) -> None:
    """Raise a ConfigError naming the key under ``where`` that breaks ``schema``."""
    validator = jsonschema.Draft202012Validator({**schema, "$defs": load_schema()["$defs"]})
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise ConfigError(describe(error, where))


_PROPERTIES = jsonschema.Draft202012Validator.VALIDATORS["properties"]


def _fill_then_check(validator: Any, properties: dict[str, Any], instance: Any,
                     schema: dict[str, Any]) -> Iterator[jsonschema.ValidationError]:
    # Defaults are copied: the cached schema's own objects must never become parts of a config.
    if validator.is_type(instance, "object"):
        for key, prop in properties.items():
            if "default" in prop:
                instance.setdefault(key, copy.deepcopy(prop["default"]))
    yield from _PROPERTIES(validator, properties, instance, schema)


# The validator snakemake.utils.validate uses (jsonschema's recipe): `properties` fills defaults before checking.
_FillingValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": _fill_then_check})


def validate_config(config: dict[str, Any]) -> None:
    """Fill the schema's defaults into ``config`` in place and check it; a ConfigError names the offending
    key, why, and for a typo the key meant. (snakemake.utils.validate fills the same defaults but reports
    an error with the whole schema and no key path.)"""
    _seeds_from_command_line(config)
    error = jsonschema.exceptions.best_match(_FillingValidator(load_schema()).iter_errors(config))
    if error is not None:
        raise ConfigError(describe(error, ""))


def _seeds_from_command_line(config: dict[str, Any]) -> None:
    """``--config seeds=[3,4]`` hands Snakemake's config strings ('3', '4') and ``seeds=3`` a bare integer:
    both become the list of integers the schema asks for (anything else is left for the schema to name)."""
    seeds = config.get("seeds")
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        config["seeds"] = [seeds]
    elif isinstance(seeds, list):
        config["seeds"] = [int(s) if isinstance(s, str) and re.fullmatch(r"-?\d+", s.strip()) else s for s in seeds]


def check_finite(value: Any, where: str = "") -> None:
    """Raise a ConfigError naming the first key anywhere under ``value`` that holds inf or NaN (YAML's
    ``.inf``, ``.nan``): JSON Schema's number bounds let them through, and training would run on them."""
    todo = [(where, value)]
    while todo:  # a walk, not recursion: the error's traceback stays a line long
        path, item = todo.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ConfigError(f"config key '{path}': {item} is not a finite number")
        items = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        todo.extend((f"{path}.{key}" if path else str(key), inner) for key, inner in reversed(list(items)))


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
OWN_TRAINING_KEYS = ("precision", "keep_checkpoints", "max_overlong_fraction", "evaluate_checkpoints")


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
