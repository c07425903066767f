"""Training through TRL from a resolved variant spec: SFT (full or LoRA) and DPO, sharing checkpoints and saving."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers.trainer_utils import get_last_checkpoint

from taxfree.data import load_sft_dataset
from taxfree.models import (expand_target_modules, is_adapter, load_model, load_tokenizer, resolve_layers,
                             set_adapter_base)
from taxfree.preferences import load_preference_dataset
from taxfree.provenance import environment, spec_hash

log = logging.getLogger(__name__)


def resolve_precision(precision: str) -> str:
    """``auto`` means bf16 where the hardware runs it natively (CUDA with bf16, AVX-512 CPUs), else fp32."""
    import torch

    if precision != "auto":
        return precision
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else "fp32"


def trainer_args(config_class: type, training: dict[str, Any], output_dir: str | Path, **extra: Any) -> Any:
    """A TRL config (SFTConfig, DPOConfig) from our training block; CPU-relevant defaults are set explicitly."""
    import torch

    precision = resolve_precision(training["precision"])
    return config_class(
        output_dir=str(output_dir),
        learning_rate=training["learning_rate"],
        lr_scheduler_type=training["lr_scheduler_type"],
        warmup_steps=training["warmup_steps"],
        weight_decay=training["weight_decay"],
        num_train_epochs=training["num_train_epochs"],
        per_device_train_batch_size=training["per_device_train_batch_size"],
        gradient_accumulation_steps=training["gradient_accumulation_steps"],
        max_length=training["max_length"],
        seed=training["seed"],
        data_seed=training["seed"],
        logging_steps=training["logging_steps"],
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        activation_checkpointing=False,
        use_cpu=not torch.cuda.is_available(),
        save_strategy=training["save_strategy"],
        save_steps=training["save_steps"],
        save_total_limit=training["save_total_limit"],
        report_to=[],
        **extra,
    )


def sft_config(training: dict[str, Any], output_dir: str | Path) -> Any:
    from trl import SFTConfig

    return trainer_args(SFTConfig, training, output_dir, completion_only_loss=True)


def dpo_config(training: dict[str, Any], dpo: dict[str, Any], output_dir: str | Path) -> Any:
    from trl import DPOConfig

    losses = {dpo["loss_type"]: 1.0, **({"sft": dpo["sft_weight"]} if dpo["sft_weight"] else {})}
    return trainer_args(DPOConfig, training, output_dir, beta=dpo["beta"], loss_type=list(losses),
                        loss_weights=list(losses.values()), precompute_ref_log_probs=dpo["reference"] == "precomputed")


def lora_config(model: Any, lora: dict[str, Any]) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=lora["rank"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"], bias=lora["bias"],
        target_modules=expand_target_modules(model, lora["target_modules"]),
        layers_to_transform=resolve_layers(model, lora["layers"]), task_type="CAUSAL_LM",
    )


def _fingerprint(spec: dict[str, Any], base: str | Path, data: str | Path) -> str:
    """What a checkpoint was trained from: the spec, the data's bytes and the base model's files."""
    import hashlib

    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    digest.update(Path(data).read_bytes())
    for path in sorted(Path(base).glob("*")) if Path(base).is_dir() else []:
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
    return digest.hexdigest()


def discard_stale_checkpoints(checkpoint_dir: Path, fingerprint: str) -> None:
    """Keep only checkpoints that an interrupted run of this same job left.

    Checkpoints of anything else (another spec, other data or base model) are discarded,
    so a changed parameter never resumes from stale weights.
    """
    import shutil

    stamp = checkpoint_dir / "fingerprint"
    if checkpoint_dir.is_dir() and (not stamp.is_file() or stamp.read_text() != fingerprint):
        log.info("discarding checkpoints of a different job in %s", checkpoint_dir)
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)


def trainer_for(spec: dict[str, Any], model: Any, tokenizer: Any) -> tuple[type, dict[str, Any]]:
    """TRL's SFTTrainer, or the subclass a variant's extension needs (`regularizer`, `ssah`, `sap`), with its
    arguments."""
    if "regularizer" in spec:
        from taxfree.regularizers import OverlapSFTTrainer

        return OverlapSFTTrainer, {"regularizer": spec["regularizer"]}
    if "ssah" in spec:
        from taxfree.ssah import FrozenUnitsTrainer, freeze_masks

        masks = freeze_masks(model, tokenizer, spec["ssah"], spec["training"]["max_length"])
        return FrozenUnitsTrainer, {"masks": masks, "freeze_other": spec["ssah"]["freeze_other"]}
    if "sap" in spec:
        from taxfree.sap import SAPTrainer

        return SAPTrainer, {"sap": spec["sap"]}
    from trl import SFTTrainer

    return SFTTrainer, {}


def _sft_trainer(base: str | Path, data: str | Path, spec: dict[str, Any], checkpoint_dir: Path,
                 trust_remote_code: bool) -> Any:
    tokenizer = load_tokenizer(base, trust_remote_code)
    model = load_model(base, trust_remote_code, dtype="float32")
    peft = lora_config(model, spec["lora"]) if spec["method"] == "lora" else None
    trainer_class, extra = trainer_for(spec, model, tokenizer)
    return trainer_class(model=model, args=sft_config(spec["training"], checkpoint_dir),
                         train_dataset=load_sft_dataset(data, tokenizer), processing_class=tokenizer,
                         peft_config=peft, **extra)


def _dpo_trainer(base: str | Path, data: str | Path, spec: dict[str, Any], checkpoint_dir: Path,
                 trust_remote_code: bool) -> Any:
    from trl import DPOTrainer

    dpo = spec["dpo"]
    tokenizer = load_tokenizer(base, trust_remote_code)
    model = load_model(base, trust_remote_code, dtype="float32")
    peft = lora_config(model, spec["lora"]) if dpo["parameters"] == "lora" else None
    # The reference is the starting model. TRL would reload it from the config's name, which for a
    # merged adapter is the adapter's base, not the start: so a full-parameter run gets its own copy.
    # With LoRA the reference is the model with the adapter switched off; precomputed log-probs
    # need no copy at all.
    keep_copy = peft is None and dpo["reference"] == "model"
    ref = load_model(base, trust_remote_code, dtype="float32") if keep_copy else None
    return DPOTrainer(model=model, ref_model=ref, args=dpo_config(spec["training"], dpo, checkpoint_dir),
                      train_dataset=load_preference_dataset(data, tokenizer), processing_class=tokenizer,
                      peft_config=peft)


def _train(build: Callable[..., Any], base: str | Path, data: str | Path, spec: dict[str, Any],
           out_dir: str | Path, checkpoint_dir: str | Path, trust_remote_code: bool) -> dict[str, Any]:
    """Train with the trainer ``build`` makes; write the model (or adapter) to ``out_dir``.

    Checkpoints go to ``checkpoint_dir``; a rerun after a crash or preemption resumes from
    the last one. The same code runs in one process or in every process of an
    ``accelerate launch`` (DDP, DeepSpeed ZeRO-3, FSDP): the main process alone touches
    files, and saving goes through the trainer, which gathers sharded weights first.
    Returns the final training metrics, also saved as ``train_metrics.json``.
    """
    import shutil

    from accelerate import PartialState

    state = PartialState()
    checkpoint_dir, out_dir = Path(checkpoint_dir), Path(out_dir)
    if state.is_main_process:
        discard_stale_checkpoints(checkpoint_dir, _fingerprint(spec, base, data))
    state.wait_for_everyone()
    resume = get_last_checkpoint(str(checkpoint_dir))
    trainer = build(base, data, spec, checkpoint_dir, trust_remote_code)
    tokenizer = trainer.processing_class
    if resume:
        log.info("resumed from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {**result.metrics, "log_history": trainer.state.log_history}
    # A fixed staging name, since every process must save into the same directory; what a
    # killed earlier save left there must not mix into this one.
    staging = out_dir.with_name(out_dir.name + ".partial")
    if state.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
    state.wait_for_everyone()
    trainer.save_model(str(staging))
    if state.is_main_process:
        if is_adapter(staging):
            set_adapter_base(staging, base)
        tokenizer.save_pretrained(staging)
        (staging / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (staging / "variant_spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        provenance = {**environment(), "spec_hash": spec_hash(spec), "seed": spec["training"]["seed"]}
        (staging / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        staging.rename(out_dir)
        if not spec["training"]["keep_checkpoints"]:
            shutil.rmtree(checkpoint_dir)
        log.info("saved %s model to %s (train loss %.4f)", spec["method"], out_dir, result.training_loss)
    state.wait_for_everyone()
    return metrics


def train_sft(base: str | Path, data: str | Path, spec: dict[str, Any], out_dir: str | Path,
              checkpoint_dir: str | Path, trust_remote_code: bool = False) -> dict[str, Any]:
    """Supervised fine-tuning (method ``full`` or ``lora``) of ``base`` on prompt/completion ``data``."""
    return _train(_sft_trainer, base, data, spec, out_dir, checkpoint_dir, trust_remote_code)


def train_dpo(base: str | Path, data: str | Path, spec: dict[str, Any], out_dir: str | Path,
              checkpoint_dir: str | Path, trust_remote_code: bool = False) -> dict[str, Any]:
    """DPO (method ``dpo``, SaRO's SRPO stage) of ``base`` on prompt/chosen/rejected ``data``."""
    return _train(_dpo_trainer, base, data, spec, out_dir, checkpoint_dir, trust_remote_code)


def train(base: str | Path, data: str | Path, spec: dict[str, Any], out_dir: str | Path,
          checkpoint_dir: str | Path, trust_remote_code: bool = False) -> dict[str, Any]:
    """Train as the spec's method says."""
    run = train_dpo if spec["method"] == "dpo" else train_sft
    return run(base, data, spec, out_dir, checkpoint_dir, trust_remote_code)
