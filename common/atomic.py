"""Files that are whole or absent: each is written beside its destination under a name of its
own, then renamed over it, so a reader (or a run resumed after a kill) never sees half a file
and two writers never share a temporary file."""

import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path, mode: str = "w", durable: bool = False):
    """An open temporary file that becomes ``path`` when the block ends without an error (and
    is removed otherwise). ``durable``: flushed to the disk before the rename, and the rename
    itself made durable, for files a crash must not lose (checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (entered below, inside the try)
        mode,
        encoding=None if "b" in mode else "utf-8",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
    )
    try:
        with handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_directory(path.parent)


def write_text_atomically(path, text: str) -> None:
    with atomic_file(path) as handle:
        handle.write(text)


def write_json_atomically(path, payload, sort_keys: bool = False) -> None:
    """``payload`` as JSON, with NaN and infinities written as null."""
    text = json.dumps(json_safe(payload), indent=2, sort_keys=sort_keys, allow_nan=False)
    write_text_atomically(path, text + "\n")


def json_safe(value):
    """``value`` with every non-finite float replaced by None: JSON has no NaN (Python would write
    ``NaN``, which strict parsers refuse), and a figure that was not measured is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def replace_folder(complete: Path, destination: Path) -> None:
    """Put the finished folder ``complete`` (written beside ``destination``) in its place."""
    shutil.rmtree(destination, ignore_errors=True)
    os.replace(complete, destination)


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX only; a no-op elsewhere)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
