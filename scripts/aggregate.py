"""Collect every score file into the summary table (rule aggregate)."""

from taxfree.aggregate import summarise, to_markdown, to_metrics
from taxfree.io import atomic_path, redirect_output, write_json

with redirect_output(snakemake.log[0]):
    summary = summarise(snakemake.params.entries, snakemake.params.benchmarks)
    with atomic_path(snakemake.output.csv) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(snakemake.output.markdown) as tmp:
        tmp.write_text(to_markdown(summary))
    write_json(snakemake.output.metrics, to_metrics(summary))
