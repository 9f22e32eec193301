"""The shared runtime driven the way the models drive it (through the tiny
trainer in tests/helpers): exact resume, DDP equivalence, one-line errors."""

import numpy as np
import torch

from tests.conftest import run_python

TINY = ("-m", "tests.helpers.tiny_train", "--tensorboard", "false", "--workers", "0")


def train(tmp_path, name, *extra):
    out = tmp_path / name
    result = run_python(*TINY, "--data_path", str(tmp_path), "--output_dir", str(out), *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(out / "final_weights.pt", weights_only=True)


def test_resume_continues_bitwise(tmp_path):
    straight = train(tmp_path, "straight", "--epochs", "3")
    # Stop in the middle of the second epoch, then resume to the end.
    train(tmp_path, "split", "--epochs", "3", "--max_steps", "12")
    resumed = train(tmp_path, "split", "--epochs", "3", "--resume", "auto")
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key
    # Guards the check above: without --resume the same split gives other weights.
    restarted = train(tmp_path, "split", "--epochs", "1", "--fresh")
    assert not all(torch.equal(v, restarted[k]) for k, v in straight.items())


def test_two_process_ddp_matches_one_process(tmp_path):
    single = train(tmp_path, "single", "--epochs", "2", "--dropout", "0", "--batch_size", "8")
    out = tmp_path / "ddp"
    result = run_python(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        *TINY,
        "--data_path",
        str(tmp_path),
        "--output_dir",
        str(out),
        "--epochs",
        "2",
        "--dropout",
        "0",
        "--batch_size",
        "4",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ddp = torch.load(out / "final_weights.pt", weights_only=True)
    for key, value in single.items():
        torch.testing.assert_close(ddp[key], value, rtol=1e-5, atol=1e-6)
    initial_gap = sum((v - ddp[k]).abs().sum() for k, v in single.items())
    assert initial_gap < 1e-4
    # The recorded loss is the mean over the processes: each holds half of the same global batch,
    # so it is the one-process loss of that batch (rank 0's alone would differ at every step).
    single_losses, ddp_losses = (read_losses(tmp_path / name / "loss.txt") for name in ("single", "ddp"))
    assert len(ddp_losses) == len(single_losses) == 16
    np.testing.assert_allclose(ddp_losses, single_losses, rtol=1e-5, atol=1e-6)


def read_losses(path) -> np.ndarray:
    return np.loadtxt(path, ndmin=2)[:, 1]


def test_nodes_without_a_shared_output_folder_cannot_resume_apart(tmp_path):
    """Two processes standing for two nodes with their own disks: the checkpoint rank 0 wrote is
    not on rank 1's. Resuming is decided once, by rank 0, and refused with one clear error on
    every process, instead of rank 1 starting afresh beside a resumed rank 0 (diverged, then
    hung at the next mismatched collective)."""
    out = tmp_path / "node"
    ddp = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2")
    common = (
        *TINY,
        "--data_path",
        str(tmp_path),
        "--output_dir",
        str(out),
        "--private_output_dirs",
        "--dist_timeout",
        "60",
    )
    first = run_python(*ddp, *common, "--max_steps", "3")
    assert first.returncode == 0, first.stderr[-3000:]
    assert (out / "checkpoint.pth").is_file() and not (tmp_path / "node_rank1" / "checkpoint.pth").exists()
    resumed = run_python(*ddp, *common, "--resume", "auto", timeout=120)
    assert resumed.returncode != 0
    assert "the processes find different checkpoints to resume from" in resumed.stdout + resumed.stderr
    assert "Timed out" not in resumed.stdout + resumed.stderr


def test_bad_device_is_a_one_line_error(tmp_path):
    result = run_python(
        *TINY, "--data_path", str(tmp_path), "--output_dir", str(tmp_path / "o"), "--device", "gpu"
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "--device 'gpu'" in result.stderr


def test_missing_data_path_is_a_one_line_error(tmp_path):
    missing = tmp_path / "no_such_dir"
    result = run_python(*TINY, "--data_path", str(missing), "--output_dir", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: --data_path {missing} is not a directory"]


def test_compile_trains_like_eager(tmp_path):
    """--compile (torch.compile) changes how the step runs, not what it computes."""
    eager = train(tmp_path, "eager", "--epochs", "1", "--dropout", "0")
    compiled = train(tmp_path, "compiled", "--epochs", "1", "--dropout", "0", "--compile")
    for key, value in eager.items():
        torch.testing.assert_close(compiled[key], value, rtol=1e-4, atol=1e-5)
    untrained = train(tmp_path, "untrained", "--epochs", "1", "--dropout", "0", "--max_steps", "1")
    assert not all(torch.equal(v, untrained[k]) for k, v in eager.items())


def test_resume_with_another_batch_says_where_the_epoch_and_the_step_counter_go_on(tmp_path):
    """8 examples per step for 3 steps, then 4 per step: the epoch goes on after its first 24
    examples (this run's step 7 of 16), the step counter from 3 (it counts iterations), and the
    log says both; --max_steps 10 then runs 7 steps."""
    train(tmp_path, "run", "--epochs", "3", "--max_steps", "3", "--batch_size", "8")
    out = tmp_path / "run"
    result = run_python(
        *TINY,
        "--data_path",
        str(tmp_path),
        "--output_dir",
        str(out),
        "--epochs",
        "3",
        "--max_steps",
        "10",
        "--batch_size",
        "4",
        "--resume",
        "auto",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "the checkpoint's run took 8 examples per step, this one 4: epoch 1 goes on after its first 24 "
        "examples, from this run's step 7 of 16; the run's step counter goes on from 3 (it counts "
        "iterations whatever their batch: loss.txt, --max_steps and the lr schedule)"
    ) in result.stdout
    saved = torch.load(out / "checkpoint.pth", weights_only=True)
    assert (saved["epoch"], saved["step"], saved["step_in_epoch"]) == (0, 10, 13)
    steps = [int(line.split()[0]) for line in (out / "loss.txt").read_text().splitlines()]
    assert steps == list(range(1, 11))


def test_costly_choices_are_said_with_the_reason(tmp_path, capsys):
    """fp16 on a CPU (emulated, many times slower), more loader workers than cores, a fixed loss
    scale that bf16 does not use: the run goes on, and the log says why it may not be wanted."""
    from common.cli import cores_per_process
    from tests.helpers.tiny_train import run_in_process

    too_many = cores_per_process() + 1
    code, out, _ = run_in_process(
        tmp_path,
        capsys,
        "--max_steps",
        "1",
        "--device",
        "cpu",
        "--precision",
        "fp16",
        "--workers",
        str(too_many),
    )
    assert code == 0
    assert "--precision fp16 on the CPU: its fp16 kernels are emulated" in out
    assert (
        f"--workers {too_many}: each loader worker is a process, and this one has {cores_per_process()}"
        in out
    )
    code, out, _ = run_in_process(
        tmp_path, capsys, "--max_steps", "1", "--precision", "bf16", "--loss-scale", "128", "--fresh"
    )
    assert code == 0
    assert "--loss-scale 128 is ignored: loss scaling is for fp16, and this run is bf16" in out


def test_resume_messages_count_as_the_progress_lines(tmp_path, capsys):
    """Epochs from 1, the steps this process took beside the run's count."""
    from tests.helpers.tiny_train import run_in_process

    assert run_in_process(tmp_path, capsys, "--epochs", "3", "--max_steps", "3")[0] == 0
    checkpoint = tmp_path / "run" / "checkpoint.pth"
    code, out, _ = run_in_process(tmp_path, capsys, "--epochs", "3", "--max_steps", "8", "--resume", "auto")
    assert code == 0
    assert f"resumed from {checkpoint}: step 3, epoch 1 after its step 3" in out
    assert "done: 5 steps (the run is at step 8)" in out
    code, out, _ = run_in_process(tmp_path, capsys, "--epochs", "3", "--max_steps", "9", "--resume", "auto")
    assert (
        f"resumed from {checkpoint}: step 8, epoch 1 after its step 8" in out
        and "done: 1 steps (the run is" in out
    )
