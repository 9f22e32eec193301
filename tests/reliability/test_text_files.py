"""A UTF-8 byte-order mark at the start of a text file the package reads (Windows editors write
one) is dropped: it would stick to the first path or number and fail later, naming a path that
looks right."""

import numpy as np
import pytest

from glore.data.lists import read_class_index, read_official_list, read_rawframes_list, read_videos_list
from goturn.data.alov import parse_ann_file
from goturn.tracking.sequences import read_box_file

BOM = "\ufeff"


def test_glore_lists_with_a_bom(tmp_path):
    rawframes = tmp_path / "rawframes.txt"
    rawframes.write_text(f"{BOM}JumpRope/v_JumpRope_g08_c01 97 0\n", encoding="utf-8")
    assert read_rawframes_list(rawframes, "/d")[0].path == "/d/JumpRope/v_JumpRope_g08_c01"
    videos = tmp_path / "videos.txt"
    videos.write_text(f"{BOM}JumpRope/v_JumpRope_g08_c01.avi 0\n", encoding="utf-8")
    assert read_videos_list(videos, "/d")[0].path == "/d/JumpRope/v_JumpRope_g08_c01.avi"
    index = tmp_path / "classInd.txt"
    index.write_text(f"{BOM}1 JumpRope\r\n2 YoYo\r\n", encoding="utf-8")
    assert read_class_index(index) == ["JumpRope", "YoYo"]
    official = tmp_path / "trainlist01.txt"
    official.write_text(f"{BOM}YoYo/v_YoYo_g25_c05.avi 2\n", encoding="utf-8")
    assert read_official_list(official, ["JumpRope", "YoYo"])[0].label == 1


def test_goturn_annotations_with_a_bom(tmp_path):
    ann = tmp_path / "video.ann"
    ann.write_text(f"{BOM}1 10 20 30 20 30 40 10 40\n", encoding="utf-8")
    assert parse_ann_file(ann)[0][1] == pytest.approx((9.0, 19.0, 29.0, 39.0))
    boxes = tmp_path / "groundtruth.txt"
    boxes.write_text(f"{BOM}1,2,3,4\n", encoding="utf-8")
    assert np.array_equal(read_box_file(boxes), [[1, 2, 3, 4]])
