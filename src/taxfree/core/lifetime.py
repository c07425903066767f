"""Job processes die with their parent: a trainer orphaned by a killed Snakemake (or job shell) must not
keep running and rewrite its model directory behind the next run's back.

``python -m taxfree.core.lifetime COMMAND...`` runs COMMAND (e.g. ``accelerate launch``) with this set:
the setting survives ``exec``, so the launcher dies with the job shell, and each of its ranks, which
calls ``die_with_parent`` itself, dies with the launcher.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux's PR_SET_PDEATHSIG).

    SIGTERM lets a launcher stop its ranks on the way down. Elsewhere than Linux there is no such
    call, and this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the call: then no signal will ever come.
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: python -m taxfree.core.lifetime COMMAND [ARGS...]")
    die_with_parent()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
