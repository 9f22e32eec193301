"""The tracker API (crop / uncrop round trip, batching, image types, the
GOT-10k call pattern) and the tracking command line."""

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from common.errors import UserError
from goturn.data.crops import crop_with_context, to_network_input
from goturn.model import GoturnNet
from goturn.tracking import rendering, track
from goturn.tracking.baselines import NoMotionTracker
from goturn.tracking.tracker import Tracker
from tests.conftest import run_python
from tests.helpers.goturn_tracking_fixtures import (
    HEIGHT,
    WIDTH,
    ConstantNet,
    ScriptedNet,
    perfect_outputs,
    random_checkpoint,
    render_frames,
    write_jpeg,
)

# Widths and heights whose doubles are far from integers: the crop canvas is
# ceil(2 w) pixels wide, so a box within float error of an integer 2 w could
# land on either side of it.
EDGE_TARGET = np.array([[1.3, 2.2, 20.3, 16.3]]) + np.arange(6)[:, None] * [[2.1, 1.7, 0.33, -0.23]]
MIDDLE_TARGET = np.array([[40.2, 30.1, 22.3, 18.3]]) + np.arange(6)[:, None] * [[-1.6, 2.2, -0.63, 0.43]]
CORNER_TARGET = np.array([[60.1, 38.2, 30.3, 26.3]]) + np.arange(6)[:, None] * [[0.4, 0.6, 0.57, 0.5]]


def test_a_perfect_regressor_reproduces_the_ground_truth():
    """The search crop is cut around the previous box and the prediction
    mapped back through the same geometry: with the network answering the
    true box in crop units, the tracker returns the true box, also where the
    context region leaves the image."""
    for truth in (EDGE_TARGET, MIDDLE_TARGET, CORNER_TARGET):
        assert (truth[:, 0] + truth[:, 2]).max() <= WIDTH and (truth[:, 1] + truth[:, 3]).max() <= HEIGHT
        frames = render_frames(truth, seed=1)
        tracker = Tracker(ScriptedNet(perfect_outputs([truth])), device="cpu")
        tracker.init(frames[0], truth[0])
        for frame, expected in zip(frames[1:], truth[1:]):
            box = tracker.update(Image.fromarray(frame))
            assert isinstance(box, list) and all(isinstance(v, float) for v in box)
            np.testing.assert_allclose(box, expected, atol=1e-3)


def test_several_targets_go_through_the_network_as_one_batch():
    truths = [EDGE_TARGET, MIDDLE_TARGET, CORNER_TARGET]
    frames = render_frames(MIDDLE_TARGET, seed=2)
    network = ScriptedNet(perfect_outputs(truths))
    tracker = Tracker(network, device="cpu")
    tracker.init_targets(frames[0], [t[0] for t in truths])
    for index, frame in enumerate(frames[1:], start=1):
        boxes = tracker.update_targets(frame)
        np.testing.assert_allclose(boxes, [t[index] for t in truths], atol=1e-3)
    assert all(search.shape == (3, 3, 227, 227) for _, search in network.inputs)
    with pytest.raises(RuntimeError, match="update_targets"):
        tracker.update(frames[0])


def test_the_network_gets_bgr_crops_minus_the_caffenet_mean():
    frames = render_frames(MIDDLE_TARGET, seed=3)
    network = ScriptedNet([np.array([[2.5, 2.5, 7.5, 7.5]])])
    tracker = Tracker(network, device="cpu")
    tracker.init(Image.fromarray(frames[0]), MIDDLE_TARGET[0])
    tracker.update(frames[1])
    corners = np.concatenate([MIDDLE_TARGET[0, :2], MIDDLE_TARGET[0, :2] + MIDDLE_TARGET[0, 2:]])
    for given, rgb in zip(network.inputs[0], frames[:2]):
        crop, _ = crop_with_context(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), corners)
        expected = to_network_input(torch.from_numpy(crop[None]))
        torch.testing.assert_close(given, expected)


