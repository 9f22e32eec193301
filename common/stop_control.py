"""When a training run stops early: SIGTERM or Ctrl-C on any process, or --max_steps reached,
decided at the same step on every process."""

import os
import signal
import sys

import torch

from common import distributed


class StopControl:
    """Installs the signal handlers: the first SIGTERM/Ctrl-C asks the run to save a checkpoint
    at the end of the step and stop; a second Ctrl-C means now: one line, and the process exits
    without saving (``where_to_resume()`` says which checkpoint is left). A repeated SIGTERM
    changes nothing: schedulers and a dying parent (common.orphans) can send it more than
    once, and the checkpoint must still be written."""

    def __init__(self, log, distributed_run: bool, where_to_resume=lambda: ""):
        self.log = log
        self.distributed = distributed_run
        self.where_to_resume = where_to_resume
        self.requested = False
        self.signal_name = ""  # the first signal's, logged when the stop is decided
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request)

    def _request(self, signum, _frame) -> None:
        """The handler writes with os.write only: a signal that lands while the logger (or any
        buffered stream) is writing would find its lock taken, and the logger would print a
        block of "Logging error" lines instead. The log gets the stop when it is decided."""
        if self.requested:
            if signum == signal.SIGINT:
                self._stop_now(signum)
            return
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        say(
            f"{self.signal_name} received: saving a checkpoint at the end of this step, then "
            "stopping (a second Ctrl-C: stop at once, without saving)"
        )

    def _stop_now(self, signum: int) -> None:
        """The second signal: exit at once. A KeyboardInterrupt raised here would unwind through
        the loader, its threads and workers, printing a hundred lines of tracebacks; os._exit
        leaves nothing half-written that matters (checkpoints are renamed into place whole)."""
        name = signal.Signals(signum).name
        say(f"error: second {name}: stopped at once, without saving; {self.where_to_resume()}")
        os._exit(128 + signum)

    def should_stop(self) -> bool:
        """True once any rank was asked to stop, on every rank at the same step."""
        if not self.distributed:
            return self.requested
        flag = torch.tensor([float(self.requested)])
        return bool(distributed.all_reduce_max(flag).item())

    def reason(self, step: int, max_steps: int) -> str | None:
        """Why training stops after ``step``: "signal" (SIGTERM/Ctrl-C on any process),
        "max_steps" (``--max_steps`` reached; 0 means no limit), or None to go on."""
        if self.should_stop():
            received = f"{self.signal_name} received" if self.signal_name else "another process was signalled"
            self.log.warning(f"{received}: stopping after step {step}, with a checkpoint")
            return "signal"
        if max_steps and step >= max_steps:
            return "max_steps"
        return None


def say(line: str) -> None:
    """One line on stderr, written in one system call (safe inside a signal handler)."""
    os.write(sys.stderr.fileno(), (line + "\n").encode())
