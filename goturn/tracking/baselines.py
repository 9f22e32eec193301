"""The trackers GOTURN is compared with: no motion, and OpenCV's classical ones.

Each is a ``SequenceTracker`` (``init(image, box)`` / ``update(image) -> box``,
boxes ``[x, y, w, h]``, images RGB as the GOT-10k toolkit passes them), so the
evaluation runs them through the same result files, metrics and plots as
GOTURN:

- ``NoMotionTracker`` repeats the first box: what a tracker scores for
  knowing nothing about motion.
- ``OpenCVTracker`` wraps CSRT, KCF or MIL from ``opencv-contrib-python-headless``
  with their default parameters. OpenCV takes whole-pixel boxes and BGR
  images; when its ``update`` reports a failure the wrapper keeps the last
  box it had (OpenCV's box is then undefined), and the failure flag becomes
  the frame's score (1 tracked, 0 lost), OpenCV's own lost-target signal.
"""

import cv2

from common.errors import UserError
from goturn.tracking.tracker import SequenceTracker, to_bgr_array

# name -> the cv2 factory of that tracker (all in opencv-contrib; CSRT and KCF
# are not in the plain opencv-python wheels).
OPENCV_TRACKERS = {"CSRT": "TrackerCSRT_create", "KCF": "TrackerKCF_create", "MIL": "TrackerMIL_create"}
NO_MOTION = "none"
BASELINE_CHOICES = (*(name.lower() for name in OPENCV_TRACKERS), NO_MOTION)
CONTRIB_HINT = (
    "pip uninstall -y opencv-python-headless && "
    "pip install opencv-contrib-python-headless (the same cv2 with the contrib trackers)"
)


class NoMotionTracker(SequenceTracker):
    """The baseline that reports the first box on every frame."""

    name = "NoMotion"

    def init(self, image, box) -> None:
        self.box = [float(v) for v in box]

    def update(self, image) -> list[float]:
        return list(self.box)


def opencv_factory(name: str):
    """The cv2 constructor of tracker ``name`` (CSRT, KCF, MIL); a UserError
    saying what to install when this cv2 lacks it."""
    factory = getattr(cv2, OPENCV_TRACKERS[name], None)
    if factory is None:
        raise UserError(
            f"OpenCV {cv2.__version__} has no {name} tracker (cv2.{OPENCV_TRACKERS[name]}): "
            f"install opencv-contrib-python-headless: {CONTRIB_HINT}"
        )
    return factory


class OpenCVTracker(SequenceTracker):
    """An OpenCV tracker (default parameters) behind the toolkit interface. It runs on one
    thread, so an evaluation may run several side by side (``benchmark.run_trackers``)."""

    single_threaded = True

    def __init__(self, name: str):
        if name not in OPENCV_TRACKERS:
            raise ValueError(f"OpenCV tracker must be one of {', '.join(OPENCV_TRACKERS)}, got {name!r}")
        self.name = name
        self._factory = opencv_factory(name)
        self._tracker = None
        self._box: list[float] | None = None
        self.last_score = float("nan")

    def init(self, image, box) -> None:
        x, y, w, h = (float(v) for v in box)
        # OpenCV's trackers take an integer rectangle; at least one pixel a side.
        rect = (round(x), round(y), max(1, round(w)), max(1, round(h)))
        self._tracker = self._factory()
        self._tracker.init(to_bgr_array(image), rect)
        self._box = [float(v) for v in rect]
        self.last_score = 1.0

    def update(self, image) -> list[float]:
        if self._tracker is None:
            raise RuntimeError("call init() with the first frame and box first")
        found, rect = self._tracker.update(to_bgr_array(image))
        if found:
            self._box = [float(v) for v in rect]
        self.last_score = 1.0 if found else 0.0
        return list(self._box)


def parse_baselines(text: str) -> list[str]:
    """``--baselines csrt,kcf,mil,none`` -> the names in that order ('' for none at all)."""
    names = [word.strip().lower() for word in text.split(",") if word.strip()]
    unknown = [name for name in names if name not in BASELINE_CHOICES]
    if unknown:
        choices = ", ".join(BASELINE_CHOICES)
        raise UserError(f"--baselines: unknown tracker {unknown[0]!r}; choose from {choices}")
    return list(dict.fromkeys(names))


def make_baselines(names: list[str]) -> list[SequenceTracker]:
    """The baseline trackers ``names`` (as ``parse_baselines`` returns them)."""
    return [NoMotionTracker() if name == NO_MOTION else OpenCVTracker(name.upper()) for name in names]
