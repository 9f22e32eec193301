"""Read the frames of a clip, as one uint8 array T x H x W x 3 (RGB).

Two sources share one interface (`num_frames`, `read(indices)`), used by training, evaluation
and prediction alike:
- `RawFrames`: a folder of extracted JPEGs `img_00001.jpg`, ... (1-based; `flow_x_*`/`flow_y_*`
  beside them are ignored);
- `VideoFile`: a video decoded with PyAV, seeking once per clip to the key frame before the first
  wanted frame and decoding forward, instead of seeking once per frame.
Each distinct frame of a clip is decoded once, even when a looped clip repeats it.
"""

import os

import av
import numpy as np
from PIL import Image

from common.jpeg import decode_as_stored
from common.video import upright
from glore.data.errors import DataError

FRAME_TEMPLATE = "img_{:05d}.jpg"
FRAME_PREFIX, FRAME_SUFFIX = "img_", ".jpg"


def count_rawframes(frame_dir: str) -> int:
    try:
        names = os.listdir(frame_dir)
    except OSError as error:
        raise DataError(f"cannot list frames folder {frame_dir}: {error.strerror or error}") from error
    count = sum(1 for n in names if n.startswith(FRAME_PREFIX) and n.endswith(FRAME_SUFFIX))
    if count == 0:
        raise DataError(f"frames folder {frame_dir} holds no {FRAME_TEMPLATE.format(1)}-style frames")
    return count


def decode_frame(path: str, num_frames: int) -> np.ndarray:
    """One JPEG frame as H x W x 3 RGB, read from disk once; a missing, empty, corrupt or truncated
    file (common.jpeg) fails with its path."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        reason = "is missing" if not os.path.exists(path) else f"is unreadable ({error.strerror or error})"
        raise DataError(
            f"frame {path} {reason} (the video has {num_frames} frames according to its list)"
        ) from None
    image, truncated = decode_as_stored(raw, rgb=True)
    if image is None:
        raise DataError(f"frame {path} is unreadable or corrupt")
    if truncated:
        raise DataError(f"frame {path} is truncated (its JPEG data ends early)")
    return image


class RawFrames:
    def __init__(self, frame_dir: str, num_frames: int | None = None):
        if not os.path.isdir(frame_dir):
            raise DataError(f"frames folder {frame_dir} does not exist")
        self.path = frame_dir
        self.num_frames = num_frames if num_frames is not None else count_rawframes(frame_dir)

    def frame_bytes(self) -> int:
        """The size of one decoded frame, from the first JPEG's header (nothing decoded)."""
        path = os.path.join(self.path, FRAME_TEMPLATE.format(1))
        try:
            with Image.open(path) as image:
                width, height = image.size
        except (OSError, ValueError):
            return 0  # read() names the frame
        return width * height * 3

    def read(self, indices) -> np.ndarray:
        unique, inverse = np.unique(np.asarray(indices), return_inverse=True)
        decoded = None
        for slot, index in enumerate(unique):
            path = os.path.join(self.path, FRAME_TEMPLATE.format(int(index) + 1))
            image = decode_frame(path, self.num_frames)
            if decoded is None:
                decoded = np.empty((len(unique), *image.shape), np.uint8)
            elif image.shape != decoded.shape[1:]:
                raise DataError(
                    f"frame {path} is {image.shape[1]}x{image.shape[0]}, the clip's first frame "
                    f"is {decoded.shape[2]}x{decoded.shape[1]}"
                )
            decoded[slot] = image
        return in_requested_order(decoded, inverse)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_FIRST_PTS: dict[str, int] = {}  # video path -> timestamp of its frame 0, per process
# Frames a seek starts before the first wanted one when the video has B-frames: more than the
# B-frames between two reference frames in Xvid/DivX files (at most 2 or 3).
B_FRAME_MARGIN = 4


