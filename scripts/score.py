"""Score one benchmark's generations with its judge or grader (rule score)."""

from taxfree.core.io import redirect_output
from taxfree.evaluation.scoring import score_file

with redirect_output(snakemake.log[0]):
    score_file(snakemake.input[0], snakemake.output[0], snakemake.params.benchmark, snakemake.threads)
