"""A truncated JPEG is told from a whole one with bytes appended after it, and from one whose
EXIF thumbnail carries its own end marker."""

import cv2
import numpy as np
from PIL import Image

from common.jpeg import is_truncated_jpeg


def jpeg_bytes(tmp_path, thumbnail: bool = False) -> bytes:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    path = tmp_path / "x.jpg"
    if thumbnail:
        image.resize((40, 30)).save(tmp_path / "thumb.jpg")
        # An APP1 segment holding a whole JPEG (SOI ... SOS ... EOI), as EXIF thumbnails do.
        payload = b"Exif\0\0" + (tmp_path / "thumb.jpg").read_bytes()
        image.save(path, quality=90)
        data = path.read_bytes()
        app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
        return data[:2] + app1 + data[2:]
    image.save(path, quality=90)
    return path.read_bytes()


def test_whole_padded_truncated_and_thumbnailed_jpegs(tmp_path):
    whole = jpeg_bytes(tmp_path)
    assert not is_truncated_jpeg(whole)
    padded = whole + b"\0" * 5000  # some writers append data after the end marker
    assert cv2.imdecode(np.frombuffer(padded, np.uint8), cv2.IMREAD_COLOR) is not None
    assert not is_truncated_jpeg(padded)
    assert is_truncated_jpeg(whole[: len(whole) // 2])
    with_thumbnail = jpeg_bytes(tmp_path, thumbnail=True)
    assert cv2.imdecode(np.frombuffer(with_thumbnail, np.uint8), cv2.IMREAD_COLOR).shape == (120, 160, 3)
    assert not is_truncated_jpeg(with_thumbnail)
    assert is_truncated_jpeg(with_thumbnail[: len(with_thumbnail) - 3000])  # the thumbnail's end marker stays
    assert not is_truncated_jpeg(b"\x89PNG\r\n\x1a\n")
    # Cut before the first scan, an end marker appended: no scan, so truncated.
    assert is_truncated_jpeg(whole[: whole.find(b"\xff\xda")] + b"\xff\xd9")
