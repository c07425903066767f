# taxfree: safety alignment of reasoning LLMs, from data to figures.
# The default config is the toy world (CPU, minutes); paper grids live in configs/.
from snakemake.utils import min_version

min_version("9.0")


# A --configfile replaces the toy default rather than extending it: a paper grid never
# inherits the toy's models and variants.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "rules/captions/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/analyse.smk"
include: "rules/report.smk"


rule all:
    input:
        final_outputs(),
