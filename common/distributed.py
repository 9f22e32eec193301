"""torch.distributed set up from torchrun's environment, and the few
collectives the training loops need.

Every helper here also works in a single process, where it does nothing.
"""

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def process_info_from_env() -> ProcessInfo:
    """Read RANK / WORLD_SIZE / LOCAL_RANK as torchrun sets them."""
    try:
        return ProcessInfo(
            rank=int(os.environ.get("RANK", 0)),
            world_size=int(os.environ.get("WORLD_SIZE", 1)),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        )
    except ValueError as error:
        raise ValueError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers: {error}") from error


def init_process_group(info: ProcessInfo, backend: str, timeout_s: float) -> None:
    """Join the process group; a dead peer fails collectives after timeout_s
    instead of hanging the job forever."""
    if not info.distributed or dist.is_initialized():
        return
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise RuntimeError(
                f"WORLD_SIZE={info.world_size} but {name} is not set: start multi-process runs with torchrun"
            )
    dist.init_process_group(
        backend=backend, rank=info.rank, world_size=info.world_size, timeout=timedelta(seconds=timeout_s)
    )


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def collective_device() -> torch.device:
    """Where the process group's tensors must live: nccl and hccl reduce
    tensors on the process's GPU/NPU only (a CPU tensor fails there with "no
    backend type associated with device type cpu"), gloo on the CPU."""
    backend = dist.get_backend()
    if backend == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    if backend == "hccl":
        return torch.device("npu", torch.npu.current_device())
    return torch.device("cpu")


def _in_place(tensor: torch.Tensor, collective) -> torch.Tensor:
    """Run ``collective`` (an in-place torch.distributed call) on ``tensor``, by way of a copy on
    the collective device when the tensor lives elsewhere."""
    device = collective_device()
    if tensor.device == device:
        collective(tensor)
    else:
        moved = tensor.to(device)
        collective(moved)
        tensor.copy_(moved)
    return tensor


def _all_reduce(tensor: torch.Tensor, op) -> torch.Tensor:
    """All-reduce ``tensor`` in place, on any device and backend."""
    if not is_initialized():
        return tensor
    return _in_place(tensor, lambda t: dist.all_reduce(t, op=op))


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place (exact for integer counts), on any
    device and backend."""
    return _all_reduce(tensor, dist.ReduceOp.SUM)


def all_reduce_max(tensor: torch.Tensor) -> torch.Tensor:
    return _all_reduce(tensor, dist.ReduceOp.MAX)


@torch.no_grad()
def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Rank ``src``'s buffers (BatchNorm statistics and counters) on every rank."""
    if not is_initialized():
        return
    for buffer in module.buffers():
        _in_place(buffer, lambda t: dist.broadcast(t, src))


def sum_ints(*values: int) -> list[int]:
    """Each integer summed over ranks, in one collective (int64: every backend reduces it)."""
    if not is_initialized():
        return list(values)
    return all_reduce_sum(torch.tensor(values, dtype=torch.int64)).tolist()


def all_gather_object(obj) -> list:
    """One entry per rank, in rank order."""
    if not is_initialized():
        return [obj]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def destroy_process_group() -> None:
    if is_initialized():
        dist.destroy_process_group()
