"""GOTURN as a tracker of the VOT challenge toolkit (``vot-toolkit``), over its TraX protocol.

The toolkit starts ``python -m goturn.vot`` and talks to it on stdin/stdout: an
``initialize`` message brings the first frame (an image path) and the boxes (rectangle
regions), each ``frame`` message the next image; the tracker answers each with the boxes and,
per box, its lost-target score as the ``confidence`` property. A ``trackers.ini`` entry in the
VOT workspace::

    [GOTURN]
    label = GOTURN
    protocol = traxpython
    command = goturn.vot
    paths = /path/to/this/repository
    env_GOTURN_CHECKPOINT = /path/to/checkpoint.pth

(``paths`` can be left out after ``pip install``.) ``--checkpoint``, ``--device`` and
``--precision`` may also be given as flags when the command is a script; the environment
variables ``GOTURN_CHECKPOINT``, ``GOTURN_DEVICE`` and ``GOTURN_PRECISION`` are what a
``trackers.ini`` can set. Needs ``vot-trax`` (the TraX bindings; ``pip install vot-trax``).
"""

import argparse
import os

from PIL import Image as PILImage

from common.errors import UserError, run_cli
from goturn.tracking.policy import add_policy_flags, policy_options
from goturn.tracking.tracker import Tracker


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="GOTURN as a VOT toolkit (TraX) tracker.")
    parser.add_argument(
        "--checkpoint",
        default=os.environ.get("GOTURN_CHECKPOINT", ""),
        help="the GOTURN checkpoint (default: $GOTURN_CHECKPOINT)",
    )
    parser.add_argument(
        "--device", default=os.environ.get("GOTURN_DEVICE", "auto"), help="auto | cpu | cuda | npu[:N]"
    )
    parser.add_argument(
        "--precision",
        default=os.environ.get("GOTURN_PRECISION", "auto"),
        help="autocast precision: auto | fp32 | bf16 | fp16",
    )
    add_policy_flags(parser)
    return parser


def read_frame(image) -> PILImage.Image:
    """The RGB frame a TraX image message names (the toolkit sends paths)."""
    with PILImage.open(image.path()) as frame:
        return frame.convert("RGB")


def serve(tracker: Tracker) -> None:
    """Answer the toolkit's messages until it quits."""
    from trax import Image, Region, Server, TraxStatus
    from trax.region import Rectangle

    with Server([Region.RECTANGLE], [Image.PATH], tracker_name="GOTURN", multiobject=True) as server:
        while True:
            request = server.wait()
            if request.type in (TraxStatus.QUIT, TraxStatus.ERROR):
                break
            frame = read_frame(request.image["color"])
            if request.type == TraxStatus.INITIALIZE:
                boxes = [region.bounds() for region, _ in request.objects]
                tracker.init_targets(frame, boxes)
            else:
                boxes = tracker.update_targets(frame).tolist()
            scores = tracker.last_scores
            server.status(
                [
                    (Rectangle.create(*(float(v) for v in box)), {"confidence": f"{float(score):.4f}"})
                    for box, score in zip(boxes, scores)
                ]
            )


def main(args) -> None:
    if not args.checkpoint:
        raise UserError(
            "no checkpoint: give --checkpoint or set GOTURN_CHECKPOINT "
            "(in trackers.ini: env_GOTURN_CHECKPOINT)"
        )
    try:
        import trax  # noqa: F401
    except ImportError:
        raise UserError("goturn.vot needs the TraX bindings: pip install vot-trax") from None
    tracker = Tracker(args.checkpoint, device=args.device, precision=args.precision, **policy_options(args))
    serve(tracker)


if __name__ == "__main__":
    run_cli(main, get_args_parser())