def test_grey_and_rgba_images_and_bad_input():
    frame = render_frames(MIDDLE_TARGET[:1], seed=4)[0]
    tracker = Tracker(ConstantNet(units=(2.5, 2.5, 7.5, 7.5)), device="cpu")
    with pytest.raises(RuntimeError, match="init"):
        tracker.update(frame)
    # A network saying "the object stayed" keeps a box whose context region
    # (2w x 2h) is a whole number of pixels: the crop canvas is ceil(2w) wide.
    box = [40.0, 30.0, 22.5, 18.5]
    tracker.init(frame[:, :, 0], box)
    rgba = np.concatenate([frame, np.full((*frame.shape[:2], 1), 255, np.uint8)], axis=2)
    np.testing.assert_allclose(tracker.update(rgba), box, atol=1e-4)
    with pytest.raises(TypeError, match="uint8"):
        tracker.update(frame.astype(np.float32))
    with pytest.raises(ValueError, match="positive"):
        tracker.init(frame, [1, 1, 0, 5])
    # Outside the image (e.g. corners passed as x, y, w, h): refused, and the last good start kept.
    height, width = frame.shape[:2]
    for outside in ([width + 5, 10, 10, 10], [10, height, 5, 5], [-20, 5, 20, 5]):
        with pytest.raises(ValueError, match=f"outside the {width}x{height} image"):
            tracker.init(frame, outside)
    np.testing.assert_allclose(tracker.update(rgba), box, atol=1e-4)


def test_track_follows_the_got10k_toolkit_call_pattern(tmp_path):
    """ExperimentOTB / ExperimentGOT10k call ``tracker.track(img_files, box,
    visualize=...)`` and read ``name`` and ``is_deterministic``."""
    frames = render_frames(CORNER_TARGET, seed=5)
    paths = []
    for index, frame in enumerate(frames):
        paths.append(str(tmp_path / f"{index:04d}.jpg"))
        write_jpeg(tmp_path / f"{index:04d}.jpg", frame)
    for tracker in (Tracker(ConstantNet(), device="cpu", name="Stub"), NoMotionTracker()):
        boxes, times = tracker.track(paths, CORNER_TARGET[0], visualize=False)
        assert boxes.shape == (len(frames), 4) and times.shape == (len(frames),)
        np.testing.assert_array_equal(boxes[0], CORNER_TARGET[0])
        assert tracker.is_deterministic and tracker.name in ("Stub", "NoMotion")
    np.testing.assert_array_equal(boxes, np.repeat(CORNER_TARGET[:1], len(frames), axis=0))


