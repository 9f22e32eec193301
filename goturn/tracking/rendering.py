"""Drawing tracks: boxes and labels on frames, MP4 writing, a recorded track over its sequence."""

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from goturn.tracking import metrics
from goturn.tracking.sequences import Sequence

BOX_COLOUR = (40, 150, 255)  # RGB: the tracker's box
LOST_COLOUR = (255, 32, 32)  # the tracker's box on a frame whose score is below --min_score
TRUTH_COLOUR = (40, 230, 60)  # the ground truth, where an evaluation draws it
DEFAULT_FPS = 25.0


def draw_box(image: np.ndarray, box, colour=BOX_COLOUR) -> None:
    """Outline ``box`` ([x, y, w, h]) on ``image`` in place."""
    x, y, w, h = box
    thickness = max(2, round(min(image.shape[:2]) / 160))
    cv2.rectangle(image, (round(x), round(y)), (round(x + w), round(y + h)), colour, thickness, cv2.LINE_AA)


def draw_label(image: np.ndarray, text: str, line: int = 0, colour=(255, 255, 255)) -> None:
    """Text in the top-left corner, one ``line`` below the other."""
    cv2.putText(image, text, (6, 18 + 16 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)


def is_lost(score: float | None, min_score: float | None) -> bool:
    """Whether a frame is marked: a score below ``min_score`` (never without either)."""
    return min_score is not None and score is not None and bool(np.isfinite(score)) and score < min_score


def draw_tracked(image: np.ndarray, box, score: float | None = None, min_score: float | None = None) -> None:
    """The tracker's box, and its score under it; a frame scoring below ``min_score`` gets a red
    box and "lost?"."""
    lost = is_lost(score, min_score)
    draw_box(image, box, LOST_COLOUR if lost else BOX_COLOUR)
    if score is None or not np.isfinite(score):
        return
    x, y, _, h = box
    text = f"{score:.2f}" + (" lost?" if lost else "")
    below = min(round(y + h) + 14, image.shape[0] - 4)
    origin = (max(0, min(round(x), image.shape[1] - 8 * len(text))), below)
    colour = LOST_COLOUR if lost else BOX_COLOUR
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)


def gif_frame(rgb: np.ndarray) -> Image.Image:
    """A frame for an animated GIF: 255 colours by fast octree quantisation. Left to Pillow's
    default palette, the RGB frames took 92x as long (16 demo frames: 27.7 s against 0.30 s)."""
    return Image.fromarray(rgb).quantize(colors=255, method=Image.Quantize.FASTOCTREE)


def save_gif(path: Path, frames: list[Image.Image], fps: float) -> None:
    frames[0].save(path, save_all=True, append_images=frames[1:], loop=0, duration=round(1000 / fps))


class VideoWriter:
    """MP4 via PyAV: H.264 where the FFmpeg build has it (browsers play it),
    else MPEG-4 Part 2; yuv420p, so frames are cut to even sizes."""

    def __init__(self, path: Path, fps: float, width: int, height: int):
        self.width, self.height = width - width % 2, height - height % 2
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"

    def write(self, rgb: np.ndarray) -> None:
        even = np.ascontiguousarray(rgb[: self.height, : self.width])
        frame = av.VideoFrame.from_ndarray(even, format="rgb24")
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        self.container.mux(self.stream.encode())
        self.container.close()


def render_track(
    sequence: Sequence,
    boxes: np.ndarray,
    tracker_name: str,
    video_path: Path,
    gif_path: Path | None = None,
    fps: float = DEFAULT_FPS,
    scores: np.ndarray | None = None,
    min_score: float | None = None,
) -> None:
    """Draw a recorded track (one box per frame, with its score when ``scores`` are given; red
    below ``min_score``) and the ground truth (on annotated frames) over the sequence's frames."""
    video_path.parent.mkdir(parents=True, exist_ok=True)
    writer, gif_frames = None, []
    annotated = metrics.annotated_rows(sequence.ground_truth)
    try:
        for index, (path, box) in enumerate(zip(sequence.frames, boxes)):
            with Image.open(path) as image:
                frame = np.array(image.convert("RGB"))
            if annotated[index]:
                draw_box(frame, sequence.ground_truth[index], TRUTH_COLOUR)
            draw_tracked(frame, box, None if scores is None else scores[index], min_score)
            draw_label(frame, f"#{index} {tracker_name}", colour=BOX_COLOUR)
            draw_label(frame, "ground truth", line=1, colour=TRUTH_COLOUR)
            if writer is None:
                writer = VideoWriter(video_path, fps, frame.shape[1], frame.shape[0])
            writer.write(frame)
            if gif_path is not None:
                gif_frames.append(gif_frame(frame))
    finally:
        if writer is not None:
            writer.close()
    if gif_frames:
        save_gif(gif_path, gif_frames, fps)
