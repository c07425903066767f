"""Merge a trained variant's update into its starting weights (rule merge)."""

import logging

import torch

from taxfree.config.paths import marked_model
from taxfree.core.io import mark_complete, redirect_output
from taxfree.core.lifetime import die_with_parent
from taxfree.core.provenance import spec_hash
from taxfree.training.methods.merge.weights import merge_model

die_with_parent()
with redirect_output(snakemake.log[0]):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    torch.set_num_threads(snakemake.threads)
    out = marked_model(snakemake.output[0])
    merge_model(marked_model(snakemake.input.reference), marked_model(snakemake.input.tuned), out,
                snakemake.params.spec, load=snakemake.params.load)
    mark_complete(out, spec_hash(snakemake.params.spec))
