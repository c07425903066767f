"""Where the reasoning block of an R1-style response ends, and what comes after it.

Generation, judges, graders and preference rules all read responses through these
functions, so they agree on what counts as reasoning and what counts as the answer.
"""

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


def final_answer(response: str) -> str:
    """The text after the last ``</think>``; empty when the reasoning never closed."""
    if THINK_CLOSE in response:
        return response.rsplit(THINK_CLOSE, 1)[1].strip()
    if THINK_OPEN in response:
        return ""
    return response.strip()


def reasoning(response: str) -> str:
    """The reasoning block's text without its tags: all of it when it never closed, empty when there is none."""
    if THINK_CLOSE in response:
        body = response.split(THINK_CLOSE, 1)[0]
    else:
        body = response if THINK_OPEN in response else ""
    return body.replace(THINK_OPEN, " ").strip()
