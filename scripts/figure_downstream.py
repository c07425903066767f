"""Plot downstream task score against safety for downstream variants and their starting models
(rule figure_downstream)."""

import pandas as pd

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.figures import downstream

with redirect_output(snakemake.log[0]):
    with atomic_path(snakemake.output.png) as png, atomic_path(snakemake.output.pdf) as pdf:
        downstream(pd.read_csv(snakemake.input[0]), snakemake.params.axes["x"], snakemake.params.axes["y"],
                   snakemake.params.families, snakemake.params.starts, [png, pdf])
