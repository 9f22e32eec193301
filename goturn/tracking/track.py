"""Track one object through a video or a folder of frames and draw it.

    python -m goturn.tracking.track --checkpoint C --input FRAMES_DIR_or_VIDEO --box x,y,w,h \
        --out out.mp4 [--gif out.gif]

``--box`` is the object in the first frame, ``x,y,w,h`` in pixels. Writes the
video with the box drawn on every frame (MP4), optionally an animated GIF,
and the boxes as text (``--boxes``, default: ``--out`` with ``.txt``; one line
``x,y,w,h`` per frame, as the GOT-10k toolkit records results). The tracker's
lost-target score of each frame (0..1, see ``goturn.tracking.tracker``) goes to
a file of its own beside the boxes (``--scores``, default ``<boxes>_score.txt``;
one line per frame), so the box file stays in the toolkit's format; with
``--min_score S`` each line gets a second column, 1 where the score is below S
(the frame is marked "lost?", its box red in the video), else 0. Prints the
tracker's frames/s (network and crops only) and the end-to-end rate.
"""

import argparse
import math
import os
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from common.atomic import write_text_atomically
from common.cli import positive_float, positive_int, probability
from common.errors import UserError, run_cli
from common.precision import INFERENCE_PRECISIONS
from common.video import upright
from goturn.tracking.policy import add_policy_flags, policy_options
from goturn.tracking.rendering import (
    DEFAULT_FPS,
    VideoWriter,
    draw_label,
    draw_tracked,
    gif_frame,
    is_lost,
    save_gif,
)
from goturn.tracking.sequences import IMAGE_SUFFIXES, list_images
from goturn.tracking.tracker import Tracker


def parse_box(text: str) -> list[float]:
    try:
        box = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        box = []
    if len(box) != 4 or not all(map(math.isfinite, box)) or box[2] <= 0 or box[3] <= 0:
        raise argparse.ArgumentTypeError(f"expected x,y,w,h: four finite numbers, w, h > 0, got {text!r}")
    return box


def read_frames(source: Path, max_frames: int | None):
    """RGB uint8 frames of a video file or an image folder, and its frame rate
    (None for a folder)."""
    if source.is_dir():
        paths = list_images(source)
        if not paths:
            raise UserError(f"{source} holds no images ({', '.join(IMAGE_SUFFIXES)})")

        def images():
            for path in paths[:max_frames]:
                try:
                    with Image.open(path) as image:
                        yield np.asarray(image.convert("RGB"))
                except (OSError, UnidentifiedImageError) as error:
                    raise UserError(f"{path}: not a readable image ({error})") from None

        return images(), None
    if not source.is_file():
        raise UserError(f"--input {source}: no such video file or frames folder")
    try:
        container = av.open(str(source))
        stream = container.streams.video[0]
    except (av.FFmpegError, IndexError) as error:
        raise UserError(f"--input {source}: not a readable video ({error})") from None
    rate = float(stream.average_rate) if stream.average_rate else None

    def decoded():
        index = 0
        with container:
            try:
                for frame in container.decode(stream):
                    if max_frames is not None and index >= max_frames:
                        break
                    yield upright(frame)
                    index += 1
            except av.FFmpegError as error:
                raise UserError(f"{source}: frame {index + 1} cannot be decoded ({error})") from None

    return decoded(), rate


def check_start_box(box, frame) -> None:
    """A start box wider or taller than the frame is refused: GOTURN's search region (twice the
    box) would hold the whole frame as a small part, and the track collapsed to a 1x1 box."""
    height, width = frame.shape[:2]
    if box[2] > width or box[3] > height:
        raise UserError(
            f"--box {','.join(f'{v:g}' for v in box)}: {box[2]:g}x{box[3]:g} is larger than the "
            f"{width}x{height} first frame; give the object's box in it (x,y,w,h, at most {width}x{height})"
        )


def track_video(tracker, frames, box, draw):
    """Run the tracker; ``draw(index, frame, box, score)`` gets every frame. Returns
    the boxes (N x 4), the seconds spent in the tracker per frame and its scores."""
    boxes, seconds, scores = [], [], []
    for index, frame in enumerate(frames):
        start = time.perf_counter()
        if index == 0:
            check_start_box(box, frame)
            try:
                tracker.init(frame, box)
            except ValueError as error:
                raise UserError(f"--box: {error}") from None
            current = list(box)
        else:
            current = tracker.update(frame)
        seconds.append(time.perf_counter() - start)
        boxes.append(current)
        scores.append(tracker.last_score)
        draw(index, frame, current, scores[-1])
    if not boxes:
        raise UserError("the input has no frames")
    return np.array(boxes), np.array(seconds), np.array(scores)


