"""Benchmark sequences: frames and ground-truth boxes, read from each data
set's own layout.

A ``Sequence`` is what the evaluation runs a tracker on: the frame files in
order and one ground-truth row per frame, ``[x, y, w, h]`` in float pixels,
NaN where the frame is not annotated. Row 0 is the initialisation frame.

- ALOV300++ (``read_alov``): ``ALOV/images/<category>/<video>/00000001.jpg``
  and ``ALOV/gt/<category>/<video>.ann``; the annotation parser and the
  validation split are training's own (``goturn.data.alov``). A sequence runs
  from the first to the last annotated frame; ALOV annotates about every
  fifth frame, the rows in between are NaN.
- OTB (``read_otb``): ``<seq>/img/0001.jpg ...`` and
  ``<seq>/groundtruth_rect.txt`` (comma, tab or space separated). A folder
  with several non-empty ``groundtruth_rect.N.txt`` (Jogging, Skating2) gives
  one sequence per file, named ``<seq>.1``, ``<seq>.2`` as in the GOT-10k
  toolkit; the five OTB sequences whose annotation covers only part of the
  frames are cut as the benchmark specifies.
- GOT-10k (``read_got10k``): ``<split>/list.txt`` naming the sequences,
  ``<split>/<seq>/00000001.jpg ...``, ``groundtruth.txt`` (comma separated;
  the test split gives only the first box) and ``cover.label`` (visible
  ratio per frame; frames with 0 are not scored).
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from goturn.data.alov import frame_name, parse_ann_file, select_videos
from goturn.data.errors import DataError
from goturn.data.records import VAL_FRACTION

DATASETS = ("alov", "otb", "got10k")
ALOV_SPLITS = ("val", "train", "all")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
# OTB sequences annotated on part of their frames: (first, last) 1-based
# frame numbers, from the benchmark's sequence table.
OTB_FRAME_RANGES = {
    "david": (300, 770),
    "football1": (1, 74),
    "freeman3": (1, 460),
    "freeman4": (1, 283),
    "diving": (1, 215),
}


@dataclass
class Sequence:
    name: str
    frames: list[str]
    ground_truth: np.ndarray  # (len(frames), 4) [x, y, w, h], NaN rows unannotated
    visible: np.ndarray | None = None  # (len(frames),) bool; None: always visible

    def __post_init__(self):
        if len(self.frames) != len(self.ground_truth):
            raise DataError(
                f"sequence {self.name}: {len(self.frames)} frames but "
                f"{len(self.ground_truth)} ground-truth rows"
            )
        if not len(self.frames) or not np.isfinite(self.ground_truth[0]).all():
            raise DataError(f"sequence {self.name}: the first frame has no ground-truth box to start from")

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> list[float]:
        return [float(v) for v in self.ground_truth[0]]

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the frames, read from the first one's header."""
        with Image.open(self.frames[0]) as image:
            return image.size


def read_sequences(dataset: str, root, split: str | None = None) -> list[Sequence]:
    """The sequences of ``dataset`` under ``root``; ``split`` defaults to the
    validation videos for ALOV and ``val`` for GOT-10k (ignored for OTB)."""
    if dataset == "alov":
        return read_alov(root, split or "val")
    if dataset == "otb":
        return read_otb(root)
    if dataset == "got10k":
        return read_got10k(root, split or "val")
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def read_alov(root, split: str = "val", val_fraction: float = VAL_FRACTION) -> list[Sequence]:
    """ALOV videos of ``split`` (``val``: training's held-out videos, ``all``,
    or ``train``). ``root`` is the folder holding ``images/`` and ``gt/``, or
    its parent holding ``ALOV/``."""
    if split not in ALOV_SPLITS:
        raise ValueError(f"ALOV split must be one of {ALOV_SPLITS}, got {split!r}")
    root = Path(root)
    if not (root / "gt").is_dir() and (root / "ALOV" / "gt").is_dir():
        root = root / "ALOV"
    gt_dir, images_dir = root / "gt", root / "images"
    if not gt_dir.is_dir() or not images_dir.is_dir():
        raise DataError(
            f"no ALOV data in {root}: expected {root}/images/<category>/<video>/00000001.jpg "
            f"and {root}/gt/<category>/<video>.ann"
        )
    sequences = []
    for category in sorted(entry.name for entry in os.scandir(gt_dir) if entry.is_dir()):
        ann_files = sorted((gt_dir / category).glob("*.ann"))
        if not ann_files:
            continue
        for ann_file in select_videos(ann_files, split, val_fraction):
            sequences.append(_alov_sequence(ann_file, images_dir / category / ann_file.stem))
    if not sequences:
        raise DataError(f"no ALOV videos with annotations under {gt_dir}")
    return sequences


