"""Generate responses for one benchmark with one model (rule generate)."""

import torch

from taxfree.config.paths import marked_model
from taxfree.core.gpus import pin_and_log_gpus
from taxfree.core.inference import generate_file
from taxfree.core.io import redirect_output
from taxfree.core.lifetime import die_with_parent

die_with_parent()
with redirect_output(snakemake.log[0]):
    pin_and_log_gpus(count=max(1, snakemake.resources.gpu))
    torch.set_num_threads(snakemake.threads)
    generate_file(
        # generate_epoch's input is the whole epochs directory; its params name the epoch's model in it.
        model_dir=snakemake.params.get("model_dir") or marked_model(snakemake.input.model),
        in_path=snakemake.input.data,
        out_path=snakemake.output[0],
        load=snakemake.params.load,
        vllm=snakemake.params.vllm,
        **snakemake.params.generation,
    )
