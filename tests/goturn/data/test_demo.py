"""goturn/data/demo.py: the synthetic set in the real formats, with one held-out video per
ALOV category (14), an occluder that passes in front of the object, and objects that leave the
picture for a while (not annotated while out, annotated by their visible part at the border)."""

import dataclasses

import numpy as np
import pytest

from goturn.data import demo
from goturn.data.alov import load_alov, parse_ann_file
from goturn.tracking.sequences import read_alov


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    return demo.generate(
        tmp_path_factory.mktemp("goturn") / "demo", videos_per_category=2, frames=41, det_images_per_folder=2
    )


def test_every_alov_category_holds_out_one_video(demo_root):
    validation = read_alov(demo_root / "ALOV", "val")
    assert [s.name.rsplit("_video", 1)[0] for s in validation] == list(demo.CATEGORIES)
    assert len(validation) == 14 and all(s.name.endswith("_video00002") for s in validation)
    pairs, report = load_alov(demo_root / "ALOV", "train")
    assert report.groups == 14 and len(pairs) > 0
    assert (demo_root / demo.MARKER).read_text().strip() == demo.FORMAT_VERSION


def test_annotations_are_polygons_inside_the_picture_every_fifth_frame(demo_root):
    for ann in sorted((demo_root / "ALOV" / "gt").glob("*/*.ann")):
        annotations = parse_ann_file(ann)
        frames = np.array([frame for frame, _ in annotations])
        assert (frames % demo.ANNOTATE_EVERY == 0).all(), ann
        boxes = np.array([box for _, box in annotations])
        assert (
            (boxes[:, :2] >= 0).all()
            and (boxes[:, 2] < demo.WIDTH).all()
            and (boxes[:, 3] < demo.HEIGHT).all()
        )
        first = ann.read_text().splitlines()[0].split()
        assert len(first) == 9 and first[0] == "1"  # frame number and four corners


def test_the_object_leaves_the_picture_and_comes_back(demo_root):
    """14-LongDuration: a run of annotated frames, a gap while the object is out, annotations again."""
    for video in ("14-LongDuration_video00001", "14-LongDuration_video00002"):
        frames = [
            frame
            for frame, _ in parse_ann_file(demo_root / "ALOV" / "gt" / "14-LongDuration" / f"{video}.ann")
        ]
        gaps = np.diff(frames)
        assert gaps.max() > demo.ANNOTATE_EVERY, (video, frames)  # some annotated frames are missing
        assert frames[0] == 0 and frames[-1] > frames[int(np.argmax(gaps))]  # seen again after the gap


def test_the_occluder_hides_the_object_which_keeps_its_box():
    """11-Occlusion rendered with and without its occluder (the same draws otherwise): the
    occluder covers most of the object's box on some frames, and the boxes are the same."""
    occluded = demo.CATEGORIES["11-Occlusion"]
    plain = dataclasses.replace(occluded, occluder=False)
    images, boxes = demo.render_video(occluded, np.random.default_rng(3), 41)
    clear_images, clear_boxes = demo.render_video(plain, np.random.default_rng(3), 41)
    assert all(box is not None for box in boxes)  # occluded, not gone: every frame has its box
    np.testing.assert_array_equal(np.array(boxes), np.array(clear_boxes))
    hidden = []
    for image, clear, box in zip(images, clear_images, boxes):
        x1, y1, x2, y2 = (round(v) for v in box)
        changed = np.abs(image[y1:y2, x1:x2].astype(int) - clear[y1:y2, x1:x2]).sum(axis=2) > 30
        hidden.append(changed.mean())
    assert max(hidden) > 0.6 and min(hidden) == 0.0, hidden
