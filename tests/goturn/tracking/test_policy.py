"""The tracker's policy (hold a doubted box, first-frame template, sides cut by the border),
where its defaults come from, and the colour part of the lost-target score."""

import numpy as np
import pytest
import torch

from common.errors import UserError
from goturn.model import GoturnNet
from goturn.tracking import track
from goturn.tracking.lost_target import BOX_PIXELS, colour_histograms, colour_score
from goturn.tracking.policy import TrackingPolicy, policy_for
from goturn.tracking.tracker import Tracker, keep_cut_sides

WIDTH, HEIGHT = 160, 120
BOX = np.array([60.0, 40.0, 24.0, 20.0])
STAY = [2.5, 2.5, 7.5, 7.5]  # crop units: the box where it was
RIGHT = [7.5, 2.5, 12.5, 7.5]  # one box width to the right


class AnsweringNet(GoturnNet):
    """The demo's network (random towers) whose regression gives fixed answers, one per call
    from ``answers`` (the last repeated), and remembers the target features it was given."""

    def __init__(self, *answers):
        torch.manual_seed(0)
        super().__init__("caffenet-tiny")
        self.answers, self.templates = list(answers), []

    def regress(self, target_codes, search_codes):
        self.templates.append(target_codes.clone())
        units = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return torch.tensor([units]).expand(len(search_codes), 4)


