"""run_cli: errors a user can act on end in one line, exit status 2."""

import argparse
import errno

import pytest

from common.errors import run_cli


def run(main, capsys, argv=()):
    with pytest.raises(SystemExit) as exit_:
        run_cli(main, argparse.ArgumentParser(prog="x"), list(argv))
    return exit_.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device", "/runs/a/loss.txt"),
        PermissionError(errno.EACCES, "Permission denied", "/runs/a/train.log"),
        FileExistsError(errno.EEXIST, "File exists", "/runs/a"),
    ],
)
def test_an_environment_os_error_is_one_line_naming_the_file(capsys, error):
    def main(_args):
        raise error

    code, err = run(main, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"error: {error.filename}: {error.strerror} (a file or folder this run cannot write or read)"
    ]


def test_other_errors_keep_their_traceback(capsys):
    def main(_args):
        raise OSError(errno.EIO, "Input/output error")  # no file named: not the user's to fix

    with pytest.raises(OSError):
        run_cli(main, argparse.ArgumentParser(prog="x"), [])
