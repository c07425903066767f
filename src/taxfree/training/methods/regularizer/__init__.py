"""Extension `regularizer`: LoRA training whose loss penalises the update's overlap with W0's top-k
singular subspace (LoRA-safety paper, authors' code). The trainer is in ``trainer``."""

from __future__ import annotations

from typing import Any

from taxfree.config.paths import svd_cache
from taxfree.core.errors import ConfigError
from taxfree.core.models import LINEAR_GROUPS
from taxfree.training.methods.base import Extension


class Regularizer(Extension):
    name = "regularizer"
    description = "the overlap regularizer"
    combines_with = ("lora",)

    def resolve(self, config: dict[str, Any], block: dict[str, Any], spec: dict[str, Any],
                name: str) -> dict[str, Any]:
        """Defaults filled; every penalised module must be adapted by the variant's LoRA."""
        resolved = super().resolve(config, block, spec, name)
        lora = spec["lora"]
        adapted = {module for item in lora["target_modules"] for module in LINEAR_GROUPS.get(item, (item,))}
        missing = [module for module in resolved["target_modules"] if module not in adapted]
        if missing:
            raise ConfigError(f"config key 'variants.{name}.regularizer.target_modules': {', '.join(missing)} not "
                              f"adapted by the variant's LoRA (lora.target_modules: {', '.join(lora['target_modules'])})")
        return {**resolved, "svd_cache": svd_cache(config)}

    def trainer(self, spec: dict[str, Any], model: Any, tokenizer: Any) -> tuple[type, dict[str, Any]]:
        # TRL and torch load only when a job trains: config resolution imports this module.
        from taxfree.training.methods.regularizer.trainer import OverlapSFTTrainer

        return OverlapSFTTrainer, {"regularizer": spec["regularizer"]}


METHODS = (Regularizer(),)
