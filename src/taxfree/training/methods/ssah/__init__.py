"""Extension `ssah`: SSAH unit freezing during full fine-tuning (Li & Kim). Unit scoring, typing,
pruning and the trainer are in ``units``."""

from __future__ import annotations

from typing import Any

from taxfree.config.paths import Paths
from taxfree.core.errors import ConfigError
from taxfree.training.methods.base import Extension


class UnitFreezing(Extension):
    name = "ssah"
    description = "SSAH unit freezing"
    combines_with = ("full",)

    def resolve(self, config: dict[str, Any], block: dict[str, Any], spec: dict[str, Any],
                name: str) -> dict[str, Any]:
        """Defaults filled, calibration data sets resolved to the prepared files training reads."""
        pruning_benchmark(config)
        ssah = super().resolve(config, block, spec, name)
        for key in ("safety_data", "utility_data"):
            if ssah[key] not in config.get("datasets", {}):
                raise ConfigError(f"config key 'variants.{name}.ssah.{key}': unknown data set '{ssah[key]}'")
            ssah[key.replace("_data", "_path")] = Paths.of(config).dataset(ssah[key])
        return ssah

    def inputs(self, spec: dict[str, Any]) -> list[str]:
        return [spec["ssah"]["safety_path"], spec["ssah"]["utility_path"]]

    def trainer(self, spec: dict[str, Any], model: Any, tokenizer: Any) -> tuple[type, dict[str, Any]]:
        # TRL and torch load only when a job trains: config resolution imports this module.
        from taxfree.training.methods.ssah.units import FrozenUnitsTrainer, freeze_masks

        masks = freeze_masks(model, tokenizer, spec["ssah"], spec["training"]["max_length"])
        return FrozenUnitsTrainer, {"masks": masks, "freeze_other": spec["ssah"]["freeze_other"]}


def pruning_benchmark(config: dict[str, Any]) -> str:
    """The first judged safety benchmark: where pruning SSAH's safety-critical units is measured."""
    judged = [name for name, b in config["benchmarks"].items() if b["category"] == "safety" and "judge" in b]
    if not judged:
        raise ConfigError("config key 'benchmarks': variants with `ssah` need a benchmark of category safety with "
                          "a judge, to validate pruning on")
    return judged[0]


METHODS = (UnitFreezing(),)
