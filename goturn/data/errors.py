"""The one error of GOTURN's data: an annotation or image that cannot be used."""

from common.errors import UserError


class DataError(UserError):
    """An annotation or image that cannot be used; the message names the file
    (and line) and says what was expected."""
