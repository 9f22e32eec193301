"""The one error type the GloRe data code raises for bad data."""

from common.errors import UserError


class DataError(UserError):
    """A list line, frame or video that cannot be used; the message names the file (and line)."""