def test_track_command_line_writes_a_video_a_gif_and_the_boxes(tmp_path, tmp_path_factory):
    checkpoint = random_checkpoint(tmp_path_factory)
    frames_dir = tmp_path / "frames"
    frames = render_frames(MIDDLE_TARGET[:4], seed=6)
    for index, frame in enumerate(frames, start=1):
        write_jpeg(frames_dir / f"{index:05d}.jpg", frame)
    out = tmp_path / "out" / "track.mp4"
    box = ",".join(f"{v}" for v in MIDDLE_TARGET[0])
    result = run_python(
        "-m",
        "goturn.tracking.track",
        "--checkpoint",
        str(checkpoint),
        "--input",
        str(frames_dir),
        "--box",
        box,
        "--out",
        str(out),
        "--gif",
        str(tmp_path / "track.gif"),
        "--device",
        "cpu",
        "--min_score",
        "0.999",
    )
    assert result.returncode == 0, result.stderr
    assert "frames/s" in result.stdout
    capture = cv2.VideoCapture(str(out))
    decoded = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        decoded.append(image)
    assert len(decoded) == len(frames) and decoded[0].shape == (HEIGHT, WIDTH, 3)
    # Frame 0 shows the given box: its outline is drawn in the box colour (score 1: not lost).
    x, y = round(MIDDLE_TARGET[0, 0]), round(MIDDLE_TARGET[0, 1] + MIDDLE_TARGET[0, 3] / 2)
    b, g, r = (int(v) for v in decoded[0][y, x])
    assert b > 180 and r < 110, (r, g, b)
    boxes = np.loadtxt(out.with_suffix(".txt"), delimiter=",")
    assert boxes.shape == (len(frames), 4)
    np.testing.assert_allclose(boxes[0], MIDDLE_TARGET[0], atol=1e-3)
    # The scores in a file of their own, marked below --min_score; those frames' boxes are red.
    scores = np.loadtxt(tmp_path / "out" / "track_score.txt", delimiter=",")
    assert scores.shape == (len(frames), 2) and scores[0].tolist() == [1.0, 0.0]
    assert ((scores[:, 0] >= 0) & (scores[:, 0] <= 1)).all()
    np.testing.assert_array_equal(scores[:, 1], scores[:, 0] < 0.999)
    assert f"{int(scores[:, 1].sum())} of {len(frames)} frames scored below" in result.stdout
    with Image.open(tmp_path / "track.gif") as gif:
        assert gif.n_frames == len(frames)

    # The video just written, as input (decoded by PyAV), stopping early.
    decoded, rate = track.read_frames(out, max_frames=3)
    decoded = list(decoded)
    assert rate == pytest.approx(rendering.DEFAULT_FPS) and len(decoded) == 3
    assert decoded[0].shape == (HEIGHT, WIDTH, 3) and decoded[0].dtype == np.uint8


def test_a_truncated_frame_is_named_and_no_partial_output_is_left(tmp_path, tmp_path_factory):
    frames_dir = tmp_path / "frames"
    for index, frame in enumerate(render_frames(MIDDLE_TARGET[:5], seed=6), start=1):
        write_jpeg(frames_dir / f"{index:05d}.jpg", frame)
    broken = frames_dir / "00004.jpg"
    broken.write_bytes(broken.read_bytes()[:600])
    out = tmp_path / "out" / "track.mp4"
    box = ",".join(f"{v}" for v in MIDDLE_TARGET[0])
    flags = {"--checkpoint": random_checkpoint(tmp_path_factory), "--input": frames_dir, "--box": box}
    flags |= {"--out": out, "--gif": out.with_suffix(".gif"), "--device": "cpu"}
    args = track.get_args_parser().parse_args([str(item) for pair in flags.items() for item in pair])
    with pytest.raises(UserError, match=r"00004\.jpg: not a readable image"):
        track.main(args)
    # Three frames were tracked and encoded before the broken one: none of it is left behind.
    assert list(out.parent.iterdir()) == []


def test_a_start_box_larger_than_the_first_frame_is_refused(tmp_path, tmp_path_factory):
    """It was tracked, and the box collapsed to 1x1 (the frame a small part of the search region)."""
    frames_dir = tmp_path / "frames"
    for index, frame in enumerate(render_frames(MIDDLE_TARGET[:2], seed=6), start=1):
        write_jpeg(frames_dir / f"{index:05d}.jpg", frame)
    out = tmp_path / "out" / "track.mp4"
    flags = ["--checkpoint", random_checkpoint(tmp_path_factory), "--input", frames_dir, "--out", out]
    parser = track.get_args_parser()
    for box in ("0,0,1000,1000", f"-5,0,{WIDTH + 10},20"):
        args = parser.parse_args([str(flag) for flag in [*flags, f"--box={box}", "--device", "cpu"]])
        with pytest.raises(UserError, match=rf"larger than the {WIDTH}x{HEIGHT} first frame"):
            track.main(args)
        assert list(out.parent.iterdir()) == []


def test_box_argument_is_checked():
    assert track.parse_box("1, 2,3.5,4") == [1.0, 2.0, 3.5, 4.0]
    for bad in ("1,2,3", "1,2,0,4", "a,b,c,d"):
        with pytest.raises(Exception, match="x,y,w,h"):
            track.parse_box(bad)


