"""``python -m taxfree.training``: train one variant from its resolved spec (the align rule's command,
also under ``accelerate launch``)."""

from __future__ import annotations

import argparse
import json
import logging

import torch

from taxfree.core.gpus import pin_and_log_gpus
from taxfree.core.lifetime import die_with_parent
from taxfree.training.trainer import train


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m taxfree.training", description=__doc__)
    top.add_argument("--base", required=True, help="model directory or hub id to start from")
    top.add_argument("--data", required=True, help="prepared prompt/completion JSONL (preference pairs for method dpo)")
    top.add_argument("--spec", required=True, help="resolved variant spec as JSON")
    top.add_argument("--out", required=True, help="where the model or adapter is written")
    top.add_argument("--checkpoint-dir", required=True, help="checkpoints; a rerun resumes from the last")
    top.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    top.add_argument("--load", default="{}", help="load_model options as JSON: dtype, attn_implementation, "
                     "trust_remote_code (the model's config block)")
    top.add_argument("--epochs-dir", default=None, help="also write every epoch's model to EPOCHS_DIR/{epoch}/model "
                     "(variants with training.evaluate_checkpoints)")
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    # Every process, each rank of an `accelerate launch` too: none may outlive the job that started it.
    die_with_parent()
    pin_and_log_gpus()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    train(args.base, args.data, json.loads(args.spec), args.out, args.checkpoint_dir, json.loads(args.load),
          args.epochs_dir)


if __name__ == "__main__":
    main()
