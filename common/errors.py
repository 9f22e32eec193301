"""Errors a user can act on, and the entry point that reports them as one
line instead of a traceback."""

import errno
import os
import sys

# OSErrors that are the environment's, not a bug: said in one line, naming the file.
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.ENAMETOOLONG,
}


class UserError(Exception):
    """Bad input or environment: the message names the file, flag or key and
    says what was expected. Subclassed by the models' data and weight errors."""


def run_cli(main, parser, argv=None, check=None):
    """Parse arguments and run ``main(args)``. A UserError ends the process
    with exit status 2 and a one-line ``error: ...`` message (set
    ZOO_TRACEBACK=1 to see the traceback as well).

    ``check(args)``: the checks across flags that parsing cannot make, run before ``main``.
    With ``--check_args`` (common.cli) they are all that runs, with the run folder's checks
    (common.run_folder): nothing is started or written, and the exit status says whether the
    run would start (test/launcher.sh asks before it clears the previous summary)."""
    parser.error = parse_error  # one line, not argparse's usage dump first
    args = parser.parse_args(argv)
    try:
        if check is not None:
            check(args)
        if getattr(args, "check_args", False):
            return check_run_folder_of(args)
        return main(args)
    except UserError as error:
        fail(one_line(error))
    except KeyboardInterrupt:
        # Ctrl-C before the run's handlers are in place (common.stop_control), or in a command
        # without them: a line, not a traceback.
        print("error: interrupted (Ctrl-C)", file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    except OSError as error:
        if error.errno not in ENVIRONMENT_ERRNOS or not error.filename:
            raise
        fail(f"{error.filename}: {error.strerror} (a file or folder this run cannot write or read)")


def parse_error(message: str):
    """argparse's ``error``: the flag and what was wrong with it, on one line, exit status 2."""
    print(f"error: {message} (see --help)", file=sys.stderr, flush=True)
    raise SystemExit(2)


def fail(message: str) -> None:
    """End the process with ``error: message`` on stderr and exit status 2 (with ZOO_TRACEBACK=1,
    the traceback of the error being handled instead)."""
    if os.environ.get("ZOO_TRACEBACK"):
        raise  # the error being handled: fail is only called from an except block
    rank = os.environ.get("RANK")
    where = f"[rank {rank}] " if rank not in (None, "0") else ""
    print(f"error: {where}{message}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None


def check_run_folder_of(args) -> int:
    """--check_args's run-folder part. The launcher of a node other than 0 (ZOO_NODE_RANK) skips
    it: node 0's rank 0 alone writes the folder, and may hold its lock already."""
    if os.environ.get("ZOO_NODE_RANK", "0") != "0":
        return 0
    from common.cli import trains_in  # imported here: most commands never need them
    from common.run_folder import check_run_folder

    check_run_folder(args.output_dir, resume=args.resume, fresh=args.fresh, trains=trains_in(args))
    return 0


def one_line(error: Exception) -> str:
    """The error's own message. A DataLoader worker's error reaches the main
    process with "Caught X in DataLoader worker process N" and the worker's
    traceback in its message; the original message is its last line."""
    message = str(error)
    if "Original Traceback" not in message:
        return message
    last = message.rstrip().splitlines()[-1]
    return f"{last.split(': ', 1)[-1]} (in a data loader worker)"
