"""Generate responses for one benchmark with one model (rule generate)."""

import torch

from taxfree.core.gpus import pin_and_log_gpus
from taxfree.core.inference import generate_file
from taxfree.core.io import redirect_output

with redirect_output(snakemake.log[0]):
    pin_and_log_gpus()
    torch.set_num_threads(snakemake.threads)
    generate_file(
        model_dir=snakemake.input.model,
        in_path=snakemake.input.data,
        out_path=snakemake.output[0],
        trust_remote_code=snakemake.params.trust_remote_code,
        **snakemake.params.generation,
    )
