"""ALOV300++: video frames with polygon annotations, indexed into pairs.

On disk::

    ALOV/images/<category>/<video>/00000001.jpg ...
    ALOV/gt/<category>/<video>.ann

Each ``.ann`` line is ``frame ax ay bx by cx cy dx dy``: a 1-based frame
number and the four corners of a polygon. The box is the polygon's bounding
box shifted to 0-based pixels (``x1 = min(ax, bx, cx, dx) - 1``, ...). About
every fifth frame is annotated; a training pair is two consecutive
annotations of a video.

Validation holds out the last ``max(1, int(val_fraction * n))`` videos of each
category (in sorted order, so the split is the same on every machine).
"""

import itertools
import math
import os
from pathlib import Path

from goturn.data.errors import DataError
from goturn.data.records import VAL_FRACTION, LoadReport, PairTable, PairTableBuilder, annotation_trees

# Videos that overlap VOT 2014; the original leaves them out of training when
# the tracker is to be evaluated on VOT.
VOT_OVERLAP = (
    "01-Light_video00016",
    "01-Light_video00022",
    "01-Light_video00023",
    "02-SurfaceCover_video00012",
    "03-Specularity_video00003",
    "03-Specularity_video00012",
    "10-LowContrast_video00013",
)
SPLITS = ("train", "val", "all")


# Reasons a .ann line is left out under --skip_bad, as the load report counts them.
UNREADABLE_LINE = ".ann lines that do not parse"
EMPTY_POLYGON = ".ann lines with a zero-width or zero-height polygon"
REPEATED_FRAME = ".ann lines annotating a frame a second time"
# (0-based frame index, box x1, y1, x2, y2)
Annotation = tuple[int, tuple[float, float, float, float]]


def read_ann_file(path: Path) -> tuple[list[Annotation], list[tuple[str, str]]]:
    """The usable annotations ``(frame_index, box)``, sorted by frame
    (frame_index 0-based), and the bad lines as ``(reason, message)``, the
    message naming file, line and text. A line annotating an already
    annotated frame is bad; the first one is kept."""
    annotations, problems = [], []
    with open(path, encoding="utf-8-sig", errors="replace") as handle:  # -sig: a BOM is dropped
        for line_number, line in enumerate(handle, start=1):
            text = line.strip()
            if text:
                annotation = _parse_line(text)
                if isinstance(annotation, str):
                    message = f"{path}:{line_number}: {_PROBLEMS[annotation]}, got {text!r}"
                    problems.append((line_number, annotation, message))
                else:
                    annotations.append((*annotation, line_number))
    annotations.sort(key=lambda item: (item[0], item[2]))
    kept = []
    for frame, box, line_number in annotations:
        if kept and kept[-1][0] == frame:
            message = f"{path}:{line_number}: frame {frame + 1} is annotated twice (also line {kept[-1][2]})"
            problems.append((line_number, REPEATED_FRAME, message))
        else:
            kept.append((frame, box, line_number))
    return [(frame, box) for frame, box, _ in kept], [problem[1:] for problem in sorted(problems)]


_PROBLEMS = {
    UNREADABLE_LINE: "expected 'frame ax ay bx by cx cy dx dy' (a frame number >= 1 and 8 finite numbers)",
    EMPTY_POLYGON: "the polygon has zero width or height",
}


def _parse_line(text: str):
    """``(frame_index, box)`` of one line, or the reason it is bad."""
    fields = text.split()
    try:
        if len(fields) != 9:
            raise ValueError
        frame = int(float(fields[0]))
        if frame != float(fields[0]) or frame < 1:
            raise ValueError
        xs = [float(v) for v in fields[1::2]]
        ys = [float(v) for v in fields[2::2]]
    except (ValueError, OverflowError):
        return UNREADABLE_LINE
    if not all(math.isfinite(v) for v in xs + ys):
        return UNREADABLE_LINE
    if max(xs) <= min(xs) or max(ys) <= min(ys):
        return EMPTY_POLYGON
    return frame - 1, (min(xs) - 1.0, min(ys) - 1.0, max(xs) - 1.0, max(ys) - 1.0)


