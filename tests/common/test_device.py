import argparse

import pytest
import torch

from common.cli import add_runtime_args, str2bool
from common.device import DeviceError, resolve_backend, resolve_device
from common.precision import make_grad_scaler, resolve_precision

CPU = torch.device("cpu")


def test_auto_picks_cpu_without_accelerators():
    assert not torch.cuda.is_available()
    assert resolve_device("auto") == CPU
    assert resolve_device("cpu") == CPU


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "tpu:0"])
def test_unknown_device_is_refused_by_name(spec):
    with pytest.raises(DeviceError, match=spec):
        resolve_device(spec)


def test_unavailable_accelerator_is_refused():
    with pytest.raises(DeviceError, match="no cuda device"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match="no npu device"):
        resolve_device("npu:0")


def test_backend_follows_device_and_can_be_forced():
    assert resolve_backend("auto", CPU) == "gloo"
    assert resolve_backend("auto", torch.device("cuda", 0)) == "nccl"
    assert resolve_backend("gloo", torch.device("cuda", 0)) == "gloo"
    with pytest.raises(DeviceError, match="nccl needs CUDA"):
        resolve_backend("nccl", CPU)
    with pytest.raises(DeviceError, match="hccl needs Ascend"):
        resolve_backend("hccl", CPU)


def test_legacy_amp_flags_map_onto_precision():
    cuda = torch.device("cuda", 0)
    assert resolve_precision(None, False, None, cuda) == "fp32"
    assert resolve_precision(None, True, "O2", cuda) == "fp16"
    assert resolve_precision(None, True, "O0", cuda) == "fp32"
    assert resolve_precision(None, True, "O1", CPU) == "bf16"
    assert resolve_precision("fp32", True, "O2", cuda) == "fp32"


def test_grad_scaler_only_for_fp16():
    assert not make_grad_scaler(CPU, "bf16", "dynamic").is_enabled()
    assert not make_grad_scaler(CPU, "fp32", "128").is_enabled()
    static = make_grad_scaler(CPU, "fp16", "128")
    assert static.is_enabled() and static.get_scale() == 128.0


def test_booleans_are_real():
    parser = add_runtime_args(argparse.ArgumentParser())
    assert parser.parse_args(["--amp", "False"]).amp is False
    assert parser.parse_args(["--amp"]).amp is True
    assert parser.parse_args(["--amp=1", "--random-seed", "7"]).seed == 7
    assert str2bool("yes") and not str2bool("off")
    with pytest.raises(SystemExit):
        parser.parse_args(["--amp", "maybe"])


NPU_PICK = """
import sys, types, torch
import common.device as device
torch.utils.rename_privateuse1_backend("npu")  # what torch_npu does; no Ascend here
torch.npu = types.SimpleNamespace(device_count=lambda: 8)
device._available = lambda kind: kind in ("cpu", "npu")
one = {"single_process": True}
print(device.resolve_device("auto", 0, **one), device.resolve_device("npu", 0, **one),
      device.resolve_device("npu", 2), device.resolve_device("npu:5", 0, **one))
"""


@pytest.mark.parametrize(
    "ascend_device_id, picked",
    [
        ("3", "npu:3 npu:3 npu:2 npu:5"),
        ("", "npu:0 npu:0 npu:2 npu:5"),
    ],
)
def test_a_single_npu_process_takes_ascend_device_id(ascend_device_id, picked):
    """ModelZoo's 1p scripts run on $ASCEND_DEVICE_ID; ranks of a multi-process run keep their
    local rank, and an explicit npu:N wins."""
    from tests.conftest import run_python

    result = run_python("-c", NPU_PICK, env={"ASCEND_DEVICE_ID": ascend_device_id})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == picked.split()


def test_channels_last_auto_is_on_except_on_an_npu(tmp_path):
    import types

    from common.cli import add_auto_bool_flag
    from common.device import prefers_channels_last
    from common.runtime import setup_runtime

    parser = add_runtime_args(argparse.ArgumentParser())
    add_auto_bool_flag(parser, "--channels_last", help="layout")
    args = parser.parse_args(["--output_dir", str(tmp_path), "--tensorboard", "false"])
    assert args.channels_last is None
    runtime = setup_runtime(args)
    runtime.finish()
    assert args.channels_last is True and parser.parse_args(["--channels_last"]).channels_last is True
    assert parser.parse_args(["--channels_last=false"]).channels_last is False
    assert not prefers_channels_last(types.SimpleNamespace(type="npu"))
