"""GOTURN's data loaders on tiny data sets written in the real on-disk formats:
ALOV .ann polygons + JPEG frames, ILSVRC2014 DET XML + JPEG images."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from goturn.data.alov import VOT_OVERLAP, load_alov, parse_ann_file
from goturn.data.errors import DataError
from goturn.data.examples import load_pair
from goturn.data.imagenet_det import load_imagenet_det


def write_image(path, width=40, height=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((height, width, 3), 128, np.uint8)
    assert cv2.imwrite(str(path), image)


def write_alov_video(root, category, video, lines, frames=None, width=40, height=30):
    """``lines``: the .ann text lines; ``frames``: 1-based frame numbers to
    write as images (default: every annotated frame)."""
    ann = root / "gt" / category / f"{video}.ann"
    ann.parent.mkdir(parents=True, exist_ok=True)
    ann.write_text("\n".join(lines) + "\n")
    if frames is None:
        frames = [int(line.split()[0]) for line in lines if line.strip()]
    for frame in frames:
        write_image(root / "images" / category / video / f"{frame:08d}.jpg", width, height)
    return ann


def polygon(frame, x1, y1, x2, y2):
    """An ALOV line for an axis-aligned box given in 1-based corners."""
    return f"{frame} {x1} {y2} {x1} {y1} {x2} {y1} {x2} {y2}"


def test_ann_polygon_becomes_zero_based_box(tmp_path):
    ann = write_alov_video(
        tmp_path,
        "01-Light",
        "01-Light_video00001",
        [
            "1 10.5 20 12 8 30 9.5 28 22",  # a rotated quadrilateral
            polygon(6, 11, 9, 31, 23),
        ],
    )
    annotations = parse_ann_file(ann)
    assert [frame for frame, _ in annotations] == [0, 5]
    assert annotations[0][1] == pytest.approx((9.5, 7.0, 29.0, 21.0))
    assert annotations[1][1] == pytest.approx((10.0, 8.0, 30.0, 22.0))


@pytest.mark.parametrize(
    "bad_line", ["7 1 2 3 4 5 6 7", "7 1 2 3 4 5 6 7 x", "0 1 2 3 4 5 6 7 8", "2.5 1 2 3 4 5 6 7 8"]
)
def test_malformed_ann_line_names_file_line_and_text(tmp_path, bad_line):
    ann = write_alov_video(
        tmp_path, "01-Light", "01-Light_video00001", [polygon(1, 1, 1, 9, 9), "", bad_line], frames=[1]
    )
    with pytest.raises(DataError) as error:
        load_alov(tmp_path, "all")
    message = str(error.value)
    assert f"{ann}:3" in message and repr(bad_line) in message


def test_alov_pairs_split_and_skips(tmp_path):
    # Category A: 3 videos -> the last one is held out (max(1, int(0.005 * 3)) = 1).
    for number in (1, 2, 3):
        write_alov_video(
            tmp_path, "A", f"A_video{number:05d}", [polygon(f, f, 1, f + 10, 11) for f in (1, 6, 11)]
        )
    # Category B: one video with a single annotation (no pair: skipped, counted)
    # and one usable video listed after it.
    write_alov_video(tmp_path, "B", "B_video00001", [polygon(1, 1, 1, 9, 9)])
    write_alov_video(tmp_path, "B", "B_video00002", [polygon(1, 1, 1, 9, 9), polygon(5, 2, 2, 9, 9)])
    (tmp_path / "gt" / "C").mkdir(parents=True)  # a category without videos
    write_image(tmp_path / "images" / "D" / "D_video00001" / "00000001.jpg")  # frames, no .ann

    train, report = load_alov(tmp_path, "train")
    assert len(train) == 2 * 2 + 0  # A: videos 1-2, 2 pairs each; B: video 1 only, no pair
    assert report.skipped == {
        "videos without a pair of consecutive usable annotations": 1,
        "categories without .ann files": 2,
        "videos without an .ann file (in no split)": 1,
    }
    first = (train.paths[train.prev_image[0]], train.paths[train.curr_image[0]])
    assert first == (
        str(tmp_path / "images/A/A_video00001/00000001.jpg"),
        str(tmp_path / "images/A/A_video00001/00000006.jpg"),
    )
    np.testing.assert_allclose(train.prev_box[0], [0, 0, 10, 10])
    np.testing.assert_allclose(train.curr_box[0], [5, 0, 15, 10])

    val, _ = load_alov(tmp_path, "val")
    video_names = {val.paths[i].split("/")[-2] for i in val.prev_image}
    assert video_names == {"A_video00003", "B_video00002"}
    everything, _ = load_alov(tmp_path, "all")
    assert len(everything) == len(train) + len(val)


def pair_frames(table):
    """The (previous, current) frame names of each pair."""
    return [
        (Path(table.paths[p]).stem, Path(table.paths[c]).stem)
        for p, c in zip(table.prev_image, table.curr_image)
    ]


def test_alov_missing_frame_is_an_error_or_skipped_alone(tmp_path):
    ann = write_alov_video(
        tmp_path, "A", "A_video00001", [polygon(f, 1, 1, 9, 9) for f in (1, 6, 11, 16)], frames=[1, 6, 16]
    )
    with pytest.raises(DataError, match=r"frame 11 .*00000011\.jpg does not exist") as error:
        load_alov(tmp_path, "all")
    assert str(ann) in str(error.value)
    table, report = load_alov(tmp_path, "all", skip_bad=True)
    # Frame 11 is left out; its neighbours pair up across the gap.
    assert pair_frames(table) == [("00000001", "00000006"), ("00000006", "00000016")]
    assert report.skipped == {"annotations whose frame image is missing": 1}
    assert report.items == 4 and report.pairs == 2


def test_alov_pair_across_a_missing_middle_frame(tmp_path):
    write_alov_video(
        tmp_path, "A", "A_video00001", [polygon(f, 1, 1, 9, 9) for f in (1, 6, 11)], frames=[1, 11]
    )
    table, report = load_alov(tmp_path, "all", skip_bad=True)
    assert pair_frames(table) == [("00000001", "00000011")]
    assert report.skipped == {"annotations whose frame image is missing": 1}


def test_alov_malformed_lines_are_skipped_alone_and_counted(tmp_path):
    lines = [
        polygon(1, 1, 1, 9, 9),
        "6 1 2 3",  # too few numbers
        polygon(11, 2, 2, 10, 10),
        "16 5 5 5 5 5 5 5 5",  # zero-size polygon
        polygon(21, 3, 3, 11, 11),
        polygon(11, 4, 4, 12, 12),  # frame 11 again: the first line for it is kept
        "26 1 2 3 4 5 6 7 nan",  # not finite
        polygon(31, 5, 5, 13, 13),
    ]
    ann = write_alov_video(tmp_path, "A", "A_video00001", lines, frames=[1, 6, 11, 16, 21, 26, 31])
    with pytest.raises(DataError, match="use --skip_bad") as error:
        load_alov(tmp_path, "all")
    assert f"{ann}:2:" in str(error.value) and "'6 1 2 3'" in str(error.value)  # the first bad line
    table, report = load_alov(tmp_path, "all", skip_bad=True)
    assert pair_frames(table) == [
        ("00000001", "00000011"),
        ("00000011", "00000021"),
        ("00000021", "00000031"),
    ]
    np.testing.assert_allclose(table.curr_box[0], [1, 1, 9, 9])  # frame 11's first annotation
    assert report.skipped == {
        ".ann lines that do not parse": 2,
        ".ann lines with a zero-width or zero-height polygon": 1,
        ".ann lines annotating a frame a second time": 1,
    }
    assert report.items == 4 and report.pairs == 3 and report.groups == 1
    assert any(f"{ann}:6: frame 11 is annotated twice (also line 3)" in line for line in report.examples)


def test_alov_vot_overlap_can_be_excluded(tmp_path):
    for video in (VOT_OVERLAP[0], "01-Light_video00001", "01-Light_video00002"):
        write_alov_video(tmp_path, "01-Light", video, [polygon(f, 1, 1, 9, 9) for f in (1, 6)])
    kept, _ = load_alov(tmp_path, "all", exclude=VOT_OVERLAP)
    assert {kept.paths[i].split("/")[-2] for i in kept.prev_image} == {
        "01-Light_video00001",
        "01-Light_video00002",
    }


def det_xml(width, height, boxes):
    objects = "".join(
        f"<object><name>n1</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
        f"<ymax>{d}</ymax></bndbox></object>"
        for a, b, c, d in boxes
    )
    return (
        f"<annotation><folder>f</folder><filename>x</filename><size><width>{width}</width>"
        f"<height>{height}</height><depth>3</depth></size>{objects}</annotation>"
    )


def write_det_image(root, folder, name, width, height, boxes, xml_size=None, image=True):
    xml = root / "gt" / folder / f"{name}.xml"
    xml.parent.mkdir(parents=True, exist_ok=True)
    xml.write_text(det_xml(*(xml_size or (width, height)), boxes))
    (root / "images" / folder).mkdir(parents=True, exist_ok=True)
    if image:
        write_image(root / "images" / folder / f"{name}.JPEG", width, height)
    return xml


def test_det_filter_rules(tmp_path):
    write_det_image(
        tmp_path,
        "n01",
        "n01_1",
        100,
        50,
        [
            (10, 10, 40, 30),  # kept
            (0, 0, 66, 20),  # width 66 = 0.66 * 100: kept (only wider is skipped)
            (0, 0, 67, 20),  # too wide
            (10, 0, 20, 34),  # too tall (34 > 33)
            (-1, 5, 20, 20),  # negative xmin
            (5, -1, 20, 20),  # negative ymin
            (20, 5, 20, 20),  # xmax <= xmin
            (5, 20, 20, 19),  # ymax <= ymin
        ],
    )
    write_det_image(tmp_path, "n01", "n01_2", 100, 50, [(0, 0, 90, 45)])  # nothing usable
    table, report = load_imagenet_det(tmp_path, "all")
    assert len(table) == 2
    np.testing.assert_allclose(table.prev_box, [[10, 10, 40, 30], [0, 0, 66, 20]])
    np.testing.assert_array_equal(table.prev_image, table.curr_image)  # still images: prev == curr
    assert report.skipped == {
        "objects larger than 0.66 of the image": 3,
        "objects with an invalid box": 4,
        "images without a usable object": 1,
    }


def test_det_box_is_rescaled_to_the_decoded_size(tmp_path):
    # The XML says 200 x 100; the JPEG is 100 x 25: x scales by 1/2, y by 1/4.
    write_det_image(tmp_path, "n01", "n01_1", 100, 25, [(20, 20, 60, 40)], xml_size=(200, 100))
    table, _ = load_imagenet_det(tmp_path, "all")
    pair = load_pair(table, 0)
    np.testing.assert_allclose(pair.prev_box, [10, 5, 30, 10])
    np.testing.assert_allclose(pair.curr_box, [10, 5, 30, 10])
    assert pair.prev_image is pair.curr_image  # decoded once


def test_exif_rotation_is_ignored_the_box_fits_the_stored_pixels(tmp_path):
    """A Flickr JPEG tagged "rotate 90" (EXIF orientation 6): the box was drawn on the stored
    500 x 375 pixels; decoding must not turn them into 375 x 500 and stretch the box."""
    from PIL import Image

    write_det_image(tmp_path, "n01", "n01_1", 500, 375, [(10, 20, 100, 200)])
    path = tmp_path / "images" / "n01" / "n01_1.JPEG"
    image = Image.open(path)
    exif = image.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    image.save(path, exif=exif.tobytes())
    table, _ = load_imagenet_det(tmp_path, "all")
    pair = load_pair(table, 0)
    assert pair.prev_image.shape == (375, 500, 3)
    np.testing.assert_allclose(pair.prev_box, [10, 20, 100, 200])


def test_det_folders_one_level_deeper_are_indexed(tmp_path):
    """ILSVRC2015's layout keeps the 2013 images in ILSVRC2013_train/<synset>/ beside the flat
    ILSVRC2014_train_0000/: both are indexed, in sorted order."""
    write_det_image(tmp_path, "ILSVRC2013_train/n02", "n02_1", 60, 40, [(10, 10, 30, 30)])
    write_det_image(tmp_path, "ILSVRC2013_train/n01", "n01_1", 60, 40, [(5, 5, 25, 25)])
    write_det_image(tmp_path, "ILSVRC2014_train_0000", "a_1", 60, 40, [(1, 1, 20, 20)])
    table, report = load_imagenet_det(tmp_path, "all")
    assert report.groups == 3 and not report.skipped and len(table) == 3
    assert [Path(path).parent.name for path in table.paths] == ["n01", "n02", "ILSVRC2014_train_0000"]


def test_det_split_is_sorted_and_negatives_count(tmp_path):
    folders = [f"n{k:02d}" for k in range(1, 11)] + ["ILSVRC2013_DET_train_extra0"]
    for folder in reversed(folders):
        boxes = [] if "extra" in folder else [(1, 1, 5, 5)]
        write_det_image(tmp_path, folder, f"{folder}_1", 20, 20, boxes)
    # 11 folders: int(0.995 * 11) = 10 train, the last one (sorted) held out.
    val, _ = load_imagenet_det(tmp_path, "val")
    assert [val.paths[i].split("/")[-2] for i in val.prev_image] == ["n10"]
    train, report = load_imagenet_det(tmp_path, "train")
    assert len(train) == 9 and report.skipped == {"images without a usable object": 1}


def test_det_errors_name_the_file(tmp_path):
    xml = write_det_image(tmp_path, "n01", "n01_1", 20, 20, [(1, 1, 5, 5)], image=False)
    with pytest.raises(DataError, match=r"n01_1\.JPEG does not exist") as error:
        load_imagenet_det(tmp_path, "all")
    assert str(xml) in str(error.value)
    assert len(load_imagenet_det(tmp_path, "all", skip_bad=True)[0]) == 0

    xml.write_text(det_xml(20, 20, [(1, 1, 5, 5)]).replace("<xmax>5</xmax>", "<xmax>five</xmax>"))
    write_image(tmp_path / "images" / "n01" / "n01_1.JPEG", 20, 20)
    with pytest.raises(DataError, match=r"object 1 bndbox/xmax should be a number, got 'five'"):
        load_imagenet_det(tmp_path, "all")
    xml.write_text("<annotation><size><width>20</width>")
    with pytest.raises(DataError, match="not well-formed XML") as error:
        load_imagenet_det(tmp_path, "all")
    assert str(xml) in str(error.value)


def test_det_annotations_without_their_image_folder_are_missing_images(tmp_path):
    write_det_image(tmp_path, "n01", "n01_1", 20, 20, [(1, 1, 5, 5)])
    xml = write_det_image(tmp_path, "n02", "n02_1", 20, 20, [(1, 1, 5, 5)], image=False)
    (tmp_path / "images" / "n02").rmdir()
    with pytest.raises(DataError, match=r"n02_1\.JPEG does not exist") as error:
        load_imagenet_det(tmp_path, "all")
    assert str(xml) in str(error.value)


def test_unreadable_image_is_named(tmp_path):
    write_det_image(tmp_path, "n01", "n01_1", 20, 20, [(1, 1, 5, 5)])
    (tmp_path / "images" / "n01" / "n01_1.JPEG").write_bytes(b"not a jpeg")
    table, _ = load_imagenet_det(tmp_path, "all")
    with pytest.raises(DataError, match=r"cannot read image .*n01_1\.JPEG"):
        load_pair(table, 0)


def test_missing_data_folders_say_what_is_expected(tmp_path):
    with pytest.raises(DataError, match=r"expected .*gt/<category>/<video>\.ann"):
        load_alov(tmp_path / "ALOV")
    with pytest.raises(DataError, match=r"expected .*images/<folder>/<name>\.JPEG"):
        load_imagenet_det(tmp_path / "ILSVRC2014_Det")