def _alov_sequence(ann_file: Path, video_dir: Path) -> Sequence:
    annotations = parse_ann_file(ann_file)
    if not annotations:
        raise DataError(f"{ann_file}: no annotations")
    first, last = annotations[0][0], annotations[-1][0]
    frames = [video_dir / frame_name(index) for index in range(first, last + 1)]
    missing = [str(path) for path in frames if not path.is_file()]
    if missing:
        raise DataError(
            f"{ann_file}: {len(missing)} frame(s) between the first and last annotation are "
            f"missing, e.g. {missing[0]}"
        )
    ground_truth = np.full((len(frames), 4), np.nan)
    for index, (x1, y1, x2, y2) in annotations:
        ground_truth[index - first] = [x1, y1, x2 - x1, y2 - y1]
    return Sequence(ann_file.stem, [str(path) for path in frames], ground_truth)


def read_box_file(path: Path, separators: str = ",\t ") -> np.ndarray:
    """Rows of four numbers, separated by any of ``separators``; a bad row
    raises DataError naming file and line."""
    rows = []
    with open(path, encoding="utf-8-sig") as handle:  # -sig: a BOM is dropped
        for line_number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            for separator in separators:
                text = text.replace(separator, " ")
            try:
                values = [float(v) for v in text.split()]
                if len(values) != 4:
                    raise ValueError
            except ValueError:
                raise DataError(
                    f"{path}:{line_number}: expected four numbers x, y, w, h, got {line.strip()!r}"
                ) from None
            rows.append(values)
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def list_images(folder: Path) -> list[str]:
    """The folder's images in frame order: numbers in names compare as numbers, so ffmpeg's
    unpadded ``1.jpg, 2.jpg, ..., 10.jpg`` keep their order (as strings 10 comes before 2)."""
    images = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    return [str(p) for p in sorted(images, key=natural_order)]


def natural_order(path: Path) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path.name)]


def read_otb(root) -> list[Sequence]:
    """Every ``<root>/<seq>`` folder with ``img/`` and a non-empty
    ``groundtruth_rect*.txt``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"OTB folder {root} does not exist")
    found = []
    for seq_dir in sorted(p for p in root.iterdir() if (p / "img").is_dir()):
        ann_files = [p for p in sorted(seq_dir.glob("groundtruth*.txt")) if p.read_text().strip()]
        for number, ann_file in enumerate(ann_files, start=1):
            name = seq_dir.name if len(ann_files) == 1 else f"{seq_dir.name}.{number}"
            found.append((name, seq_dir, ann_file))
    if not found:
        raise DataError(
            f"no OTB sequences in {root}: expected {root}/<seq>/img/0001.jpg and "
            f"{root}/<seq>/groundtruth_rect.txt"
        )
    sequences = []
    for name, seq_dir, ann_file in found:
        frames = list_images(seq_dir / "img")
        first, last = OTB_FRAME_RANGES.get(name.lower(), (1, len(frames)))
        frames = frames[first - 1 : last]
        ground_truth = read_box_file(ann_file)
        if len(frames) != len(ground_truth):
            raise DataError(
                f"{ann_file}: {len(ground_truth)} boxes but {len(frames)} frames in "
                f"{seq_dir / 'img'}; expected one box per frame"
            )
        sequences.append(Sequence(name, frames, ground_truth))
    return sequences


def read_got10k(root, split: str = "val") -> list[Sequence]:
    """Sequences named in ``<root>/<split>/list.txt`` (or ``<root>/list.txt``
    when ``root`` is the split folder itself)."""
    root = Path(root)
    split_dir = root if (root / "list.txt").is_file() else root / split
    list_file = split_dir / "list.txt"
    if not list_file.is_file():
        raise DataError(
            f"no GOT-10k list {list_file}: expected {root}/{split}/list.txt naming the sequence folders"
        )
    lines = list_file.read_text(encoding="utf-8-sig").splitlines()  # -sig: a BOM is dropped
    names = [line.strip() for line in lines if line.strip()]
    sequences = []
    for name in names:
        seq_dir = split_dir / name
        if not seq_dir.is_dir():
            raise DataError(f"{list_file} names {name}, but {seq_dir} does not exist")
        frames = list_images(seq_dir)
        boxes = read_box_file(seq_dir / "groundtruth.txt", separators=",")
        if len(boxes) not in (1, len(frames)):
            raise DataError(
                f"{seq_dir / 'groundtruth.txt'}: {len(boxes)} boxes for {len(frames)} frames; "
                "expected one per frame (or only the first, in the test split)"
            )
        ground_truth = np.full((len(frames), 4), np.nan)
        ground_truth[: len(boxes)] = boxes
        cover_file = seq_dir / "cover.label"
        visible = np.loadtxt(cover_file, ndmin=1) > 0 if cover_file.is_file() else None
        if visible is not None and len(visible) != len(frames):
            raise DataError(f"{cover_file}: {len(visible)} values for {len(frames)} frames")
        sequences.append(Sequence(name, frames, ground_truth, visible))
    return sequences
