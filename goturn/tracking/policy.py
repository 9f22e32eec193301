"""What the tracker does besides GOTURN's regression, and where those settings come from.

- ``hold_below``: a frame whose lost-target score falls below this is not believed: the
  target keeps its last believed box and template, and the next frame is searched around
  them again, until a box scores at least this much (the object is back, or out from behind
  the occluder). 0 turns it off (the original: every box is the next frame's start).
- ``template``: the target crop the network compares the search crop with: ``previous`` (the
  original: the crop around the last box) or ``first`` (the first frame's crop, which an
  occluder or a drift cannot overwrite).
- ``border``: ``clip`` (the original: a box is cut at the image border, so an object that
  walks out of the picture shrinks its box to a sliver, whose search crop is then too small
  to see it come back) or ``keep`` (a side cut by the border keeps its last length beyond
  it; the box reported is the part inside the image).
- ``score``: the lost-target score that decides (``lost_target.SCORES``).

The defaults come from the checkpoint: a training recipe records the settings its model was
measured with (``goturn.train --track_hold_below / --track_template / --track_border /
--track_score``; the demo's are ``0.3``, ``first``, ``keep`` and ``colour``, the Caffe recipe
keeps the original's and the ``combined`` score). Command-line flags override them.
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from common.cli import probability
from common.errors import UserError
from goturn.tracking.lost_target import SCORES
from goturn.weights import training_args

TEMPLATES = ("previous", "first")
BORDERS = ("clip", "keep")


@dataclass(frozen=True)
class TrackingPolicy:
    hold_below: float = 0.0
    template: str = "previous"
    border: str = "clip"
    score: str = "combined"

    def __post_init__(self):
        if not 0.0 <= self.hold_below <= 1.0:
            raise ValueError(f"hold_below must be in [0, 1], got {self.hold_below}")
        for field, value, choices in (
            ("template", self.template, TEMPLATES),
            ("border", self.border, BORDERS),
            ("score", self.score, SCORES),
        ):
            if value not in choices:
                raise ValueError(f"{field} must be one of {choices}, got {value!r}")


def policy_for(checkpoint, **given) -> TrackingPolicy:
    """The settings ``checkpoint`` (a path) was trained to track with, where ``given`` (the
    fields of ``TrackingPolicy``) leaves them None; the defaults for a module or a file
    without them."""
    recorded = training_args(checkpoint) if isinstance(checkpoint, (str, Path)) else {}
    settings = {}
    for field in dataclasses.fields(TrackingPolicy):
        value = given.pop(field.name, None)
        if value is None:
            value = recorded.get(f"track_{field.name}", field.default)
        settings[field.name] = value
    if given:
        raise TypeError(f"not policy settings: {sorted(given)}")
    try:
        return TrackingPolicy(**settings)
    except ValueError as error:
        if not recorded:
            raise
        # The file's recorded settings (or a value given here): name the file as well.
        raise UserError(f"{checkpoint}: tracking settings {settings}: {error}") from None


def policy_options(args) -> dict:
    """The policy flags of a command (``add_policy_flags``), as ``Tracker``'s keyword arguments."""
    return {field.name: getattr(args, field.name) for field in dataclasses.fields(TrackingPolicy)}


def add_policy_flags(parser) -> None:
    parser.add_argument(
        "--hold_below",
        type=probability,
        default=None,
        help="keep the last believed box and template while the lost-target score is below this "
        "(0: off, as the original; default: the checkpoint's training recipe's)",
    )
    parser.add_argument(
        "--template",
        choices=TEMPLATES,
        default=None,
        help="regress against the previous frame's crop (the original) or the first frame's "
        "(default: the checkpoint's training recipe's)",
    )
    parser.add_argument(
        "--border",
        choices=BORDERS,
        default=None,
        help="clip: cut a box at the image border (the original); keep: a cut side keeps its "
        "length beyond the border, so the object is found when it comes back "
        "(default: the checkpoint's training recipe's)",
    )
    parser.add_argument(
        "--score",
        choices=SCORES,
        default=None,
        help="the lost-target score: combined (the mean of appearance and colour), appearance, "
        "colour, or fb (forward-backward consistency, about 1.5x the network time per frame); "
        "see goturn/tracking/lost_target.py (default: the checkpoint's training recipe's, else combined)",
    )
