"""Score one benchmark's generations with its judge or grader (rule score)."""

from taxfree.core.gpus import pin_and_log_gpus
from taxfree.core.io import redirect_output
from taxfree.core.lifetime import die_with_parent
from taxfree.evaluation.scoring import score_file

die_with_parent()
with redirect_output(snakemake.log[0]):
    if snakemake.resources.gpu:  # a judge model: take a GPU no other job holds, as generation does
        pin_and_log_gpus(count=snakemake.resources.gpu)
    # score_epoch's input is the epoch's generations directory; its params name the benchmark's file in it.
    generations = snakemake.params.get("generations") or snakemake.input[0]
    score_file(generations, snakemake.output[0], snakemake.params.benchmark, snakemake.threads)
