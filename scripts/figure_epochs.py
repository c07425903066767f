"""Plot every evaluated benchmark against training epochs (rule figure_epochs)."""

import pandas as pd

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.figures import epochs

with redirect_output(snakemake.log[0]):
    with atomic_path(snakemake.output.png) as png, atomic_path(snakemake.output.pdf) as pdf:
        epochs(pd.read_csv(snakemake.input[0]), snakemake.params.families, [png, pdf])
