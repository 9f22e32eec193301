"""The run folder (``--output_dir``) of a training run: one live run at a time, and never taken
over silently by a new one.

- A lock: rank 0 holds an exclusive fcntl lock on ``run.lock`` in the folder for the run's life,
  taken before it writes anything there. The kernel releases it when the process ends, however
  it ends, so a crashed run leaves no stale lock; a second run in the folder is refused with
  one line naming the holder (its pid and host, which the holder writes into the file). It is a
  POSIX record lock (``lockf``), which belongs to the process: an ``flock`` would belong to the
  open file, which the loader workers inherit when they fork, and a killed run's workers would
  hold it on for seconds. (It also works on NFS.)
- No silent overwrite: a fresh run (no ``--resume``) in a folder that holds a run (a
  checkpoint, a loss curve or a result) is refused, saying how to continue it (``--resume
  auto``) or to start afresh (``--fresh`` moves the old run aside to ``<folder>.old-<time>``).

``check_run_folder`` makes the same checks without writing anything: the launcher calls it (by
way of ``--check_args``) before it clears the previous summary.
"""

import errno
import os
import socket
import time
from pathlib import Path

from common import distributed
from common.checkpoint import LATEST
from common.errors import UserError
from common.summary import LOSS_FILE, RESULT_FILE

try:
    import fcntl
except ImportError:  # not POSIX: no locking, the other checks still hold
    fcntl = None

LOCK_FILE = "run.lock"
# The locks this process holds, by folder. A process trains one run at a time, so a lock it still
# holds is an earlier run's that ended with an error before releasing it (a test calling main()
# in-process): it is dropped and taken anew, not reported as another live run.
_HELD: dict[Path, "RunFolderLock"] = {}
# A folder with any of these holds a run that a fresh start would overwrite or mix with.
RUN_RECORDS = (LATEST, LOSS_FILE, RESULT_FILE)


class RunFolderError(UserError):
    """The run folder cannot be used as asked; the message names it and says what to do."""


class RunFolderLock:
    """The exclusive lock on ``folder/run.lock``; ``acquire`` raises RunFolderError when a live
    process holds it."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._handle = None

    def acquire(self) -> None:
        earlier = _HELD.pop(self.path.resolve(), None)
        if earlier is not None:
            earlier.release()
        try:
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the run's life)
        except OSError as error:
            raise unusable(self.folder, error) from None
        if fcntl is not None and not _lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "a process that has not said who it is yet"
            handle.close()
            raise RunFolderError(
                f"--output_dir {self.folder} is in use by a live run ({holder}); wait for it to "
                "end or stop it, or choose another --output_dir"
            )
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._handle = handle
        _HELD[self.path.resolve()] = self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the lock
            self._handle = None
            _HELD.pop(self.path.resolve(), None)


def _lock(handle) -> bool:
    """Whether the exclusive lock was taken; a file system without locks counts as taken."""
    try:
        fcntl.lockf(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EAGAIN):
            return False  # another process holds it
        if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
    return True


def unusable(folder: Path, error: OSError) -> RunFolderError:
    return RunFolderError(
        f"--output_dir {folder} cannot be written ({error.strerror or error}); choose a folder "
        "this user can write to"
    )


def holds_a_run(folder: Path) -> bool:
    return any((Path(folder) / name).exists() for name in RUN_RECORDS)


def check_flags(resume: str | None, fresh: bool) -> None:
    if fresh and resume:
        raise RunFolderError(
            f"--fresh starts a new run and --resume {resume} continues one: give one of them"
        )


def refusal(folder: Path, resume: str | None, fresh: bool) -> str | None:
    """Why a training run with these flags may not start in ``folder`` (None: it may). A run
    that is continued (``--resume auto``, or the folder's own checkpoint) or moved aside
    (``--fresh``) may; a fresh start over another run, or a resume from elsewhere into a folder
    holding another run, may not."""
    if fresh or not holds_a_run(folder) or resume == "auto":
        return None
    own = Path(folder) / LATEST
    if resume and own.is_file() and Path(resume).resolve() == own.resolve():
        return None
    found = ", ".join(name for name in RUN_RECORDS if (Path(folder) / name).exists())
    start = f"resuming from {resume} would overwrite it" if resume else "a fresh start would overwrite it"
    return (
        f"--output_dir {folder} holds a run ({found}) and {start}: continue it with --resume "
        f"auto, start afresh with --fresh (moves it to {folder}.old-<time>), or choose another "
        "--output_dir"
    )


def make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"--output_dir {folder} is a file, not a folder")
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise RunFolderError(f"--output_dir {folder}: {parent} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise unusable(folder, error) from None


def move_aside(folder: Path) -> Path:
    """Rename ``folder`` to ``<folder>.old-<time>`` (a free name); returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = folder.with_name(f"{folder.name}.old-{stamp}")
    counter = 1
    while aside.exists():
        aside, counter = folder.with_name(f"{folder.name}.old-{stamp}-{counter}"), counter + 1
    try:
        os.replace(folder, aside)
    except OSError as error:
        raise RunFolderError(
            f"--fresh: could not move {folder} aside to {aside} ({error.strerror or error})"
        ) from None
    return aside


def claim_run_folder(folder, *, resume: str | None, fresh: bool, trains: bool):
    """On rank 0, before anything is written: the folder, created and locked for this run.
    Returns the lock (held until ``release`` or the process's end) and a note for the log (the
    folder the previous run was moved to, or None). ``trains``: a training run (an evaluation
    overwrites no run and is only locked)."""
    folder = Path(folder)
    check_flags(resume, fresh)
    make_folder(folder)
    lock = RunFolderLock(folder)
    lock.acquire()
    if not trains:
        return lock, None
    reason = refusal(folder, resume, fresh)
    if reason:
        lock.release()
        raise RunFolderError(reason)
    if not (fresh and holds_a_run(folder)):
        return lock, None
    aside = move_aside(folder)  # still locked: no live run is moved
    make_folder(folder)
    fresh_lock = RunFolderLock(folder)
    fresh_lock.acquire()
    lock.release()
    return fresh_lock, f"--fresh: the previous run in {folder} was moved to {aside}"


def check_run_folder(folder, *, resume: str | None, fresh: bool, trains: bool = True) -> None:
    """``claim_run_folder``'s checks, writing nothing (``--check_args``)."""
    folder = Path(folder)
    check_flags(resume, fresh)
    if resume and resume != "auto" and not Path(resume).is_file():
        raise RunFolderError(f"--resume {resume}: no such checkpoint file")
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"--output_dir {folder} is a file, not a folder")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise RunFolderError(f"--output_dir {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise unusable(folder, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))
    if not folder.is_dir():
        return
    if (folder / LOCK_FILE).is_file():
        probe = RunFolderLock(folder)
        probe.acquire()
        probe.release()
    reason = refusal(folder, resume, fresh) if trains else None
    if reason:
        raise RunFolderError(reason)


def claim_for_the_run(folder: Path, args, trains: bool, is_main: bool):
    """Rank 0 creates and locks the output folder (``claim_run_folder``) before anything is
    written there; every process ends with rank 0's error if it cannot. Collective."""
    lock, note, error = None, None, None
    if is_main:
        try:
            lock, note = claim_run_folder(
                folder,
                resume=getattr(args, "resume", None),
                fresh=getattr(args, "fresh", False),
                trains=trains,
            )
        except UserError as failure:
            error = str(failure)
    error = distributed.all_gather_object(error)[0]
    if error:
        raise UserError(error)
    return lock, note
