"""A training job killed with SIGKILL resumes from its last checkpoint and ends where an uninterrupted run ends."""

import json
import os
import signal
import subprocess
import sys
import time

from taxfree.config.schema import training_defaults
from taxfree.core.io import write_jsonl
from taxfree.core.provenance import spec_hash
from taxfree.data.toyworld import save_initial_model

TRAIN = """
import json, logging, sys, torch
from taxfree.training.trainer import train
logging.basicConfig(level=logging.INFO)
torch.set_num_threads(1)
base, data, spec, out, ckpt = sys.argv[1:6]
train(base, data, json.loads(spec), out, ckpt)
"""


def spec():
    defaults = training_defaults()
    training = {**defaults, "learning_rate": 1e-3, "num_train_epochs": 3, "per_device_train_batch_size": 2,
                "max_length": 128, "precision": "fp32", "seed": 0, "logging_steps": 1,
                "save_strategy": "steps", "save_steps": 5, "keep_checkpoints": True}
    return {"method": "full", "training": training}


def start(tmp_path, name, base, data):
    args = [sys.executable, "-c", TRAIN, str(base), str(data), json.dumps(spec()),
            str(tmp_path / name / "model"), str(tmp_path / name / "checkpoints")]
    log = open(tmp_path / f"{name}.log", "a")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


def saved(trainer_state):
    """Whether the trainer finished writing this checkpoint (a save cut short is tested on its own below)."""
    try:
        return bool(json.loads(trainer_state.read_text()))
    except ValueError:
        return False


def last_loss(model_dir):
    history = json.loads((model_dir / "train_metrics.json").read_text())["log_history"]
    return [entry["loss"] for entry in history if "loss" in entry][-1]


def test_sigkill_then_rerun_resumes_with_same_final_loss(tmp_path, toy_splits):
    base, data = tmp_path / "base", tmp_path / "data.jsonl"
    save_initial_model(base, toy_splits, hidden_size=64, num_layers=2, intermediate_size=128, num_heads=2, seed=0)
    write_jsonl(data, toy_splits["refusal"])

    assert start(tmp_path, "straight", base, data).wait() == 0

    proc = start(tmp_path, "killed", base, data)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.monotonic() + 300
    while not any(saved(state) for state in checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint before the job ended"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "model").exists()
    # As if an earlier save had been killed half-way: its leftovers must not reach the model.
    (tmp_path / "killed" / "model.partial").mkdir()
    (tmp_path / "killed" / "model.partial" / "stale.bin").write_text("x")

    rerun = start(tmp_path, "killed", base, data).wait()
    log = (tmp_path / "killed.log").read_text()
    assert rerun == 0, log[-4000:]
    assert not (tmp_path / "killed" / "model" / "stale.bin").exists()
    assert f"resumed from {checkpoints}/checkpoint-" in log
    straight, resumed = last_loss(tmp_path / "straight" / "model"), last_loss(tmp_path / "killed" / "model")
    assert abs(straight - resumed) < 1e-3 * max(1.0, abs(straight))
    # Written last, with the spec's hash: what the workflow's rules take as the model.
    assert (tmp_path / "killed" / "model" / "COMPLETE").read_text() == spec_hash(spec()) + "\n"


def test_checkpoints_of_another_spec_are_not_resumed(tmp_path):
    from transformers.trainer_utils import get_last_checkpoint

    from taxfree.training.trainer import discard_stale_checkpoints

    ckpt = tmp_path / "checkpoints"
    discard_stale_checkpoints(ckpt, "a")
    assert get_last_checkpoint(str(ckpt)) is None
    (ckpt / "checkpoint-5").mkdir()
    discard_stale_checkpoints(ckpt, "a")
    assert get_last_checkpoint(str(ckpt)) == str(ckpt / "checkpoint-5")
    discard_stale_checkpoints(ckpt, "b")
    assert get_last_checkpoint(str(ckpt)) is None
    assert not (ckpt / "checkpoint-5").exists()


def test_a_base_rebuilt_with_other_weights_of_the_same_sizes_is_not_resumed_from(tmp_path, toy_splits):
    from taxfree.training.trainer import _fingerprint

    base, data = tmp_path / "base", tmp_path / "data.jsonl"
    write_jsonl(data, toy_splits["refusal"])
    save_initial_model(base, toy_splits, hidden_size=64, num_layers=2, intermediate_size=128, num_heads=2, seed=0)
    first = _fingerprint(spec()["training"], base, data)
    assert _fingerprint(spec()["training"], base, data) == first
    sizes = {p.name: p.stat().st_size for p in base.iterdir()}
    save_initial_model(base, toy_splits, hidden_size=64, num_layers=2, intermediate_size=128, num_heads=2, seed=1)
    assert {p.name: p.stat().st_size for p in base.iterdir()} == sizes  # same names, same sizes, other weights
    assert _fingerprint(spec()["training"], base, data) != first


def test_a_checkpoint_killed_mid_save_is_discarded(tmp_path):
    from transformers.trainer_utils import get_last_checkpoint

    from taxfree.training.trainer import discard_unfinished_checkpoints

    for step, state in [(5, '{"global_step": 5}'), (10, ""), (15, '{"global_st')]:
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-20").mkdir()  # killed before the state was written at all
    discard_unfinished_checkpoints(tmp_path)
    assert get_last_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-5"]
