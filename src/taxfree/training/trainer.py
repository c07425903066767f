"""Training a variant with the trainer its method builds: one path for every method, owning resume,
checkpoint fingerprints and saving."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from accelerate import PartialState
from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint

from taxfree.core.io import mark_complete, replace_path
from taxfree.core.models import is_adapter, set_adapter_base
from taxfree.core.provenance import environment, spec_hash
from taxfree.training.methods import method_of

log = logging.getLogger(__name__)


def _fingerprint(spec: dict[str, Any], base: str | Path, data: str | Path) -> str:
    """What a checkpoint was trained from: the spec, and the bytes of the data and of every file of the
    base model (a hub id as itself). Contents, not names and sizes: a base rebuilt with other weights of
    the same shapes has files of the very same sizes. sha256 streams at about 1-2 GB/s, seconds per
    billion parameters, once per job."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    _update(digest, Path(data))
    base = Path(base)
    if base.is_dir():
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            digest.update(f"\0{path.relative_to(base)}\0".encode())
            _update(digest, path)
    else:
        digest.update(f"hub:{base}".encode())
    return digest.hexdigest()


def _update(digest: Any, path: Path) -> None:
    """Feed a file's bytes to ``digest`` in chunks, so a multi-GB safetensors shard never sits in memory."""
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)


def discard_stale_checkpoints(checkpoint_dir: Path, fingerprint: str) -> None:
    """Keep only checkpoints that an interrupted run of this same job left.

    Checkpoints of anything else (another spec, other data or base model) are discarded,
    so a changed parameter never resumes from stale weights.
    """
    stamp = checkpoint_dir / "fingerprint"
    if checkpoint_dir.is_dir() and (not stamp.is_file() or stamp.read_text() != fingerprint):
        log.info("discarding checkpoints of a different job in %s", checkpoint_dir)
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)


def discard_unfinished_checkpoints(checkpoint_dir: Path) -> None:
    """Remove checkpoints whose save did not finish. The trainer writes ``trainer_state.json`` last, so
    a job killed mid-save leaves it missing, empty or cut short; resuming from such a checkpoint
    crashes, or loads weights without their optimizer state."""
    for checkpoint in checkpoint_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        try:
            json.loads((checkpoint / "trainer_state.json").read_text())
        except (OSError, ValueError):
            log.info("discarding %s: its save did not finish", checkpoint)
            shutil.rmtree(checkpoint)


def export_model(trainer: Any, out_dir: Path, base: str | Path, spec: dict[str, Any], extra: dict[str, str]) -> None:
    """Save the trainer's model (adapter) with its tokenizer, spec and provenance to ``out_dir``, whole or
    not at all. Every process calls it (the trainer gathers sharded weights); the main one writes."""
    state = PartialState()
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
        trainer.processing_class.save_pretrained(staging)
        for name, text in extra.items():
            (staging / name).write_text(text)
        (staging / "variant_spec.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
        provenance = {**environment(), "spec_hash": spec_hash(spec), "seed": spec["training"]["seed"]}
        (staging / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
        replace_path(staging, out_dir)
        mark_complete(out_dir, spec_hash(spec))
    state.wait_for_everyone()


class EpochExport(TrainerCallback):
    """Exports the model at the end of every epoch to ``{exports}/{epoch}/model`` through the same save path
    as the final model. The exports sit beside the checkpoints, so a resumed run keeps the epochs it had."""

    def __init__(self, trainer: Any, exports: Path, base: str | Path, spec: dict[str, Any]) -> None:
        self.trainer, self.exports, self.base, self.spec = trainer, exports, base, spec

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        epoch = round(state.epoch)
        export_model(self.trainer, self.exports / str(epoch) / "model", self.base, self.spec, {})
        log.info("exported epoch %d to %s", epoch, self.exports / str(epoch))


def train(base: str | Path, data: str | Path, spec: dict[str, Any], out_dir: str | Path,
          checkpoint_dir: str | Path, load: dict[str, Any] | None = None,
          epochs_dir: str | Path | None = None) -> dict[str, Any]:
    """Train as the spec's method says; write the model (or adapter) to ``out_dir``.

    Checkpoints go to ``checkpoint_dir``; a rerun after a crash or preemption resumes from
    the last one. The same code runs in one process or in every process of an
    ``accelerate launch`` (DDP, DeepSpeed ZeRO-3, FSDP): the main process alone touches
    files, and saving goes through the trainer, which gathers sharded weights first.
    ``load`` holds load_model's options from the model's config block (dtype, attention, remote
    code); the model is saved in the dtype it was loaded in. With ``epochs_dir`` (variants with
    ``training.evaluate_checkpoints``) every epoch's model is also written to ``{epochs_dir}/{epoch}/model``.
    Returns the final training metrics, also saved as ``train_metrics.json``.
    """
    state = PartialState()
    checkpoint_dir, out_dir = Path(checkpoint_dir), Path(out_dir)
    if state.is_main_process:
        discard_stale_checkpoints(checkpoint_dir, _fingerprint(spec, base, data))
        discard_unfinished_checkpoints(checkpoint_dir)
    state.wait_for_everyone()
    resume = get_last_checkpoint(str(checkpoint_dir))
    trainer = method_of(spec).build_trainer(str(base), str(data), spec, str(checkpoint_dir), load or {})
    exports = checkpoint_dir / "epochs"
    if epochs_dir is not None:
        trainer.add_callback(EpochExport(trainer, exports, base, spec))
    if resume:
        log.info("resumed from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    metrics = {**result.metrics, "log_history": trainer.state.log_history}
    export_model(trainer, out_dir, base, spec, {"train_metrics.json": json.dumps(metrics, indent=2) + "\n"})
    if state.is_main_process:
        if epochs_dir is not None:
            shutil.rmtree(epochs_dir, ignore_errors=True)
            shutil.move(exports, epochs_dir)
        if not spec["training"]["keep_checkpoints"]:
            shutil.rmtree(checkpoint_dir)
        log.info("saved %s model to %s (train loss %.4f)", spec["method"], out_dir, result.training_loss)
    state.wait_for_everyone()
    return metrics
