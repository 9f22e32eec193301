"""Image files decoded the one way both models read them: as stored, and with a JPEG cut short
told from a whole one (libjpeg decodes a truncated file with a grey tail and only a warning, so a
decode that succeeds proves nothing)."""

import cv2
import numpy as np

SOI, SOS, EOI = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"


def decode_as_stored(raw: bytes, rgb: bool = False) -> tuple[np.ndarray | None, bool]:
    """Image bytes decoded to H x W x 3 uint8 (BGR, or RGB), the pixels as stored: an EXIF
    orientation tag is ignored, since annotated boxes refer to the stored pixels and frames
    decoded from a video are never turned. Returns the image (None when the bytes are no image)
    and whether the JPEG is truncated."""
    colour = cv2.IMREAD_COLOR_RGB if rgb else cv2.IMREAD_COLOR
    data = np.frombuffer(raw, np.uint8)
    image = cv2.imdecode(data, colour | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    return image, image is not None and is_truncated_jpeg(raw)


def is_truncated_jpeg(data: bytes) -> bool:
    """True for a JPEG whose last scan is not followed by the end-of-image marker. The last
    start-of-scan marker belongs to the main image (an EXIF thumbnail, with its own scan and
    end marker, comes before it; entropy-coded data never holds a marker), so bytes appended
    after the end marker, however many, do not count as truncation. Not a JPEG: False."""
    if data[:2] != SOI:
        return False
    if data.endswith(EOI) and SOS in data:
        # The usual whole file, told without scanning it from the end: a scan, and the end
        # marker after the last one (the same answer as below, at a few hundred bytes' cost).
        return False
    last_scan = data.rfind(SOS)
    return last_scan < 0 or data.find(EOI, last_scan) < 0
