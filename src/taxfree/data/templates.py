"""Chat templates of the paper models' families (package data in ``chat_templates/``)."""

from __future__ import annotations

from pathlib import Path

TEMPLATE_DIR = Path(__file__).with_name("chat_templates")
TEMPLATES = tuple(sorted(path.stem for path in TEMPLATE_DIR.glob("*.jinja")))


def chat_template(name: str) -> str:
    """The Jinja text of a template: ``deepseek_r1_distill`` or ``qwen2_5_instruct``."""
    if name not in TEMPLATES:
        raise ValueError(f"no chat template '{name}' (have: {', '.join(TEMPLATES)})")
    return (TEMPLATE_DIR / f"{name}.jinja").read_text(encoding="utf-8").rstrip("\n")
