"""Safety and reasoning along each merge's alpha sweep (rule figure_alpha_sweep)."""

import pandas as pd

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.figures import alpha_sweep

with redirect_output(snakemake.log[0]):
    with atomic_path(snakemake.output.png) as png, atomic_path(snakemake.output.pdf) as pdf:
        alpha_sweep(pd.read_csv(snakemake.input[0]), snakemake.params.sweeps,
                    [snakemake.params.axes["x"], snakemake.params.axes["y"]], [png, pdf])