def score_lines(scores: np.ndarray, min_score: float | None) -> str:
    """The score file: one score per frame; with ``min_score``, then 1 (below it) or 0."""
    if min_score is None:
        return "".join(f"{score:.4f}\n" for score in scores)
    return "".join(f"{score:.4f},{int(is_lost(score, min_score))}\n" for score in scores)


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Track an object with GOTURN and render the track.")
    parser.add_argument("--checkpoint", required=True, help="GOTURN checkpoint")
    parser.add_argument("--input", required=True, type=Path, help="a video file or a folder of frames")
    parser.add_argument("--box", required=True, type=parse_box, help="x,y,w,h of the object in frame 1")
    parser.add_argument("--out", required=True, type=Path, help="output video (.mp4)")
    parser.add_argument("--gif", type=Path, default=None, help="also write an animated GIF")
    parser.add_argument("--boxes", type=Path, default=None, help="per-frame boxes (default: OUT with .txt)")
    parser.add_argument(
        "--scores",
        type=Path,
        default=None,
        help="per-frame lost-target scores (default: BOXES with _score.txt)",
    )
    parser.add_argument(
        "--min_score",
        type=probability,
        default=None,
        help="mark the frames whose score is below this (0..1) as lost: red box and 'lost?' in the video, "
        "1 in the second column of the score file",
    )
    parser.add_argument(
        "--fps",
        type=positive_float,
        default=None,
        help=f"output frame rate (default: the input video's, {DEFAULT_FPS:g} for frames)",
    )
    parser.add_argument("--max_frames", type=positive_int, default=None, help="stop after this many frames")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | npu[:N]")
    parser.add_argument(
        "--precision",
        choices=INFERENCE_PRECISIONS,
        default="auto",
        help="autocast precision (auto: fp32 on a CPU, bf16 or fp16 on accelerators)",
    )
    add_policy_flags(parser)
    return parser


def partial_path(path: Path) -> Path:
    """Where ``path`` is written until the track is complete: beside it, hidden, with the same
    suffix (the video's container format follows it). A failed run leaves no partial output."""
    return path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")


def main(args) -> dict:
    start = time.perf_counter()
    tracker = Tracker(args.checkpoint, device=args.device, precision=args.precision, **policy_options(args))
    frames, source_fps = read_frames(args.input, args.max_frames)
    fps = args.fps or source_fps or DEFAULT_FPS
    args.out.parent.mkdir(parents=True, exist_ok=True)
    writer, gif_frames = None, []

    video_partial = partial_path(args.out)

    def draw(index, frame, box, score):
        nonlocal writer
        drawn = frame.copy()
        draw_tracked(drawn, box, score, args.min_score)
        draw_label(drawn, f"#{index}")
        if writer is None:
            writer = VideoWriter(video_partial, fps, frame.shape[1], frame.shape[0])
        writer.write(drawn)
        if args.gif is not None:
            gif_frames.append(gif_frame(drawn))

    loop_start = time.perf_counter()
    try:
        boxes, seconds, scores = track_video(tracker, frames, args.box, draw)
        if writer is not None:
            writer.close()
            writer = None
            os.replace(video_partial, args.out)
    finally:
        if writer is not None:
            writer.container.close()
        video_partial.unlink(missing_ok=True)
    loop_seconds = time.perf_counter() - loop_start
    boxes_path = args.boxes or args.out.with_suffix(".txt")
    write_text_atomically(boxes_path, "".join(",".join(f"{v:.3f}" for v in box) + "\n" for box in boxes))
    scores_path = args.scores or boxes_path.with_name(boxes_path.stem + "_score.txt")
    write_text_atomically(scores_path, score_lines(scores, args.min_score))
    if args.gif is not None:
        gif_partial = partial_path(args.gif)
        try:
            save_gif(gif_partial, gif_frames, fps)
            os.replace(gif_partial, args.gif)
        finally:
            gif_partial.unlink(missing_ok=True)
    tracker_fps = (len(seconds) - 1) / seconds[1:].sum() if len(seconds) > 1 else float("nan")
    print(
        f"{len(boxes)} frames: tracker {tracker_fps:.1f} frames/s, end to end (decode, track, draw, "
        f"encode) {len(boxes) / loop_seconds:.1f} frames/s; total {time.perf_counter() - start:.1f}s"
    )
    if args.min_score is not None:
        lost = sum(is_lost(score, args.min_score) for score in scores)
        print(f"{lost} of {len(scores)} frames scored below --min_score {args.min_score:g} (marked lost?)")
    print(
        f"video: {args.out}"
        + (f", gif: {args.gif}" if args.gif else "")
        + f", boxes: {boxes_path}, scores: {scores_path}"
    )
    return {"frames": len(boxes), "tracker_fps": tracker_fps, "boxes": boxes, "scores": scores}


if __name__ == "__main__":
    run_cli(main, get_args_parser())
