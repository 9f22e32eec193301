"""A small synthetic UCF-101 look-alike whose classes differ only in motion.

    python -m glore.data.demo --out dataset/glore_demo

Each video shows a random irregular polygon on a random textured background; only the way it
moves tells the class: direction (DriftLeft / DriftRight), rotation sense (SpinClockwise /
SpinCounterClockwise), speed (RiseSlow / RiseFast) and growth (Grow / Shrink). A single frame
cannot separate them, a clip can. The data set is written in the real layout: XVID-style .avi
videos named v_Class_gXX_cYY.avi, the official classInd.txt / trainlist01.txt / testlist01.txt
(test = groups 1-2, like UCF-101's group-wise splits), then `glore.data.prepare` extracts the
rawframes and writes the mmaction2 lists, exactly as for the real data.
"""

import argparse
import math
import os
import shutil
import time
from pathlib import Path

import av
import cv2
import numpy as np

from common.atomic import replace_folder
from common.errors import run_cli
from glore.data.preparation import prepare

CLASSES = (
    "DriftLeft",
    "DriftRight",
    "SpinClockwise",
    "SpinCounterClockwise",
    "RiseSlow",
    "RiseFast",
    "Grow",
    "Shrink",
)


def write_video(path: str, frames: np.ndarray, fps: int = 25, gop: int = 12, b_frames: int = 0) -> None:
    """Write RGB frames T x H x W x 3 as an MPEG-4 part 2 (XVID-tagged) .avi, like UCF-101's
    (whose files also hold B-frames: `b_frames` between reference frames)."""
    with av.open(path, "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_tag = "XVID"
        stream.bit_rate = 600_000
        stream.codec_context.gop_size = gop  # frames between key frames
        stream.codec_context.max_b_frames = b_frames
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _background(rng, height, width):
    """Smooth random texture around a random dark colour (static: it carries no motion)."""
    base = rng.uniform(20, 100, size=3)
    texture = cv2.resize(
        rng.uniform(-8, 8, size=(6, 8, 3)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def _polygon(rng):
    """An irregular polygon (no rotational symmetry, so its rotation sense is visible)."""
    corners = int(rng.integers(3, 6))
    # Corners spread around the circle (no slivers), at irregular angles and radii.
    angles = (np.arange(corners) + rng.uniform(-0.3, 0.3, corners)) * 2 * math.pi / corners
    radii = rng.uniform(0.35, 1.0, corners)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _motion(name, rng, num_frames, height, width, radius):
    """Per-frame centre (x, y), angle (radians) and scale of the object for one class. Speeds are
    in frame heights per frame, so the motion looks the same at any frame size."""
    t = np.arange(num_frames, dtype=np.float64)
    x = np.full(num_frames, width / 2 + rng.uniform(-0.15, 0.15) * width)
    y = np.full(num_frames, height / 2 + rng.uniform(-0.15, 0.15) * height)
    angle = np.full(num_frames, rng.uniform(0, 2 * math.pi))
    scale = np.ones(num_frames)
    centre_t = t - (num_frames - 1) / 2
    if name in ("DriftLeft", "DriftRight"):
        speed = rng.uniform(0.01, 0.014) * height * (-1 if name == "DriftLeft" else 1)
        x = width / 2 + speed * centre_t
    elif name in ("SpinClockwise", "SpinCounterClockwise"):
        # Image y points down, so a growing angle turns clockwise on screen. At most 44 degrees
        # between two frames of a clip (8 apart): below the near-symmetries of these irregular
        # polygons, so the turn is not mistaken for a smaller one the other way.
        omega = math.radians(rng.uniform(4, 5.5)) * (1 if name == "SpinClockwise" else -1)
        angle = angle + omega * t
    elif name in ("RiseSlow", "RiseFast"):
        speed = (rng.uniform(0.004, 0.006) if name == "RiseSlow" else rng.uniform(0.012, 0.014)) * height
        y = height / 2 - speed * centre_t
    else:
        rate = math.log(rng.uniform(3.0, 4.0)) / num_frames * (1 if name == "Grow" else -1)
        scale = np.exp(rate * centre_t)
    return x, y, angle, scale * radius


def render_video(name, rng, background, num_frames=64, height=48, width=64):
    shape = _polygon(rng)
    # Two dark spots on the object, moving rigidly with it: interior texture whose motion shows
    # rotation and growth everywhere on the object, not only at its outline (where an edge only
    # shows the motion across it).
    spot_angles = rng.uniform(0, 2 * math.pi, 2)
    spots = rng.uniform(0.25, 0.4, (2, 1)) * np.stack([np.cos(spot_angles), np.sin(spot_angles)], axis=1)
    # Random hue, but always brighter than the background: the object's side of an edge is then
    # visible locally, which rotation sense and growth need (appearance still says nothing of the class).
    colour = rng.uniform(150, 240, size=3)
    radius = rng.uniform(0.25, 0.32) * height
    x, y, angle, size = _motion(name, rng, num_frames, height, width, radius)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for i in range(num_frames):
        c, s = math.cos(angle[i]), math.sin(angle[i])
        rotation = np.array([[c, s], [-s, c]]) * size[i]
        frame = background.copy()
        points = shape @ rotation + (x[i], y[i])
        cv2.fillPoly(frame, [np.round(points * 16).astype(np.int32)], colour.tolist(), cv2.LINE_AA, shift=4)
        for spot in spots @ rotation + (x[i], y[i]):
            centre = tuple(int(v) for v in np.round(spot * 16))
            cv2.circle(
                frame, centre, round(0.15 * size[i] * 16), (colour * 0.4).tolist(), -1, cv2.LINE_AA, shift=4
            )
        frames[i] = frame
    return frames


def generate(
    out: str,
    groups: int = 8,
    clips_per_group: int = 5,
    test_groups: int = 2,
    num_frames: int = 64,
    height: int = 48,
    width: int = 64,
    seed: int = 0,
    workers: int = 2,
    log=print,
) -> str:
    """Write the demo data set to `out` (via `out`.tmp, renamed when complete); returns `out`/ucf101."""
    temp = f"{out.rstrip(os.sep)}.tmp"
    shutil.rmtree(temp, ignore_errors=True)
    root = os.path.join(temp, "ucf101")
    videos, annotations = os.path.join(root, "videos"), os.path.join(root, "annotations")
    os.makedirs(annotations)
    train_lines, test_lines = [], []
    for label, name in enumerate(CLASSES):
        os.makedirs(os.path.join(videos, name))
        for group in range(1, groups + 1):
            # One scene per group, shared by every class (so a background never tells the class).
            background = _background(np.random.default_rng([seed, group]), height, width)
            for clip in range(1, clips_per_group + 1):
                relative = f"{name}/v_{name}_g{group:02d}_c{clip:02d}.avi"
                rng = np.random.default_rng([seed, label, group, clip])
                write_video(
                    os.path.join(videos, relative),
                    render_video(name, rng, background, num_frames, height, width),
                )
                if group <= test_groups:
                    test_lines.append(relative)
                else:
                    train_lines.append(f"{relative} {label + 1}")
    with open(os.path.join(annotations, "classInd.txt"), "w") as handle:
        handle.writelines(f"{i + 1} {name}\n" for i, name in enumerate(CLASSES))
    with open(os.path.join(annotations, "trainlist01.txt"), "w") as handle:
        handle.writelines(line + "\n" for line in train_lines)
    with open(os.path.join(annotations, "testlist01.txt"), "w") as handle:
        handle.writelines(line + "\n" for line in test_lines)
    prepare(videos, annotations, root, splits=(1,), workers=workers, log=log)
    replace_folder(Path(temp), Path(out))
    return os.path.join(out, "ucf101")


def main(args) -> None:
    start = time.perf_counter()
    root = generate(
        args.out,
        groups=args.groups,
        clips_per_group=args.clips_per_group,
        seed=args.seed,
        workers=args.workers,
    )
    print(f"GloRe demo data: {len(CLASSES)} classes in {root} ({time.perf_counter() - start:.1f} s)")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Write the synthetic GloRe demo data set (UCF-101 layout).")
    parser.add_argument("--out", required=True, help="output folder, e.g. dataset/glore_demo")
    parser.add_argument(
        "--groups", type=int, default=8, help="groups per class (groups 1-2 are the test split)"
    )
    parser.add_argument("--clips_per_group", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="frame extraction processes")
    return parser


if __name__ == "__main__":
    run_cli(main, get_args_parser())
