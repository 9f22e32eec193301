"""Synthetic inputs the benchmarks write to a temporary folder: the same
files, sizes and formats every time (fixed seeds), so two runs time the same
work. Pictures are a smooth colour field with shapes and mild grain: not
flat colours, which would make JPEG and video decoding unrealistically cheap,
and not noise."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np

VIDEO_GOP = 12  # ffmpeg's default key-frame interval: a seek decodes up to 11 frames before the clip
VIDEO_FPS = 25
JPEG_QUALITY = 95  # cv2.imwrite's default


def picture(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A BGR uint8 scene: colour field, a dozen shapes, grain."""
    field = rng.integers(30, 226, size=(5, 6, 3)).astype(np.uint8)
    image = cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(12):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(8, max(9, width // 5)))
        cv2.rectangle(image, (x, y), (x + size, y + size // 2), colour, -1)
    grain = rng.normal(0.0, 4.0, image.shape).astype(np.float32)
    return np.clip(image + grain, 0, 255).astype(np.uint8)


def write_jpeg(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"cannot write {path}")


@dataclass
class GoturnPair:
    prev_path: str
    curr_path: str
    prev_box: tuple[float, float, float, float]
    curr_box: tuple[float, float, float, float]


def _index_path(folder: Path, count: int, seed: int) -> Path:
    return folder / f"index_{count}_{seed}.json"


def _load_index(path: Path, record_type):
    """The records of inputs written before (by an earlier job of the same run)."""
    if not path.exists():
        return None
    return [record_type(**fields) for fields in json.loads(path.read_text())]


def _save_index(path: Path, records) -> None:
    path.write_text(json.dumps([asdict(record) for record in records]))


def goturn_pairs(folder: Path, count: int, seed: int = 0) -> list[GoturnPair]:
    """``count`` pairs of distinct JPEG frames (two decodes per pair, like
    ALOV), sizes from 320x240 to 640x480, an object box of 10-40 % of the
    frame that moves a little between them. Written once per folder."""
    index_file = _index_path(folder, count, seed)
    written = _load_index(index_file, GoturnPair)
    if written is not None:
        return written
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [(320, 240), (480, 360), (640, 480)]
    pairs = []
    for index in range(count):
        width, height = sizes[index % len(sizes)]
        box_w, box_h = rng.uniform(0.1, 0.4) * width, rng.uniform(0.1, 0.4) * height
        x1, y1 = rng.uniform(0, width - box_w), rng.uniform(0, height - box_h)
        prev_box = (x1, y1, x1 + box_w, y1 + box_h)
        dx = float(np.clip(rng.normal(0, 0.1 * box_w), -x1, width - prev_box[2]))
        dy = float(np.clip(rng.normal(0, 0.1 * box_h), -y1, height - prev_box[3]))
        curr_box = (prev_box[0] + dx, prev_box[1] + dy, prev_box[2] + dx, prev_box[3] + dy)
        paths = []
        for frame in ("prev", "curr"):
            path = folder / f"pair{index:03d}_{frame}.jpg"
            write_jpeg(path, picture(rng, width, height))
            paths.append(str(path))
        pairs.append(GoturnPair(paths[0], paths[1], prev_box, curr_box))
    _save_index(index_file, pairs)
    return pairs


def video_frames(
    rng: np.random.Generator, num_frames: int, width: int = 320, height: int = 240
) -> np.ndarray:
    """num_frames x H x W x 3 BGR: a scene panning slowly with a moving block,
    so consecutive frames differ as in real video (P-frames are not empty)."""
    scene = picture(rng, width + num_frames, height)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    for t in range(num_frames):
        frame = frames[t]
        frame[...] = scene[:, t : t + width]
        x = int((width - 60) * (0.5 + 0.5 * np.sin(t / 9.0)))
        cv2.rectangle(frame, (x, 80), (x + 60, 150), colour, -1)
    return frames


def decode_video(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="bgr24") for frame in container.decode(video=0)])


def write_rawframes(folder: Path, frames: np.ndarray) -> None:
    """``img_00001.jpg`` ... as mmaction2's frame extraction writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        write_jpeg(folder / f"img_{t + 1:05d}.jpg", frame)


def write_xvid(path: Path, frames: np.ndarray) -> None:
    """An MPEG-4 Part 2 .avi tagged XVID (UCF-101's format), key frame every
    ``VIDEO_GOP`` frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=VIDEO_FPS)
        stream.codec_tag = "XVID"
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = VIDEO_GOP
        stream.bit_rate = 600_000
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@dataclass
class GloreVideo:
    frame_dir: str
    video_path: str
    num_frames: int


def glore_videos(folder: Path, count: int, num_frames: int = 150, seed: int = 0) -> list[GloreVideo]:
    """``count`` 320x240 videos of ``num_frames`` (6 s at 25 fps, UCF-101's
    typical length), each as an XVID .avi and as a rawframes folder of its
    decoded frames (frames are extracted from the videos, as for UCF-101).
    Written once per folder."""
    index_file = _index_path(folder, count, seed)
    written = _load_index(index_file, GloreVideo)
    if written is not None:
        return written
    rng = np.random.default_rng(seed)
    videos = []
    for index in range(count):
        frames = video_frames(rng, num_frames)
        frame_dir = folder / "rawframes" / f"v_{index:02d}"
        video_path = folder / "videos" / f"v_{index:02d}.avi"
        video_path.parent.mkdir(parents=True, exist_ok=True)
        write_xvid(video_path, frames)
        write_rawframes(frame_dir, decode_video(video_path))
        videos.append(GloreVideo(str(frame_dir), str(video_path), num_frames))
    _save_index(index_file, videos)
    return videos
