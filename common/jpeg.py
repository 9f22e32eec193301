"""Telling a JPEG cut short from a whole one. libjpeg decodes a truncated file with a grey tail
and only a warning, so a decode that succeeds proves nothing."""

SOI, SOS, EOI = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"


def is_truncated_jpeg(data: bytes) -> bool:
    """True for a JPEG whose last scan is not followed by the end-of-image marker. The last
    start-of-scan marker belongs to the main image (an EXIF thumbnail, with its own scan and
    end marker, comes before it; entropy-coded data never holds a marker), so bytes appended
    after the end marker, however many, do not count as truncation. Not a JPEG: False."""
    if data[:2] != SOI:
        return False
    last_scan = data.rfind(SOS)
    return last_scan < 0 or data.find(EOI, last_scan) < 0
