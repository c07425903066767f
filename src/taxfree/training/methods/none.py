"""Method `none`: the starting model as it is, the unaligned reference point."""

from __future__ import annotations

from typing import Any

from taxfree.training.methods.base import Method


class NoTraining(Method):
    name = "none"
    description = "the model as it is (no alignment)"
    data = None
    trains = False

    def resolve(self, config: dict[str, Any], variant: dict[str, Any], name: str) -> dict[str, Any]:
        return {"method": "none"}

    def weights(self, spec: dict[str, Any]) -> str:
        return "full"


METHODS = (NoTraining(),)
