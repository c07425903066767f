"""Plot reasoning against safety from the summary table (rule figure_tradeoff)."""

import pandas as pd

from taxfree.figures import tradeoff
from taxfree.io import atomic_path, redirect_output

with redirect_output(snakemake.log[0]):
    with atomic_path(snakemake.output[0]) as tmp:
        tradeoff(pd.read_csv(snakemake.input[0]), snakemake.params.axes["x"], snakemake.params.axes["y"], tmp)
