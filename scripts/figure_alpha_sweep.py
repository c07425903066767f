"""Safety and reasoning along each merge's alpha sweep (rule figure_alpha_sweep)."""

import pandas as pd

from taxfree.figures import alpha_sweep
from taxfree.io import atomic_path, redirect_output

with redirect_output(snakemake.log[0]):
    with atomic_path(snakemake.output.png) as png, atomic_path(snakemake.output.pdf) as pdf:
        alpha_sweep(pd.read_csv(snakemake.input[0]), snakemake.params.sweeps,
                    [snakemake.params.axes["x"], snakemake.params.axes["y"]], [png, pdf])
