"""Merge a trained variant's update into its starting weights (rule merge)."""

import logging

import torch

from taxfree.core.io import redirect_output
from taxfree.training.methods.merge.weights import merge_model

with redirect_output(snakemake.log[0]):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    torch.set_num_threads(snakemake.threads)
    merge_model(snakemake.input.reference, snakemake.input.tuned, snakemake.output[0], snakemake.params.spec,
                load=snakemake.params.load)
