"""What a resume reads: a format number (a newer one is refused), keys it does not use (said,
then ignored), and a plain word when --resume auto finds nothing. Run in-process on the tiny
trainer."""

import torch

from tests.helpers.tiny_train import run_in_process as tiny


def rewrite_checkpoint(tmp_path, change):
    path = tmp_path / "run" / "checkpoint.pth"
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)
    return path


def test_resume_auto_without_a_checkpoint_says_it_starts_afresh(tmp_path, capsys):
    code, out, _ = tiny(tmp_path, capsys, "--max_steps", "1", "--resume", "auto")
    assert code == 0
    assert f"--resume auto: no checkpoint in {tmp_path / 'run'} yet; starting afresh" in out


def test_a_checkpoint_in_a_newer_format_is_refused(tmp_path, capsys):
    assert tiny(tmp_path, capsys, "--max_steps", "2")[0] == 0
    path = rewrite_checkpoint(tmp_path, lambda state: state.update(format=2))
    code, _, err = tiny(tmp_path, capsys, "--resume", "auto")
    assert code == 2
    assert err.splitlines() == [
        f"error: checkpoint {path} is in format 2, newer than this code reads (up to 1): resume it with "
        "the version of the package that wrote it"
    ]


def test_an_old_checkpoint_is_read_and_what_it_holds_beyond_is_named(tmp_path, capsys):
    assert tiny(tmp_path, capsys, "--max_steps", "2")[0] == 0

    def age(state):
        del state["format"], state["model_info"]
        state["ema_model"] = {"w": torch.zeros(1)}

    path = rewrite_checkpoint(tmp_path, age)
    code, out, _ = tiny(tmp_path, capsys, "--resume", "auto", "--max_steps", "3")
    assert code == 0
    assert f"{path} has no format number (written before 0.2): read as format 1" in out
    assert f"{path}: ignored what this run does not use: ema_model" in out


def test_weights_that_do_not_fit_are_one_line(tmp_path, capsys):
    assert tiny(tmp_path, capsys, "--max_steps", "2")[0] == 0
    path = rewrite_checkpoint(
        tmp_path, lambda state: state["model"].update({"layers.0.weight": torch.zeros(3, 8)})
    )
    code, _, err = tiny(tmp_path, capsys, "--resume", "auto")
    assert code == 2
    assert err.splitlines() == [
        f"error: checkpoint {path} holds weights of another model that do not fit this run's model (1 of "
        "another shape, e.g. layers.0.weight (3, 8) instead of (16, 8)): resume from a checkpoint of this "
        "model, or start afresh (--fresh, or another --output_dir)"
    ]
