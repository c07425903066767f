"""Plot reasoning against safety for the variants that align the starting model, and save the plotted points
(rule figure_tradeoff)."""

import pandas as pd

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.figures import tradeoff, tradeoff_points

with redirect_output(snakemake.log[0]):
    summary = pd.read_csv(snakemake.input[0])
    x, y = snakemake.params.axes["x"], snakemake.params.axes["y"]
    families = snakemake.params.families
    with atomic_path(snakemake.output.points) as tmp:
        tradeoff_points(summary, x, y, families).to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(snakemake.output.png) as png, atomic_path(snakemake.output.pdf) as pdf:
        tradeoff(summary, x, y, families, [png, pdf])
