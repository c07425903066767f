"""TRL trainer arguments from a resolved ``training`` block: its keys are TRL's own and pass through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from taxfree.config.schema import OWN_TRAINING_KEYS


def resolve_precision(precision: str) -> str:
    """``auto`` means bf16 where the hardware runs it natively (CUDA with bf16, AVX-512 CPUs), else fp32."""
    if precision != "auto":
        return precision
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else "fp32"


def training_arguments(config_class: type, training: dict[str, Any], output_dir: str | Path, **extra: Any) -> Any:
    """A TRL config (SFTConfig, DPOConfig): the block's TRL keys as they are, precision and the CPU set explicitly."""
    precision = resolve_precision(training["precision"])
    passed = {key: value for key, value in training.items() if key not in OWN_TRAINING_KEYS}
    return config_class(
        output_dir=str(output_dir),
        data_seed=training["seed"],
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not torch.cuda.is_available(),
        report_to=[],
        **passed,
        **extra,
    )
