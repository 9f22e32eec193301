"""Processes that end with the process that started them.

A rank whose torchrun was killed with SIGKILL (or whose launcher script was) is reparented and
would go on training and saving, beside the job a user restarts in the same folder. On Linux
the kernel can send a signal to a process when its parent exits (prctl PR_SET_PDEATHSIG);
SIGTERM makes a training process save at the end of its step and stop (common.stop_control),
so an orphan ends as a signalled run does, with a checkpoint to resume from.

The flag survives exec but not fork: every process that must die with its parent sets it for
itself (torchrun's workers do in common.runtime; the launcher starts torchrun through
``python -m common.die_with_parent``).
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Set by test/launcher.sh: the processes it starts die with it (they see this in their environment).
ENV_FLAG = "ZOO_DIE_WITH_PARENT"


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel for ``signum`` when this process's parent exits. Returns whether that is
    in place (False off Linux, where this is a no-op). A parent that died before the request
    was made is caught too: the process was already reparented, so it signals itself."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)
    return True


def started_by_a_launcher() -> bool:
    """Whether this process is a torchrun worker or was started by test/launcher.sh: those die
    with their parent. A process started by hand does not (``nohup python -m ... &`` must
    survive the shell that started it)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or os.environ.get(ENV_FLAG) == "1"
