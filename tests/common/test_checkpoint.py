import errno

import numpy as np
import pytest
import torch

from common.checkpoint import CheckpointError, load_checkpoint, resolve_resume, save_checkpoint
from common.seeding import derive_seed, rng_state, seed_everything, set_rng_state


def test_round_trip_is_weights_only(tmp_path):
    path = tmp_path / "ckpt.pth"
    state = {"model": {"w": torch.arange(4.0)}, "step": 3, "args": {"lr": 0.1, "name": "x"}}
    save_checkpoint(state, path)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"]) and loaded["args"]["lr"] == 0.1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"], "no temporary file left behind"


def test_disk_full_names_path_and_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pth"
    save_checkpoint({"step": 1}, path)

    def write_half_then_fail(obj, handle):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", write_half_then_fail)
    with pytest.raises(CheckpointError, match=f"{path}.*No space left"):
        save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]


def test_unwritable_destination_is_named(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(CheckpointError, match="not_a_dir"):
        save_checkpoint({"step": 1}, blocker / "ckpt.pth")


def test_unpicklable_state_does_not_clobber(tmp_path):
    path = tmp_path / "ckpt.pth"
    save_checkpoint({"step": 1}, path)
    with pytest.raises(TypeError, match="generator"):
        save_checkpoint({"step": 2, "bad": (i for i in ())}, path)
    assert load_checkpoint(path)["step"] == 1
    assert len(list(tmp_path.iterdir())) == 1


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / "ckpt.pth"
    save_checkpoint({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pth")


def test_resolve_resume(tmp_path):
    assert resolve_resume("", tmp_path) is None
    assert resolve_resume("auto", tmp_path) is None
    save_checkpoint({}, tmp_path / "checkpoint.pth")
    assert resolve_resume("auto", tmp_path) == str(tmp_path / "checkpoint.pth")
    with pytest.raises(CheckpointError):
        resolve_resume(str(tmp_path / "nope.pth"), tmp_path)


def test_rng_state_survives_a_checkpoint(tmp_path):
    seed_everything(5, rank=1)
    save_checkpoint({"rng": rng_state()}, tmp_path / "r.pth")
    expected = (np.random.rand(), torch.rand(2))
    set_rng_state(load_checkpoint(tmp_path / "r.pth")["rng"])
    assert np.random.rand() == expected[0] and torch.equal(torch.rand(2), expected[1])


class FakeAccelerator:
    """Stands for torch.cuda / torch.npu: one current device's generator state."""

    __name__ = "torch.cuda"

    def __init__(self):
        self.state = torch.tensor([1, 2, 3], dtype=torch.uint8)

    def get_rng_state(self):
        return self.state.clone()

    def set_rng_state(self, state):
        self.state = state.clone()


def test_rng_state_keeps_only_this_process_device_generator(tmp_path, monkeypatch):
    from common import seeding

    accelerator = FakeAccelerator()
    monkeypatch.setattr(seeding, "_started_accelerator", lambda: accelerator)
    save_checkpoint({"rng": rng_state()}, tmp_path / "r.pth")
    saved = load_checkpoint(tmp_path / "r.pth")["rng"]
    assert saved["device"]["type"] == "cuda" and torch.equal(saved["device"]["state"], accelerator.state)
    accelerator.state = torch.zeros(3, dtype=torch.uint8)
    set_rng_state(saved)
    assert accelerator.state.tolist() == [1, 2, 3]
    # A CPU-only process ignores a GPU's state, and a CPU checkpoint has none to give.
    monkeypatch.setattr(seeding, "_started_accelerator", lambda: None)
    set_rng_state(saved)
    assert "device" not in rng_state()


def test_derive_seed_is_stable_and_spreads():
    assert derive_seed(1, 2, 3) == derive_seed(1, 2, 3)
    assert len({derive_seed(0, epoch, i) for epoch in range(5) for i in range(100)}) == 500
    assert 0 <= derive_seed(-1, 2**40) < 2**63


def test_resume_keeps_this_runs_update_implementation():
    """A checkpoint of a fused-SGD run (CUDA, fp32) resumed where fused is off (fp16, an NPU):
    the state comes back, the implementation stays this run's."""
    from common.checkpoint_contents import load_optimizer_state

    weights = torch.nn.Parameter(torch.ones(3))
    fused = torch.optim.SGD([weights], lr=0.1, momentum=0.9, fused=True)
    weights.grad = torch.ones(3)
    fused.step()
    plain = torch.optim.SGD([weights], lr=0.5, momentum=0.9)
    load_optimizer_state(plain, fused.state_dict())
    assert plain.param_groups[0]["fused"] is None and plain.param_groups[0]["lr"] == 0.1
    assert torch.equal(plain.state[weights]["momentum_buffer"], torch.ones(3))


def test_disk_full_inside_torch_save_is_one_line(tmp_path, monkeypatch):
    """A full disk as torch.save meets it: the file's write fails inside the zip writer, which
    raises "[enforce fail at inline_container.cc] ..." (a RuntimeError): one line naming the path
    and the cause; the old checkpoint stays and no temporary file is left."""
    import common.atomic

    path = tmp_path / "ckpt.pth"
    save_checkpoint({"step": 1}, path)
    real = common.atomic.tempfile.NamedTemporaryFile

    def filling_up(*args, **kwargs):
        handle = real(*args, **kwargs)
        written = 0

        def write(data):
            nonlocal written
            written += len(data)
            if written > 1000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return handle.file.write(data)

        handle.write = write
        return handle

    monkeypatch.setattr(common.atomic.tempfile, "NamedTemporaryFile", filling_up)
    with pytest.raises(CheckpointError) as raised:
        save_checkpoint({"step": 2, "w": torch.zeros(10_000)}, path)
    assert str(raised.value) == (
        f"could not write checkpoint {path}: No space left on device; the previous checkpoint, if any, "
        "is unchanged"
    )
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]
