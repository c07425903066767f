"""Collect every epoch's score files into results/epochs.csv (rule aggregate_epochs)."""

from taxfree.core.io import atomic_path, redirect_output
from taxfree.report.aggregate import summarise_epochs

with redirect_output(snakemake.log[0]):
    with atomic_path(snakemake.output[0]) as tmp:
        summarise_epochs(snakemake.params.entries, snakemake.params.benchmarks).to_csv(tmp, index=False,
                                                                                      float_format="%.6g")
