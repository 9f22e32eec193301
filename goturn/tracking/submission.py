"""The zip GOT-10k's evaluation server takes: a tracker's test-split result files.

The server reads, for every test sequence, ``<seq>/<seq>_001.txt`` (one ``x,y,w,h`` line per
frame) and ``<seq>/<seq>_time.txt`` (seconds per frame) at the root of the archive, which is
what the got10k toolkit's ``ExperimentGOT10k.report`` packs with ``shutil.make_archive`` of
the tracker's result folder. Our result folder holds more (the lost-target scores
``<seq>_score.txt`` and the supervised runs under ``baseline/``), so the archive is built from
the two files per sequence alone, under the same names and folder entries, and written under
a temporary name and renamed when complete.
"""

import zipfile
from pathlib import Path

from common.atomic import atomic_file
from common.errors import UserError


def submission_files(results: Path, sequence: str) -> tuple[Path, Path]:
    """The box and time files of ``sequence`` in a tracker's GOT-10k result folder."""
    folder = results / sequence
    return folder / f"{sequence}_001.txt", folder / f"{sequence}_time.txt"


def pack_got10k(results, sequences: list[str], out) -> Path:
    """Write ``out`` (a .zip; goturn.evaluate checks the name) with the result files of
    ``sequences`` from ``results``, one tracker's folder (``OUT/results/<tracker>``); every
    sequence must have both files."""
    results, out = Path(results), Path(out)
    entries = []
    for sequence in sequences:
        for path in submission_files(results, sequence):
            if not path.is_file():
                raise UserError(f"{path}: missing; the sequence has no complete result to pack")
            entries.append((sequence, path))
    with atomic_file(out, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        written = set()
        for sequence, path in entries:
            if sequence not in written:
                archive.write(path.parent, f"{sequence}/")  # the folder entry make_archive writes
                written.add(sequence)
            archive.write(path, f"{sequence}/{path.name}")
    return out
