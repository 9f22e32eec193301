"""Where the UCF-101 files are under --data_path (the seed's mmaction2-style layout):

    ucf101/
      ucf101_{train,val}_split_{1,2,3}_rawframes.txt   (Class/v_… num_frames label)
      ucf101_{train,val}_split_{1,2,3}_videos.txt      (Class/v_….avi label)
      rawframes/Class/v_…/img_00001.jpg …
      videos/Class/v_….avi
      annotations/classInd.txt                         (optional: the official class index)

--data_path may be this `ucf101` folder or its parent. "val" is the official test list.
"""

import os
from dataclasses import dataclass

from glore.data.errors import DataError
from glore.data.lists import (
    VideoRecord,
    class_names_from_records,
    read_class_index,
    read_rawframes_list,
    read_videos_list,
)

FORMATS = ("rawframes", "videos")
CLASS_INDEX_PLACES = ("annotations/classInd.txt", "ucfTrainTestlist/classInd.txt", "classInd.txt")


@dataclass
class SplitData:
    train: list[VideoRecord]
    val: list[VideoRecord]
    class_names: list[str]
    data_format: str
    root: str


def list_path(root: str, subset: str, split: int, data_format: str) -> str:
    return os.path.join(root, f"ucf101_{subset}_split_{split}_{data_format}.txt")


def find_root(data_path: str) -> str:
    for candidate in (data_path, os.path.join(data_path, "ucf101")):
        if any(os.path.isfile(list_path(candidate, "train", s, f)) for s in (1, 2, 3) for f in FORMATS):
            return candidate
    raise DataError(
        f"--data_path {data_path}: no ucf101_train_split_N_rawframes.txt or _videos.txt in it or in its "
        "ucf101/ folder; create them from the official ucfTrainTestlist with python -m glore.data.prepare"
    )


def load_split(data_path: str, split: int = 1, data_format: str = "auto") -> SplitData:
    root = find_root(data_path)
    if data_format == "auto":
        present = [f for f in FORMATS if os.path.isfile(list_path(root, "train", split, f))]
        if not present:
            raise DataError(
                f"{root}: no list for split {split} (looked for {list_path(root, 'train', split, '*')})"
            )
        data_format = present[0]  # rawframes first: decoding JPEGs is cheaper than decoding video
    elif data_format not in FORMATS:
        raise ValueError(f"data format must be auto, rawframes or videos, got {data_format!r}")

    class_names, class_index = None, None
    for place in CLASS_INDEX_PLACES:
        if os.path.isfile(os.path.join(root, place)):
            class_names = read_class_index(os.path.join(root, place))
            class_index = (os.path.join(root, place), class_names)
            break
    num_classes = len(class_names) if class_names else None
    reader = read_rawframes_list if data_format == "rawframes" else read_videos_list
    media_root = os.path.join(root, data_format)
    train_list = list_path(root, "train", split, data_format)
    train = reader(train_list, media_root, num_classes, class_index)
    val = reader(list_path(root, "val", split, data_format), media_root, num_classes, class_index)
    if class_names is None:
        class_names = class_names_from_records(train + val, source=train_list)
    return SplitData(train, val, class_names, data_format, root)
