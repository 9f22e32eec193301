"""Errors a user can act on, and the entry point that reports them as one
line instead of a traceback."""

import os
import sys


class UserError(Exception):
    """Bad input or environment: the message names the file, flag or key and
    says what was expected. Subclassed by the models' data and weight errors."""


def run_cli(main, parser, argv=None):
    """Parse arguments and run ``main(args)``. A UserError ends the process
    with exit status 2 and a one-line ``error: ...`` message (set
    ZOO_TRACEBACK=1 to see the traceback as well)."""
    args = parser.parse_args(argv)
    try:
        return main(args)
    except UserError as error:
        if os.environ.get("ZOO_TRACEBACK"):
            raise
        rank = os.environ.get("RANK")
        where = f"[rank {rank}] " if rank not in (None, "0") else ""
        print(f"error: {where}{one_line(error)}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def one_line(error: Exception) -> str:
    """The error's own message. A DataLoader worker's error reaches the main
    process with "Caught X in DataLoader worker process N" and the worker's
    traceback in its message; the original message is its last line."""
    message = str(error)
    if "Original Traceback" not in message:
        return message
    last = message.rstrip().splitlines()[-1]
    return f"{last.split(': ', 1)[-1]} (in a data loader worker)"
