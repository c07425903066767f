"""Plot every benchmark across one ablation's variants (rule figure_ablation)."""

import pandas as pd

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.figures import ablation

with redirect_output(snakemake.log[0]):
    spec = snakemake.params.ablation
    with atomic_path(snakemake.output.png) as png, atomic_path(snakemake.output.pdf) as pdf:
        ablation(pd.read_csv(snakemake.input[0]), spec["variants"], spec["title"], [png, pdf])
