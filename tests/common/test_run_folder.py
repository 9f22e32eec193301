"""The run folder: one live run at a time (a lock naming its holder), no fresh start over a run
(refused, or moved aside with --fresh), and one-line errors for folders that cannot be used."""

import os
import socket
import subprocess
import sys

import pytest

from common.run_folder import LOCK_FILE, RunFolderError, check_run_folder, claim_run_folder
from tests.conftest import REPO_ROOT, run_python
from tests.reliability.test_faults import start, wait_for_line

TINY = ("-m", "tests.helpers.tiny_train", "--tensorboard", "false", "--workers", "0")


def tiny(tmp_path, name, *extra):
    return run_python(*TINY, "--data_path", str(tmp_path), "--output_dir", str(tmp_path / name), *extra)


HOLD = """
import sys, time
from common.run_folder import RunFolderLock
RunFolderLock(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_held_folder_is_refused_naming_the_holder(tmp_path):
    (tmp_path / "run").mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "run")],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_line(holder, "locked")
        pattern = f"run is in use by a live run \\(pid {holder.pid} on {socket.gethostname()}\\)"
        with pytest.raises(RunFolderError, match=pattern):
            claim_run_folder(tmp_path / "run", resume="auto", fresh=False, trains=True)
        with pytest.raises(RunFolderError, match=pattern):
            check_run_folder(tmp_path / "run", resume="auto", fresh=False)
    finally:
        holder.kill()  # the kernel drops the lock of a dead holder, however it dies
        holder.wait(timeout=30)
    lock, _ = claim_run_folder(tmp_path / "run", resume="auto", fresh=False, trains=True)
    assert (tmp_path / "run" / LOCK_FILE).read_text() == f"pid {os.getpid()} on {socket.gethostname()}\n"
    lock.release()


def test_a_second_training_in_a_live_runs_folder_is_refused(tmp_path):
    """Two trainings with the same --output_dir: the second ends with one line naming the folder
    and the first's pid; the first's files stay its own."""
    first = start(tmp_path, "run", "--epochs", "200", "--step_seconds", "0.05", "--save_every", "5")
    try:
        wait_for_line(first, "training started")
        second = tiny(tmp_path, "run", "--epochs", "200", "--resume", "auto")
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"error: --output_dir {tmp_path / 'run'} is in use by a live run (pid {first.pid} on "
            f"{socket.gethostname()}); wait for it to end or stop it, or choose another --output_dir"
        ]
    finally:
        first.kill()
        first.communicate(timeout=30)
    steps = [int(line.split()[0]) for line in (tmp_path / "run" / "loss.txt").read_text().splitlines()]
    assert steps == list(range(1, len(steps) + 1)), "loss.txt holds one run's steps, once each"
    # The killed holder's lock is gone with it: the run can be resumed.
    assert tiny(tmp_path, "run", "--epochs", "2", "--resume", "auto").returncode == 0


def test_a_fresh_run_over_a_run_is_refused_and_fresh_moves_the_old_run_aside(tmp_path):
    assert tiny(tmp_path, "run", "--max_steps", "3").returncode == 0
    run = tmp_path / "run"
    before = {name: (run / name).read_bytes() for name in ("checkpoint.pth", "loss.txt", "result.json")}
    again = tiny(tmp_path, "run", "--max_steps", "5")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"error: --output_dir {run} holds a run (checkpoint.pth, loss.txt, result.json) and a fresh "
        f"start would overwrite it: continue it with --resume auto, start afresh with --fresh (moves "
        f"it to {run}.old-<time>), or choose another --output_dir"
    ]
    assert {name: (run / name).read_bytes() for name in before} == before
    moved = tiny(tmp_path, "run", "--max_steps", "5", "--fresh")
    assert moved.returncode == 0, moved.stderr[-2000:]
    (aside,) = tmp_path.glob("run.old-*")
    assert f"--fresh: the previous run in {run} was moved to {aside}" in moved.stdout
    assert {name: (aside / name).read_bytes() for name in before} == before
    assert [line.split()[0] for line in (run / "loss.txt").read_text().splitlines()] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]


def test_fresh_with_resume_is_refused(tmp_path):
    with pytest.raises(RunFolderError, match="give one of them"):
        claim_run_folder(tmp_path / "run", resume="auto", fresh=True, trains=True)


def test_an_output_dir_that_is_a_file_or_unwritable_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    result = tiny(tmp_path, "file", "--max_steps", "1")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: --output_dir {tmp_path / 'file'} is a file, not a folder"
    # Below a file: named as such (--check_args said 'Permission denied', the run 'Not a directory').
    below = tmp_path / "file" / "run"
    for check in (True, False):
        with pytest.raises(RunFolderError) as error:
            (check_run_folder if check else claim_run_folder)(below, resume=None, fresh=False, trains=True)
        assert str(error.value) == f"--output_dir {below}: {tmp_path / 'file'} is a file, not a folder"
    # A folder that cannot be made: under /sys even root cannot (a read-only folder, for others).
    unwritable = "/sys/zoo_test_run"
    result = tiny(tmp_path, unwritable, "--max_steps", "1")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"error: --output_dir {unwritable} cannot be written (")
