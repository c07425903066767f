"""Importer for the LoRA-safety authors' mode strings (``lora_up_proj_only_from16_to31_r1``).

A config writes variants one way, as ``method:`` and ``lora:`` blocks; this turns the
authors' names into those blocks (``taxfree variant-from-mode``).
"""

from __future__ import annotations

import re
from typing import Any

from taxfree.core.errors import ConfigError

_MODE = re.compile(r"lora_(?P<modules>qkvo_mlp|mlp|(?:up|down|gate)_proj_only)(?:_from(?P<lo>\d+)_to(?P<hi>\d+))?"
                   r"_r(?P<rank>\d+)")
_MODE_MODULES = {"qkvo_mlp": ["all"], "mlp": ["mlp"]}


def parse_mode(mode: str, where: str) -> dict[str, Any]:
    """The variant block a mode string stands for, e.g. lora_up_proj_only_from16_to31_r1."""
    if mode == "full":
        return {"method": "full"}
    match = _MODE.fullmatch(mode)
    if match is None:
        raise ConfigError(f"config key '{where}': cannot parse mode '{mode}' (forms: full, lora_qkvo_mlp_r8, "
                          "lora_mlp_r8, lora_up_proj_only_r1, lora_up_proj_only_from16_to31_r1)")
    modules = match["modules"]
    lora: dict[str, Any] = {"rank": int(match["rank"]),
                            "target_modules": _MODE_MODULES.get(modules, [modules.removesuffix("_only")])}
    if match["lo"] is not None:
        lora["layers"] = {"from": int(match["lo"]), "to": int(match["hi"])}
    return {"method": "lora", "lora": lora}