def scene(object_at=BOX, seed=3) -> np.ndarray:
    """A dark noisy background with a yellow object at ``object_at`` (None: no object)."""
    frame = np.random.default_rng(seed).integers(0, 90, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    if object_at is not None:
        x, y, w, h = (int(v) for v in object_at)
        frame[y : y + h, x : x + w] = (230, 200, 40)
    return frame


@pytest.mark.parametrize("score", ["combined", "appearance", "colour"])
def test_each_score_is_high_on_the_object_and_low_on_background(score):
    tracker = Tracker(AnsweringNet(STAY), device="cpu", score=score)
    tracker.init(scene(), BOX)
    tracker.update(scene())
    on_object = tracker.last_score
    tracker.update(scene(object_at=None))
    assert on_object > 0.99 and tracker.last_score < on_object - 0.2, (on_object, tracker.last_score)


def test_colour_score_compares_histograms_of_the_box_half_of_the_crop():
    crops = np.zeros((3, 227, 227, 3), np.uint8)
    crops[1, BOX_PIXELS, BOX_PIXELS] = (0, 0, 255)  # the box half, another colour
    crops[2, : BOX_PIXELS.start] = (0, 0, 255)  # only the context differs: the box half is the same
    histograms = colour_histograms(crops)
    np.testing.assert_allclose(histograms.sum(axis=1), 1.0)
    np.testing.assert_allclose(colour_score(histograms, histograms[0]), [1.0, 0.0, 1.0], atol=1e-9)


def test_a_doubted_box_is_not_followed_and_the_object_is_taken_back():
    """The network answers "moved right" twice (onto background), then "stayed": with
    hold_below the tracker keeps the box on the object and its template; without, it leaves."""
    frames = [scene()] * 4
    held = Tracker(AnsweringNet(RIGHT, RIGHT, STAY), device="cpu", hold_below=0.5)
    held.init(frames[0], BOX)
    for frame in frames[1:3]:
        np.testing.assert_allclose(held.update(frame), BOX, atol=1e-6)
        assert held.last_score < 0.5  # the score is the doubted box's
    np.testing.assert_allclose(held.update(frames[3]), BOX, atol=1e-6)
    assert held.last_score > 0.99
    first, *later = held.model.templates
    for template in later:  # the held target kept the template of the box on the object
        torch.testing.assert_close(template, first)

    followed = Tracker(AnsweringNet(RIGHT, RIGHT, STAY), device="cpu")
    followed.init(frames[0], BOX)
    assert followed.update(frames[1])[0] == pytest.approx(BOX[0] + BOX[2])


def test_the_first_template_is_kept_and_the_previous_one_follows_the_box():
    frames = [scene(), scene(BOX + np.array([6, 0, 0, 0])), scene(BOX + np.array([12, 0, 0, 0]))]
    templates = {}
    for template in ("first", "previous"):
        tracker = Tracker(AnsweringNet([3.5, 2.5, 8.5, 7.5]), device="cpu", template=template)
        tracker.init(frames[0], BOX)
        for frame in frames[1:]:
            tracker.update(frame)
        templates[template] = tracker.model.templates
    torch.testing.assert_close(templates["first"][1], templates["first"][0])
    assert not torch.equal(templates["previous"][1], templates["previous"][0])
    torch.testing.assert_close(templates["previous"][0], templates["first"][0])


def test_the_policy_comes_from_the_checkpoint_unless_given(tmp_path):
    state = GoturnNet("caffenet-tiny").state_dict()
    recorded = tmp_path / "demo.pth"
    demo = {
        "track_hold_below": 0.3,
        "track_template": "first",
        "track_border": "keep",
        "track_score": "colour",
    }
    torch.save({"model": state, "args": demo}, recorded)
    bare = tmp_path / "bare.pth"
    torch.save({"model": state}, bare)
    assert policy_for(recorded) == TrackingPolicy(0.3, "first", "keep", "colour")
    assert policy_for(bare) == TrackingPolicy(0.0, "previous", "clip", "combined")  # the original's
    given = policy_for(recorded, hold_below=0.0, template="previous", border="clip", score="combined")
    assert given == TrackingPolicy()
    tracker = Tracker(recorded, device="cpu")
    assert (tracker.policy, tracker.score) == (TrackingPolicy(0.3, "first", "keep", "colour"), "colour")
    with pytest.raises(ValueError, match="template must be one of"):
        TrackingPolicy(template="last")
    with pytest.raises(TypeError, match="not policy settings"):
        policy_for(bare, hold=0.3)
    broken = tmp_path / "broken.pth"
    torch.save({"model": state, "args": {**demo, "track_border": "wrap"}}, broken)
    with pytest.raises(UserError, match=f"{broken}: .*border must be one of"):
        policy_for(broken)


def test_the_policy_flags_are_checked():
    parser = track.get_args_parser()
    required = ["--checkpoint", "c.pth", "--input", "v.mp4", "--box", "1,2,3,4", "--out", "o.mp4"]
    chosen = ["--hold_below", "0.25", "--template", "first", "--border", "keep", "--score", "colour"]
    args = parser.parse_args([*required, *chosen])
    assert (args.hold_below, args.template, args.border, args.score) == (0.25, "first", "keep", "colour")
    defaults = parser.parse_args(required)
    assert (defaults.hold_below, defaults.template, defaults.border, defaults.score) == (None,) * 4
    with pytest.raises(SystemExit):
        parser.parse_args([*required, "--hold_below", "1.5"])


def test_a_side_cut_by_the_border_keeps_its_length_beyond_it():
    previous = np.array([[10.0, 50.0, 50.0, 90.0], [100.0, 10.0, 140.0, 40.0], [0.0, 0.0, 160.0, 120.0]])
    cut = np.array([[0.0, 52.0, 20.0, 88.0], [110.0, 10.0, 159.0, 40.0], [0.0, 10.0, 160.0, 100.0]])
    kept = keep_cut_sides(cut, previous, WIDTH, HEIGHT)
    # Left side on the border: the box keeps its 40 px width, reaching 20 px out of the image;
    # the height, shrunk away from any border, is the network's.
    np.testing.assert_allclose(kept[0], [-20.0, 52.0, 20.0, 88.0])
    np.testing.assert_allclose(kept[1], cut[1])  # grown: the network's
    np.testing.assert_allclose(kept[2], cut[2])  # cut on both sides of x, shrunk in y inside


def test_with_border_keep_the_box_that_leaves_the_picture_keeps_its_size():
    """The network answers "one box width to the left" from a box at the left border: clipped,
    the box becomes a sliver; kept, it moves out whole and is reported as its part inside."""
    at_border = np.array([4.0, 40.0, 24.0, 20.0])
    left = [-2.5, 2.5, 2.5, 7.5]  # one box width to the left
    boxes = {}
    for border in ("clip", "keep"):
        tracker = Tracker(AnsweringNet(left), device="cpu", border=border, score="colour")
        tracker.init(scene(at_border), at_border)
        boxes[border] = [tracker.update(scene(None)) for _ in range(2)]
    assert boxes["clip"][0][2] == pytest.approx(4.0)  # cut at x = 0: 4 px wide
    assert boxes["clip"][1][2] == pytest.approx(1.0)  # and then a 1-pixel sliver
    np.testing.assert_allclose(boxes["keep"][0], [0.0, 40.0, 4.0, 20.0])  # reported: the part inside
    internal = tracker._previous_boxes[0]
    assert internal[2] - internal[0] == pytest.approx(24.0)  # tracked: the whole box
