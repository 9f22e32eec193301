"""Tiny GloRe data and checkpoints in the real on-disk formats, for the evaluation, predict and
export tests: rawframes folders with an mmaction2 list, encoded videos, and checkpoints shaped
like glore.train's (weights, training arguments, class names)."""

from pathlib import Path

import av
import cv2
import numpy as np
import torch

from glore.model import GloReNet

TINY_NETWORK = "resnet14-tiny"
# Small clips keep a forward pass of the tiny network in the milliseconds on a CPU.
TINY_INPUT = {"clip_len": 4, "interval": 2, "crop_size": 32, "resize": 36}


def write_rawframes(folder: Path, frames: np.ndarray) -> None:
    """frames: F x H x W x 3 RGB uint8, written as img_00001.jpg, ... (lossless enough for
    constant images at quality 100)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames, start=1):
        cv2.imwrite(
            str(folder / f"img_{index:05d}.jpg"),
            cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 100],
        )


def write_video(path: Path, frames: np.ndarray, fps: int = 25) -> None:
    """frames: F x H x W x 3 RGB uint8, encoded with MPEG-4 Part 2 (always in FFmpeg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def random_frames(rng: np.random.Generator, num_frames: int, height: int = 30, width: int = 40) -> np.ndarray:
    """Smooth random frames (a moving gradient plus noise), so videos differ from each other."""
    y, x = np.mgrid[0:height, 0:width]
    phase, speed, colour = rng.uniform(0, 6.3), rng.uniform(0.1, 0.6), rng.uniform(0.3, 1.0, size=3)
    frames = []
    for t in range(num_frames):
        wave = 0.5 + 0.5 * np.sin(0.25 * x + 0.15 * y + phase + speed * t)
        frame = wave[..., None] * colour * 255 + rng.normal(0, 8, size=(height, width, 3))
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return np.stack(frames)


def make_rawframes_dataset(
    root: Path,
    class_names: list[str],
    videos_per_class: int,
    seed: int = 0,
    frame_counts=(5, 9, 17, 30),
    split: int = 1,
) -> list[str]:
    """root/rawframes/<Class>/v_<Class>_gNN_c01/ and root/ucf101_{train,val}_split_<split>_rawframes.txt;
    frame counts cycle through `frame_counts` (short videos loop). Returns the list lines."""
    rng = np.random.default_rng(seed)
    lines = []
    for label, name in enumerate(class_names):
        for v in range(videos_per_class):
            relative = f"{name}/v_{name}_g{v + 1:02d}_c01"
            count = frame_counts[(label + v) % len(frame_counts)]
            write_rawframes(root / "rawframes" / relative, random_frames(rng, count))
            lines.append(f"{relative} {count} {label}")
    # glore.data.layout wants a train list beside the test list; evaluation reads only the latter.
    for subset in ("train", "val"):
        (root / f"ucf101_{subset}_split_{split}_rawframes.txt").write_text("\n".join(lines) + "\n")
    return lines


def make_checkpoint(path: Path, class_names: list[str], seed: int = 0, clip_input=None) -> GloReNet:
    """A checkpoint as glore.train writes it, with a randomly initialised tiny network whose BN
    statistics and blocker gammas are non-trivial (so every layer matters in the tests)."""
    torch.manual_seed(seed)
    model = GloReNet(len(class_names), network=TINY_NETWORK)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.rand(shape, generator=generator) * 0.2 - 0.1)
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(shape, generator=generator) * 0.5 + 0.5)
    model.eval()
    args = {"network": TINY_NETWORK, "channels_last": True, **(clip_input or TINY_INPUT)}
    torch.save(
        {"model": model.state_dict(), "args": args, "class_names": list(class_names), "epoch": 1}, path
    )
    return model


def make_tiny_demo(folder: Path) -> Path:
    """The smallest demo data set the GloRe training tests run on: 3 classes,
    20 frames of 32x24 per video, in ``folder``."""
    from glore.data.demo import generate

    generate(
        str(folder),
        groups=3,
        clips_per_group=1,
        test_groups=1,
        num_frames=20,
        height=24,
        width=32,
        workers=1,
        log=lambda _: None,
    )
    return folder
