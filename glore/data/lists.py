"""Parse UCF-101 list files into plain records.

Formats:
- official `ucfTrainTestlist/`: `classInd.txt` (`<1-based index> <ClassName>`), `trainlist0N.txt`
  (`Class/v_Class_gXX_cYY.avi <1-based index>`), `testlist0N.txt` (`Class/v_Class_gXX_cYY.avi`);
- mmaction2 rawframes lists `ucf101_{train,val}_split_N_rawframes.txt`
  (`Class/v_Class_gXX_cYY <num_frames> <0-based label>`), relative to `rawframes/`;
- mmaction2 video lists `ucf101_{train,val}_split_N_videos.txt` (`Class/v_….avi <0-based label>`),
  relative to `videos/`.
Labels are always 0-based: classInd index - 1 (so JumpingJack is 46 and JumpRope 47, which a
case-sensitive sort of the names would swap).
"""

import os
from dataclasses import dataclass

from glore.data.errors import DataError


@dataclass(frozen=True)
class VideoRecord:
    """One labelled video: a frames folder (`num_frames` known) or a video file (`num_frames` None)."""

    path: str
    label: int
    num_frames: int | None = None

    @property
    def name(self) -> str:
        """`Class/v_Class_gXX_cYY`, the identifier shared by every format."""
        parent, leaf = os.path.split(os.path.normpath(self.path))
        return f"{os.path.basename(parent)}/{os.path.splitext(leaf)[0]}"


def _lines(path):
    """Non-blank lines with their 1-based numbers; a missing file fails with its path."""
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) would otherwise stick to the
        # first path or number of the file.
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except OSError as error:
        raise DataError(f"cannot read list file {path}: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise DataError(
            f"list file {path} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line:
            yield number, line.split()


def _int(text, path, number, what, minimum):
    try:
        value = int(text)
    except ValueError:
        raise DataError(f"{path}:{number}: {what} {text!r} is not an integer") from None
    if value < minimum:
        raise DataError(f"{path}:{number}: {what} {value} is below {minimum}")
    return value


def read_class_index(path) -> list[str]:
    """Class names in label order from `classInd.txt`; indices must run 1, 2, 3, ..."""
    names = []
    for number, fields in _lines(path):
        if len(fields) != 2:
            raise DataError(f"{path}:{number}: expected '<index> <ClassName>', got {' '.join(fields)!r}")
        index = _int(fields[0], path, number, "class index", 1)
        if index != len(names) + 1:
            raise DataError(
                f"{path}:{number}: class index {index}, expected {len(names) + 1} (indices must "
                "be consecutive from 1)"
            )
        names.append(fields[1])
    if not names:
        raise DataError(f"{path}: no classes listed")
    return names


def _class_of(relative_path: str) -> str:
    return relative_path.replace("\\", "/").split("/")[0]


def read_official_list(path, class_names: list[str], videos_root: str = "") -> list[VideoRecord]:
    """Records of an official `trainlist0N.txt` or `testlist0N.txt` (label from the class folder,
    checked against the 1-based index when the line has one)."""
    label_of = {name: i for i, name in enumerate(class_names)}
    records = []
    for number, fields in _lines(path):
        if len(fields) not in (1, 2):
            raise DataError(f"{path}:{number}: expected 'Class/video.avi [index]', got {' '.join(fields)!r}")
        class_name = _class_of(fields[0])
        if class_name not in label_of:
            raise DataError(f"{path}:{number}: class folder {class_name!r} is not in classInd.txt")
        label = label_of[class_name]
        if len(fields) == 2:
            index = _int(fields[1], path, number, "class index", 1)
            if index != label + 1:
                raise DataError(
                    f"{path}:{number}: index {index} but classInd.txt gives {class_name!r} "
                    f"the index {label + 1}"
                )
        records.append(VideoRecord(os.path.join(videos_root, fields[0]), label))
    if not records:
        raise DataError(f"{path}: no videos listed")
    return records


def read_rawframes_list(
    path, frames_root: str = "", num_classes: int | None = None, class_index: tuple | None = None
) -> list[VideoRecord]:
    """Records of an mmaction2 rawframes list: `Class/v_… <num_frames> <label0>`. ``class_index``:
    (classInd.txt's path, its class names), which each line's class folder must agree with."""
    records = []
    for number, fields in _lines(path):
        if len(fields) != 3:
            raise DataError(
                f"{path}:{number}: expected '<frames dir> <num_frames> <label>', got {' '.join(fields)!r}"
            )
        num_frames = _int(fields[1], path, number, "frame count", 1)
        label = _check_label(_int(fields[2], path, number, "label", 0), num_classes, path, number)
        _check_class(fields[0], label, class_index, path, number)
        records.append(VideoRecord(os.path.join(frames_root, fields[0]), label, num_frames))
    if not records:
        raise DataError(f"{path}: no videos listed")
    return records


def read_videos_list(
    path, videos_root: str = "", num_classes: int | None = None, class_index: tuple | None = None
) -> list[VideoRecord]:
    """Records of an mmaction2 video list: `Class/v_….avi <label0>`; ``class_index`` as for
    ``read_rawframes_list``."""
    records = []
    for number, fields in _lines(path):
        if len(fields) != 2:
            raise DataError(f"{path}:{number}: expected '<video file> <label>', got {' '.join(fields)!r}")
        label = _check_label(_int(fields[1], path, number, "label", 0), num_classes, path, number)
        _check_class(fields[0], label, class_index, path, number)
        records.append(VideoRecord(os.path.join(videos_root, fields[0]), label))
    if not records:
        raise DataError(f"{path}: no videos listed")
    return records


def _check_label(label, num_classes, path, number):
    if num_classes is not None and label >= num_classes:
        raise DataError(f"{path}:{number}: label {label} is out of range for {num_classes} classes")
    return label


def _check_class(listed: str, label: int, class_index: tuple | None, path, number) -> None:
    """A line's class folder must be the class its label names in classInd.txt: a classInd.txt in
    another order than the lists' labels would otherwise name every prediction wrongly. Case is
    not compared (UCF-101 spells HandstandPushups both ways); a list without class folders is
    not checked."""
    if class_index is None or "/" not in listed.replace("\\", "/"):
        return
    index_path, class_names = class_index
    folder, name = _class_of(listed), class_names[label]
    if folder.lower() != name.lower():
        raise DataError(
            f"{path}:{number}: {listed} has label {label}, but {index_path} names label {label} "
            f"{name!r} (index {label + 1}); the class index and the lists disagree about the order"
        )


def class_names_from_records(records: list[VideoRecord], source: str) -> list[str]:
    """Class names by label, taken from the class folder of each record (mmaction2 lists carry no
    names). Every label from 0 to the largest must appear, always with the same folder."""
    names: dict[int, str] = {}
    for record in records:
        folder = _class_of(record.name)
        if names.setdefault(record.label, folder) != folder:
            raise DataError(
                f"{source}: label {record.label} is used for both {names[record.label]!r} and {folder!r}"
            )
    missing = [label for label in range(max(names) + 1) if label not in names]
    if missing:
        raise DataError(
            f"{source}: no video has label(s) {missing[:10]}; cannot name those classes "
            "(put classInd.txt in annotations/ or ucfTrainTestlist/)"
        )
    return [names[label] for label in range(len(names))]
