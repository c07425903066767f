"""The method registry: every way a variant is made, one module (or package) each.

Adding a method is one module here plus its block in the config schema
(``tests/test_methods.py`` adds one). Modules are imported by name rather than at the top of this file so that a
variant's code fingerprint (``taxfree.core.provenance.code_hash``) covers only the
methods it uses: editing SAP reruns the SAP variants, not every variant.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Any

from taxfree.core.errors import ConfigError
from taxfree.training.methods.base import Extension, Method

# Every module (or package) of this package but ``base`` is a method: adding a file adds a method.
MODULES = [f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__) if info.name != "base"]


@functools.cache
def _registry() -> tuple[dict[str, Method], dict[str, Extension]]:
    methods: dict[str, Method] = {}
    extensions: dict[str, Extension] = {}
    for name in MODULES:
        for item in importlib.import_module(name).METHODS:
            (extensions if isinstance(item, Extension) else methods)[item.name] = item
    return methods, extensions


def base_methods() -> dict[str, Method]:
    """Base methods by their ``method:`` name."""
    return _registry()[0]


def extensions() -> dict[str, Extension]:
    """Extensions by their block name."""
    return _registry()[1]


def method_of(spec: dict[str, Any]) -> Method:
    return base_methods()[spec["method"]]


def extension_of(spec: dict[str, Any]) -> Extension | None:
    """The spec's extension, if it has one (at most one: each supplies the trainer class)."""
    found = [ext for name, ext in extensions().items() if name in spec]
    return found[0] if found else None


def modules_of(spec: dict[str, Any]) -> list[str]:
    """The modules that implement a resolved spec's methods, for its code fingerprint."""
    used: list[Any] = [method_of(spec)]
    if (ext := extension_of(spec)) is not None:
        used.append(ext)
    return [type(item).__module__ for item in used]


def resolve_methods(config: dict[str, Any], variant: dict[str, Any], name: str) -> dict[str, Any]:
    """A variant's spec: its base method's settings, then its extension's block."""
    method = variant.get("method")
    if method not in base_methods():
        raise ConfigError(f"config key 'variants.{name}.method': must be one of {', '.join(base_methods())}")
    for block in variant.keys() - set(base_methods()[method].blocks):
        owners = [m.name for m in base_methods().values() if block in m.blocks]
        if owners:
            raise ConfigError(f"config key 'variants.{name}.{block}': only `{'` or `'.join(owners)}` variants take it")
    spec = base_methods()[method].resolve(config, variant, name)
    present = [ext for ext in extensions() if ext in variant]
    if len(present) > 1:
        raise ConfigError(f"config key 'variants.{name}.{present[1]}': a variant takes at most one of "
                          f"{', '.join(extensions())} (each changes the trainer); this one has {', '.join(present)}")
    for ext_name in present:
        extension = extensions()[ext_name]
        extension.check_base(spec, name)
        spec[ext_name] = extension.resolve(config, variant[ext_name], spec, name)
    return spec
