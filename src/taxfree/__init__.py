"""taxfree: reproduce and compare safety alignment of reasoning LLMs.

Kept free of heavy imports so that the workflow's parse step and the CLI start fast.
"""

__version__ = "0.1.0"