class StayingNet(GoturnNet):
    """The demo's network (random towers) whose regression always answers "the object stayed":
    the tracker's box stays put, so what its crop shows decides the score."""

    def __init__(self):
        torch.manual_seed(0)
        super().__init__("caffenet-tiny")

    def regress(self, target_codes, search_codes):
        return torch.tensor([[2.5, 2.5, 7.5, 7.5]]).expand(len(search_codes), 4)


def test_the_score_drops_when_the_object_leaves_the_box():
    """Frames 0-3 show the object in the (fixed) box, frames 4-7 only the background: the
    appearance score stays near 1 on the first, falls on the others; several targets get one
    score each, and the toolkit's track() leaves them per frame."""
    box = np.array([30.0, 20.0, 24.0, 20.0])
    shown = [box] * 4 + [np.array([-60.0, -60.0, 24.0, 20.0])] * 4  # drawn off the image: gone
    rng = np.random.default_rng(7)
    background = rng.integers(0, 120, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames = []
    for x, y, w, h in shown:
        frame = background.copy()
        if x >= 0:
            frame[int(y) : int(y + h), int(x) : int(x + w)] = (230, 200, 40)
        frames.append(frame)
    tracker = Tracker(StayingNet(), device="cpu")
    tracker.init(frames[0], box)
    assert tracker.last_score == 1.0
    scores = []
    for frame in frames[1:]:
        np.testing.assert_allclose(tracker.update(frame), box, atol=1e-3)
        scores.append(tracker.last_score)
    present, gone = np.array(scores[:3]), np.array(scores[3:])
    assert (gone >= 0).all() and (present <= 1).all()
    assert present.min() > 0.99 and gone.max() < present.min() - 0.05, scores

    tracker.init_targets(frames[0], [box, box + np.array([40.0, 20.0, 0.0, 0.0])])
    tracker.update_targets(frames[5])
    assert tracker.last_scores.shape == (2,) and np.isnan(tracker.last_score)


def test_bf16_autocast_tracks_like_fp32():
    frames = render_frames(MIDDLE_TARGET, seed=8)
    torch.manual_seed(0)
    model = GoturnNet("caffenet-tiny").eval()
    runs = {}
    for precision in ("fp32", "bf16"):
        tracker = Tracker(model, device="cpu", precision=precision)
        assert tracker.precision == precision
        tracker.init(frames[0], MIDDLE_TARGET[0])
        runs[precision] = [[*tracker.update(frame), tracker.last_score] for frame in frames[1:3]]
    np.testing.assert_allclose(runs["bf16"], runs["fp32"], atol=0.5)
    assert Tracker(model, device="cpu").precision == "fp32"  # auto on a CPU


class JumpingNet(StayingNet):
    """Forward passes answer "moved one box width right", backward passes "stayed": the box
    tracked back does not return to where it came from."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def regress(self, target_codes, search_codes):
        self.calls += 1
        forward = self.calls % 2 == 1
        units = [7.5, 2.5, 12.5, 7.5] if forward else [2.5, 2.5, 7.5, 7.5]
        return torch.tensor([units]).expand(len(search_codes), 4)


def test_the_forward_backward_score_is_the_iou_of_the_way_back():
    frames = render_frames(MIDDLE_TARGET, seed=9)
    box = [20.0, 20.0, 16.0, 12.0]
    consistent = Tracker(StayingNet(), device="cpu", score="fb")
    consistent.init(frames[0], box)
    consistent.update(frames[1])
    assert consistent.last_score == pytest.approx(1.0)
    jumping = Tracker(JumpingNet(), device="cpu", score="fb")
    jumping.init(frames[0], box)
    moved = jumping.update(frames[1])
    assert moved[0] == pytest.approx(box[0] + box[2]) and jumping.model.calls == 2
    assert jumping.last_score == pytest.approx(0.0)  # back where it jumped to: no overlap
    with pytest.raises(ValueError, match="score must be one of"):
        Tracker(StayingNet(), device="cpu", score="psr")
