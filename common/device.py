"""Choosing the compute device (cpu / cuda / npu) and the matching
distributed backend."""

import importlib.util
import os

import torch

from common.errors import UserError

BACKEND_OF_DEVICE = {"cpu": "gloo", "cuda": "nccl", "npu": "hccl"}
DEVICE_TYPES = ("cpu", "cuda", "npu")


class DeviceError(UserError):
    """A device or backend the user asked for cannot be used here."""


def npu_available() -> bool:
    """True when torch_npu is installed and sees an Ascend device.

    torch_npu is imported only when present: importing it registers the
    ``npu`` device type with torch.
    """
    if importlib.util.find_spec("torch_npu") is None:
        return False
    import torch_npu  # noqa: F401

    return torch.npu.is_available()


def _available(device_type: str) -> bool:
    if device_type == "cpu":
        return True
    if device_type == "cuda":
        return torch.cuda.is_available()
    return npu_available()


def resolve_device(spec: str = "auto", local_rank: int = 0, single_process: bool = False) -> torch.device:
    """Turn ``auto|cpu|cuda|npu[:N]`` into a usable torch.device.

    ``auto`` prefers an Ascend NPU, then CUDA, then the CPU. Without an
    explicit index, accelerator processes take the device of their local rank;
    a single NPU process takes ``ASCEND_DEVICE_ID`` when it is set, as
    ModelZoo's 1p scripts expect (``ASCEND_DEVICE_ID=3 bash test/train_full_1p.sh``).
    """
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        device_type = next(t for t in ("npu", "cuda", "cpu") if _available(t))
        index = None
    else:
        device_type, _, index_text = spec.partition(":")
        if device_type not in DEVICE_TYPES:
            raise DeviceError(
                f"--device {spec!r} is not a device: expected auto, cpu, cuda, npu, cuda:N or npu:N"
            )
        if index_text and not index_text.isdigit():
            raise DeviceError(f"--device {spec!r}: the index after ':' must be a number")
        if not _available(device_type):
            raise DeviceError(
                f"--device {spec!r} was asked for but no {device_type} device is "
                "available on this machine (use --device auto or cpu)"
            )
        index = int(index_text) if index_text else None
    if device_type == "cpu":
        return torch.device("cpu")
    if index is None:
        index = local_rank
        ascend_id = os.environ.get("ASCEND_DEVICE_ID", "")
        if device_type == "npu" and single_process and ascend_id.isdigit():
            index = int(ascend_id)
    count = torch.cuda.device_count() if device_type == "cuda" else torch.npu.device_count()
    if index >= count:
        raise DeviceError(
            f"{device_type}:{index} does not exist: this machine has {count} {device_type} device(s)"
        )
    return torch.device(device_type, index)


def resolve_backend(requested: str, device: torch.device) -> str:
    """The process-group backend: the device's natural one unless forced."""
    requested = (requested or "auto").lower()
    if requested == "auto":
        return BACKEND_OF_DEVICE[device.type]
    if requested not in ("gloo", "nccl", "hccl"):
        raise DeviceError(f"--dist_backend {requested!r} is not one of auto, gloo, nccl, hccl")
    if requested == "nccl" and device.type != "cuda":
        raise DeviceError(f"--dist_backend nccl needs CUDA devices, but the device is {device}")
    if requested == "hccl" and device.type != "npu":
        raise DeviceError(f"--dist_backend hccl needs Ascend NPUs, but the device is {device}")
    return requested


def prefers_channels_last(device: torch.device) -> bool:
    """Whether the channels-last layout is the better default on ``device``:
    oneDNN (CPU) and cuDNN run convolutions fastest in it; torch_npu's
    kernels pick their own internal layouts, so an NPU keeps the default one."""
    return device.type != "npu"


def set_current_device(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_device(device)
    elif device.type == "npu":
        torch.npu.set_device(device)


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so wall-clock timings mean something."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "npu":
        torch.npu.synchronize(device)
