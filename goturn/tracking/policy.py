"""What the tracker does besides GOTURN's regression, and where those settings come from.

- ``hold_below``: a frame whose lost-target score falls below this is not believed: the
  target keeps its last believed box and template, and the next frame is searched around
  them again, until a box scores at least this much (the object is back, or out from behind
  the occluder). 0 turns it off (the original: every box is the next frame's start).
- ``template``: the target crop the network compares the search crop with: ``previous`` (the
  original: the crop around the last box) or ``first`` (the first frame's crop, which an
  occluder or a drift cannot overwrite).

The defaults come from the checkpoint: a training recipe records the settings its model was
measured with (``goturn.train --track_hold_below / --track_template``; the demo's are
``0.3`` and ``first``, the Caffe recipe keeps the original's). Command-line flags override them.
"""

from dataclasses import dataclass
from pathlib import Path

from common.cli import probability
from goturn.weights import training_args

TEMPLATES = ("previous", "first")


@dataclass(frozen=True)
class TrackingPolicy:
    hold_below: float = 0.0
    template: str = "previous"

    def __post_init__(self):
        if not 0.0 <= self.hold_below <= 1.0:
            raise ValueError(f"hold_below must be in [0, 1], got {self.hold_below}")
        if self.template not in TEMPLATES:
            raise ValueError(f"template must be one of {TEMPLATES}, got {self.template!r}")


def policy_for(checkpoint, hold_below: float | None = None, template: str | None = None) -> TrackingPolicy:
    """The settings ``checkpoint`` (a path) was trained to track with, where not given here;
    the original's for a module or a file without them."""
    recorded = training_args(checkpoint) if isinstance(checkpoint, (str, Path)) else {}
    return TrackingPolicy(
        hold_below=recorded.get("track_hold_below", 0.0) if hold_below is None else hold_below,
        template=recorded.get("track_template", "previous") if template is None else template,
    )


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
