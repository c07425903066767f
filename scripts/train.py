"""Fine-tune a model as its resolved spec says (rules pretrain_toy and align)."""

import logging

import torch

from taxfree.io import redirect_output
from taxfree.train import train_sft

with redirect_output(snakemake.log[0]):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    torch.set_num_threads(snakemake.threads)
    train_sft(
        base=snakemake.input[0],
        data=snakemake.input.data,
        spec=snakemake.params.spec,
        out_dir=snakemake.output[0],
        checkpoint_dir=snakemake.params.checkpoint_dir,
        trust_remote_code=snakemake.params.get("trust_remote_code", False),
    )
