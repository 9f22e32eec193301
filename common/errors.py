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
        print(f"error: {where}{error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
