"""Method `merge`: a trained variant's update merged into its starting weights; nothing is trained.

``W = W0 + alpha dW'``, with ``dW' = dW`` (plain) or dW projected off W0's top-k singular
subspace (projected, one- or two-sided). The implementation is in ``weights``.
"""

from __future__ import annotations

from typing import Any

from taxfree.config.paths import svd_cache
from taxfree.config.schema import resolve_block, schema_defaults
from taxfree.core.errors import ConfigError
from taxfree.training.methods.base import Method


class Merge(Method):
    name = "merge"
    description = "a merge of the `from` variant's update"
    data = None
    trains = False
    blocks = ("merge",)
    parent_methods = ("full", "lora")  # an update to merge

    def resolve(self, config: dict[str, Any], variant: dict[str, Any], name: str) -> dict[str, Any]:
        if "from" not in variant:
            raise ConfigError(f"config key 'variants.{name}.from': a merge variant names the variant it merges")
        for key in ("dataset", "training"):
            if key in variant:
                raise ConfigError(f"config key 'variants.{name}.{key}': a merge variant trains nothing")
        spec = resolve_block(variant.get("merge", {}), "merge", f"variants.{name}.merge")
        # The projection uses the analysis's accurate SVD settings, so a projected merge measures ~0 overlap.
        geometry = {**schema_defaults("geometry"), **config.get("geometry", {})}
        return {"method": "merge", "from": variant["from"],
                "merge": {**spec, "svd_cache": svd_cache(config), "niter": geometry["niter"],
                          "oversample": geometry["oversample"]}}

    def weights(self, spec: dict[str, Any]) -> str:
        return "full"


METHODS = (Merge(),)


def alpha_sweeps(specs: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Merge variants grouped by what they merge and how, as {label: {variant: alpha}}. A plain sweep
    also has its `from` at alpha 1 and, when that trained from the base model, the `none` variants at 0.
    """
    untrained = [name for name, spec in specs.items() if spec["method"] == "none"]
    sweeps: dict[str, dict[str, float]] = {}
    for name, spec in specs.items():
        if spec["method"] != Merge.name:
            continue
        merge = spec["merge"]
        label = spec["from"]
        if merge["kind"] == "projected":
            label += f" projected k={merge['k']} {merge['sides']}-sided"
        sweeps.setdefault(label, {})[name] = merge["alpha"]
        if merge["kind"] == "plain":
            sweeps[label][spec["from"]] = 1.0
            if "from" not in specs[spec["from"]]:
                sweeps[label].update(dict.fromkeys(untrained, 0.0))
    return sweeps