class VideoFile:
    def __init__(self, path: str):
        self.path = path
        try:
            self._container = av.open(path)
        except (OSError, av.FFmpegError) as error:
            reason = "is missing" if not os.path.exists(path) else f"cannot be opened ({error})"
            raise DataError(f"video {path} {reason}") from error
        if not self._container.streams.video:
            self._container.close()
            raise DataError(f"video {path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_count = 1  # parallelism comes from loader workers, one core each
        rate = self._stream.average_rate or self._stream.guessed_rate
        if not rate:
            self._container.close()
            raise DataError(f"video {path} has no frame rate")
        self._fps = float(rate)
        self._time_base = float(self._stream.time_base)
        self.num_frames = self._count_frames()
        self._start_pts = self._first_frame_pts()
        # Seeks go by decoding time in AVI, which starts before frame 0's presentation time.
        self._seek_origin = min(self._stream.start_time or 0, self._start_pts)

    def _count_frames(self) -> int:
        if self._stream.frames > 0:
            return int(self._stream.frames)
        if self._stream.duration:
            return max(1, round(self._stream.duration * self._time_base * self._fps))
        # No header count (Matroska/WebM, often with a variable frame rate): frames are indexed
        # by time at the average rate, so the count is the last frame's time index plus one (the
        # packet count would leave the end of a variable-rate video unsampled).
        stamps = [packet.pts for packet in self._container.demux(self._stream) if packet.size]
        self._container.seek(0, stream=self._stream)
        if not stamps:
            raise DataError(f"video {self.path} holds no frames")
        times = [stamp for stamp in stamps if stamp is not None]
        span = round((max(times) - min(times)) * self._time_base * self._fps) + 1 if times else 0
        return max(len(stamps), span)

    def _first_frame_pts(self) -> int:
        """The timestamp of frame 0: the first decoded frame's, which is not always the stream's
        start time (AVIs with B-frames, as UCF-101's Xvid files are, stamp frame 0 with 1, and
        every frame would be taken one late). Decoded once per video and loader process."""
        origin = _FIRST_PTS.get(self.path)
        if origin is None:
            origin = self._stream.start_time or 0
            try:
                first = next(iter(self._container.decode(self._stream)), None)
            except av.FFmpegError:
                first = None  # read() names the video when it cannot decode it
            if first is not None and first.pts is not None:
                origin = first.pts
            _FIRST_PTS[self.path] = origin
        return origin

    def frame_bytes(self) -> int:
        """The size of one decoded RGB frame, from the stream's header."""
        context = self._stream.codec_context
        return int(context.width or 0) * int(context.height or 0) * 3

    def _frame_index(self, frame) -> int:
        return round((frame.pts - self._start_pts) * self._time_base * self._fps)

    def read(self, indices) -> np.ndarray:
        indices = np.asarray(indices)
        unique, inverse = np.unique(indices, return_inverse=True)
        first, last = int(unique[0]), int(unique[-1])
        wanted = {int(i) for i in unique}
        # With B-frames the frames shown just before a key frame are decoded after it, and the
        # seek (by decoding time in AVI) can land past the key frame they need: start a few
        # frames earlier, and from the video's start if the first frame is still missed.
        margin = B_FRAME_MARGIN if self._stream.codec_context.has_b_frames else 0
        decoded = self._decode(first - margin, wanted, last)
        if first not in decoded and min(decoded, default=first + 1) > first and first - margin > 0:
            decoded.update(self._decode(0, wanted, last))
        if not decoded:
            raise DataError(
                f"video {self.path}: no frame decoded in [{first}, {last}] "
                f"(header says {self.num_frames} frames)"
            )
        # Container headers sometimes count a frame or two that does not decode: such frames take
        # the nearest decoded frame before them (or after, at the start).
        available = np.array(sorted(decoded))
        nearest = available[np.clip(np.searchsorted(available, unique, side="right") - 1, 0, None)]
        clip = np.stack([decoded[int(i)] for i in nearest])
        return in_requested_order(clip, inverse)

    def _decode(self, start: int, wanted: set[int], last: int) -> dict[int, np.ndarray]:
        """The wanted frames among those decoded from the key frame at or before frame `start`
        up to frame `last`, one seek."""
        decoded: dict[int, np.ndarray] = {}
        try:
            target = self._seek_origin + int(max(start, 0) / self._fps / self._time_base)
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
            for frame in self._container.decode(self._stream):
                if frame.pts is None:
                    raise DataError(
                        f"video {self.path}: frames carry no timestamps; extract its frames with "
                        "python -m glore.data.prepare and train from rawframes"
                    )
                index = self._frame_index(frame)
                if index > last:
                    break
                if index in wanted:
                    decoded[index] = upright(frame)
                if index == last:
                    break
        except av.FFmpegError as error:
            if not decoded:
                raise DataError(
                    f"video {self.path} cannot be decoded around frame {start}: {error}"
                ) from error
        return decoded

    def close(self) -> None:
        self._container.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def in_requested_order(frames: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Frames decoded for the sorted distinct indices, put back in the order asked for (a looped
    clip is not sorted; a repeated index is decoded once). No copy when the order already holds."""
    if len(inverse) == len(frames) and np.all(np.diff(inverse) > 0):
        return frames
    return frames[inverse]


def open_frames(path: str, num_frames: int | None = None):
    """A frames folder or a video file, with the shared `num_frames` / `read(indices)` interface."""
    if num_frames is not None or os.path.isdir(path):  # rawframes lists give the frame count
        return RawFrames(path, num_frames)
    return VideoFile(path)
