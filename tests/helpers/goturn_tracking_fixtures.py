"""Tiny tracking benchmarks in the real on-disk layouts (ALOV, OTB, GOT-10k),
stub networks, and a random GOTURN checkpoint, for the tracking, evaluation
and toolkit tests."""

from pathlib import Path

import cv2
import numpy as np
import torch

from goturn.data.crops import box_to_crop_units, context_geometry
from goturn.model import GoturnNet

WIDTH, HEIGHT = 96, 72


def moving_boxes(frames: int, seed: int) -> np.ndarray:
    """[x, y, w, h] boxes of an object drifting and growing, inside the image."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(10, 40), rng.uniform(8, 25)
    w, h = rng.uniform(16, 26), rng.uniform(14, 22)
    steps = np.arange(frames)[:, None]
    boxes = np.array([[x, y, w, h]]) + steps * np.array([[1.5, 1.0, 0.4, 0.3]])
    return np.round(boxes, 2)


def render_frames(boxes: np.ndarray, seed: int) -> list[np.ndarray]:
    """RGB frames: noise with a bright square where each box is."""
    rng = np.random.default_rng(seed)
    frames = []
    for x, y, w, h in boxes:
        frame = rng.integers(0, 120, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        frame[int(y) : int(y + h), int(x) : int(x + w)] = (230, 200, 40)
        frames.append(frame)
    return frames


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])


def write_otb(root: Path, names=("Car", "Dog"), frames: int = 6) -> dict[str, np.ndarray]:
    """OTB folders; the second uses tab separators. Returns name -> boxes."""
    truth = {}
    for number, name in enumerate(names):
        boxes = moving_boxes(frames, seed=number)
        for index, frame in enumerate(render_frames(boxes, seed=number), start=1):
            write_jpeg(root / name / "img" / f"{index:04d}.jpg", frame)
        separator = "\t" if number % 2 else ","
        text = "".join(separator.join(f"{v:g}" for v in box) + "\n" for box in boxes)
        (root / name / "groundtruth_rect.txt").write_text(text)
        truth[name] = boxes
    return truth


def write_got10k(
    root: Path, names=("GOT-10k_Val_000001", "GOT-10k_Val_000002"), frames: int = 6, split: str = "val"
) -> dict[str, np.ndarray]:
    """A GOT-10k split with the meta files the toolkit's report reads; the
    target is marked invisible on frame 3 of the first sequence."""
    truth = {}
    split_dir = root / split
    for number, name in enumerate(names):
        boxes = moving_boxes(frames, seed=10 + number)
        seq_dir = split_dir / name
        for index, frame in enumerate(render_frames(boxes, seed=10 + number), start=1):
            write_jpeg(seq_dir / f"{index:08d}.jpg", frame)
        rows = "".join(",".join(f"{v:.4f}" for v in box) + "\n" for box in boxes)
        (seq_dir / "groundtruth.txt").write_text(rows)
        cover = np.full(frames, 8)
        if number == 0:
            cover[3] = 0
        (seq_dir / "cover.label").write_text("".join(f"{c}\n" for c in cover))
        (seq_dir / "absence.label").write_text("".join(f"{int(c == 0)}\n" for c in cover))
        (seq_dir / "cut_by_image.label").write_text("0\n" * frames)
        (seq_dir / "meta_info.ini").write_text(f"[METAINFO]\nresolution: ({WIDTH}, {HEIGHT})\n")
        truth[name] = boxes
    (split_dir / "list.txt").write_text("\n".join(names) + "\n")
    return truth


def write_alov(
    root: Path, categories=("01-Light", "02-SurfaceCover"), videos: int = 2, frames: int = 11, every: int = 5
) -> None:
    """ALOV videos annotated every ``every`` frames (corners 1-based)."""
    for c, category in enumerate(categories):
        for v in range(1, videos + 1):
            video = f"{category}_video{v:05d}"
            boxes = moving_boxes(frames, seed=100 * c + v)
            for index, frame in enumerate(render_frames(boxes, seed=100 * c + v), start=1):
                write_jpeg(root / "images" / category / video / f"{index:08d}.jpg", frame)
            lines = []
            for index in range(0, frames, every):
                x, y, w, h = boxes[index] + np.array([1.0, 1.0, 0.0, 0.0])
                corners = (x, y + h, x, y, x + w, y, x + w, y + h)
                lines.append(f"{index + 1} " + " ".join(f"{p:.2f}" for p in corners))
            ann = root / "gt" / category / f"{video}.ann"
            ann.parent.mkdir(parents=True, exist_ok=True)
            ann.write_text("\n".join(lines) + "\n")


class ConstantNet(torch.nn.Module):
    """Predicts the same box in every search crop: [2.5, 2.5, 7.5, 7.5] is
    "the object did not move"; other values make a steady drift."""

    def __init__(self, units=(2.6, 2.45, 7.7, 7.4)):
        super().__init__()
        self.register_buffer("units", torch.tensor(units, dtype=torch.float32))

    def forward(self, target, search):
        return self.units.expand(search.shape[0], 4).clone()


class ScriptedNet(torch.nn.Module):
    """Returns prepared outputs in order, one N x 4 array per call, and keeps
    the inputs it was given."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = list(outputs)
        self.inputs = []

    def forward(self, target, search):
        self.inputs.append((target.clone(), search.clone()))
        return torch.as_tensor(self.outputs.pop(0), dtype=torch.float32)


def perfect_outputs(boxes_per_target: list[np.ndarray]) -> list[np.ndarray]:
    """What a perfect regressor answers on frames 1.., for targets whose true
    boxes ([x, y, w, h] per frame) are given: the true box of the current
    frame in the units of the crop centred on the previous true box."""
    corners = [np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1) for b in boxes_per_target]
    frames = len(corners[0])
    return [
        np.stack([box_to_crop_units(c[t], context_geometry(c[t - 1], WIDTH, HEIGHT)) for c in corners])
        for t in range(1, frames)
    ]


_CHECKPOINT: dict[str, Path] = {}


def random_checkpoint(tmp_path_factory) -> Path:
    """A GOTURN checkpoint with the random Caffe init, made once per session."""
    if "path" not in _CHECKPOINT:
        torch.manual_seed(0)
        path = tmp_path_factory.mktemp("goturn_checkpoint") / "random.pth"
        torch.save({"model": GoturnNet().state_dict()}, path)
        _CHECKPOINT["path"] = path
    return _CHECKPOINT["path"]
