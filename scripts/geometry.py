"""Stable rank, norms and subspace overlap of one variant's update (rule geometry)."""

import logging

import torch

from taxfree.analysis.geometry import analyse
from taxfree.config.paths import marked_model
from taxfree.core.io import atomic_path, redirect_output
from taxfree.core.lifetime import die_with_parent

die_with_parent()
with redirect_output(snakemake.log[0]):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    torch.set_num_threads(snakemake.threads)
    table = analyse(marked_model(snakemake.input.reference), marked_model(snakemake.input.model), snakemake.params.ks,
                    snakemake.params.svd_cache, niter=snakemake.params.niter, oversample=snakemake.params.oversample,
                    load=snakemake.params.load)
    table.insert(0, "variant", snakemake.wildcards.variant)
    table.insert(0, "model", snakemake.wildcards.model)
    table.insert(0, "seed", int(snakemake.wildcards.seed))
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_parquet(tmp, index=False)
