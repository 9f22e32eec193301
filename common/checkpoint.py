"""Checkpoints that survive kills: written atomically, read back safely.

A checkpoint is written to a temporary file beside its destination, flushed to
disk, then renamed over it; a run killed mid-write leaves the previous file
whole. Reading uses ``weights_only=True``, so a checkpoint holds only tensors
and plain Python values (``vars(args)``, never a Namespace).
"""

import os
from pathlib import Path

import torch

from common.atomic import atomic_file
from common.errors import UserError

LATEST = "checkpoint.pth"


class CheckpointError(UserError):
    """A checkpoint could not be written or read; the message names the file."""


def save_checkpoint(state: dict, path: str | os.PathLike) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Leftovers of a writer that was killed mid-save are never valid.
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        with atomic_file(path, "wb", durable=True) as handle:
            torch.save(state, handle)
    except (OSError, RuntimeError) as error:
        cause = write_error(error)
        if cause is None:
            raise
        raise CheckpointError(
            f"could not write checkpoint {path}: {cause}; the previous checkpoint, if any, is unchanged"
        ) from None


def write_error(error: BaseException) -> str | None:
    """What made a write fail, in words; None for an error that is not about writing. torch.save
    turns an OSError of the file (a full disk) into a RuntimeError of its zip writer,
    "[enforce fail at inline_container.cc] unexpected pos", with the OSError as its context."""
    while error is not None:
        if isinstance(error, OSError):
            return error.strerror or str(error)
        if isinstance(error, RuntimeError) and "inline_container" in str(error):
            nested = error.__cause__ or error.__context__
            return write_error(nested) if nested is not None else "the write failed (is the disk full?)"
        error = error.__cause__ or error.__context__
    return None


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no detail'}); "
            "it may be truncated or not a PyTorch checkpoint"
        ) from error
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, expected a dict")
    return state


def resolve_resume(resume: str | None, output_dir: str | os.PathLike) -> str | None:
    """The checkpoint to resume from: a path, or ``auto`` for the latest one
    in ``output_dir`` (none yet means a fresh start)."""
    if not resume:
        return None
    if resume == "auto":
        latest = Path(output_dir) / LATEST
        return str(latest) if latest.is_file() else None
    if not Path(resume).is_file():
        raise CheckpointError(f"--resume {resume}: no such checkpoint file")
    return resume
