"""Plot reasoning against safety from the results table, and save the plotted points (rule figure_tradeoff)."""

import pandas as pd

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.figures import tradeoff, tradeoff_points

with redirect_output(snakemake.log[0]):
    summary = pd.read_csv(snakemake.input[0])
    x, y = snakemake.params.axes["x"], snakemake.params.axes["y"]
    with atomic_path(snakemake.output.points) as tmp:
        tradeoff_points(summary, x, y).to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(snakemake.output.png) as png, atomic_path(snakemake.output.pdf) as pdf:
        tradeoff(summary, x, y, [png, pdf])
