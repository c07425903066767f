"""Generate responses for every benchmark with one model (rule generate)."""

import torch

from taxfree.config.paths import marked_model
from taxfree.core.gpus import pin_and_log_gpus
from taxfree.core.inference import generate_files
from taxfree.core.io import redirect_output
from taxfree.core.lifetime import die_with_parent

die_with_parent()
with redirect_output(snakemake.log[0]):
    pin_and_log_gpus(count=max(1, snakemake.resources.gpu))
    torch.set_num_threads(snakemake.threads)
    generate_files(
        # generate_epoch's input is the whole epochs directory; its params name the epoch's model in it.
        model_dir=snakemake.params.get("model_dir") or marked_model(snakemake.input.model),
        # generate_epoch's output is a directory; its params name the files in it.
        files=list(zip(snakemake.input.data, snakemake.params.get("outputs") or snakemake.output,
                       snakemake.params.generation, strict=True)),
        load=snakemake.params.load,
    )