def parse_ann_file(path: Path) -> list[Annotation]:
    """``read_ann_file``'s annotations; the first bad line raises DataError."""
    annotations, problems = read_ann_file(path)
    if problems:
        raise DataError(problems[0][1])
    return annotations


def frame_name(frame_index: int) -> str:
    return f"{frame_index + 1:08d}.jpg"


def held_out_count(num_videos: int, val_fraction: float) -> int:
    return max(1, int(val_fraction * num_videos))


def select_videos(ann_files: list[Path], split: str, val_fraction: float) -> list[Path]:
    if split == "all":
        return ann_files
    num_train = len(ann_files) - held_out_count(len(ann_files), val_fraction)
    return ann_files[:num_train] if split == "train" else ann_files[num_train:]


def load_alov(
    root,
    split: str = "train",
    val_fraction: float = VAL_FRACTION,
    exclude: tuple[str, ...] = (),
    skip_bad: bool = False,
) -> tuple[PairTable, LoadReport]:
    """Index ``root`` (the folder holding ``images/`` and ``gt/``).

    A video without two usable annotations and a category without videos
    are skipped and counted in the report. A malformed ``.ann`` line or an
    annotation whose frame image is missing raises DataError, or with
    ``skip_bad`` is left out alone, counted by reason: the annotations
    before and after it still make a pair.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    gt_dir, images_dir = annotation_trees(
        root, "ALOV", "{root}/images/<category>/<video>/00000001.jpg and {root}/gt/<category>/<video>.ann"
    )
    report = LoadReport("ALOV", split)
    table = PairTableBuilder("alov")
    categories = {entry.name for tree in (gt_dir, images_dir) for entry in os.scandir(tree) if entry.is_dir()}
    for category in sorted(categories):
        all_ann_files = sorted((gt_dir / category).glob("*.ann"))
        for video in _unannotated_videos(images_dir / category, all_ann_files):
            report.skip("videos without an .ann file (in no split)", str(images_dir / category / video))
        ann_files = [path for path in all_ann_files if path.stem not in exclude]
        if not ann_files:
            report.skip("categories without .ann files", category)
            continue
        for ann_file in select_videos(ann_files, split, val_fraction):
            report.groups += 1
            _add_video(table, report, ann_file, images_dir / category / ann_file.stem, skip_bad)
    result = table.build()
    report.pairs = len(result)
    return result, report


def _unannotated_videos(category_dir: Path, ann_files: list[Path]) -> list[str]:
    if not category_dir.is_dir():
        return []
    annotated = {path.stem for path in ann_files}
    return sorted(
        entry.name for entry in os.scandir(category_dir) if entry.is_dir() and entry.name not in annotated
    )


def _add_video(
    table: PairTableBuilder, report: LoadReport, ann_file: Path, video_dir: Path, skip_bad: bool
) -> None:
    """The pairs of one video: consecutive usable annotations. Under
    ``skip_bad`` a bad line or an annotation whose frame is missing is left
    out, and its neighbours pair up across the gap (the original pairs
    consecutive entries of the annotation list)."""
    annotations, problems = read_ann_file(ann_file)
    for reason, message in problems:
        if not skip_bad:
            raise DataError(f"{message} (use --skip_bad to skip such lines)")
        report.skip(reason, message)
    report.items += len(annotations)
    frames = set(os.listdir(video_dir)) if video_dir.is_dir() else set()
    entries = []
    for frame, box in annotations:
        path = video_dir / frame_name(frame)
        if frame_name(frame) in frames:
            entries.append((str(path), box))
            continue
        if not skip_bad:
            raise DataError(
                f"{ann_file}: frame {frame + 1} is annotated but its image {path} "
                "does not exist (use --skip_bad to skip such annotations)"
            )
        report.skip("annotations whose frame image is missing", str(path))
    if len(entries) < 2:
        report.skip("videos without a pair of consecutive usable annotations", str(ann_file))
        return
    for (prev_path, prev_box), (curr_path, curr_box) in itertools.pairwise(entries):
        table.add(prev_path, prev_box, curr_path, curr_box)
