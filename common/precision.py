"""Mixed precision through torch.amp, with the old apex flags mapped onto it.

apex is unmaintained; ``--amp``/``--opt-level``/``--loss-scale`` are still
accepted because ModelZoo scripts pass them:
- ``--opt-level O0`` is fp32; O1, O2 and O3 mean "autocast" (torch.amp has a
  single autocast mode, the safe O1 behaviour);
- the half type is fp16 on accelerators and bf16 on the CPU, where fp16
  kernels are slow and no loss scaling is needed;
- ``--loss-scale N`` starts the fp16 loss scale at N and never grows it (it
  still halves on an overflow, so a bad N cannot poison the weights);
  ``dynamic`` (default) lets GradScaler adapt it. Scaling exists only for fp16.
"""

import math
from contextlib import nullcontext

import torch

from common import distributed
from common.errors import UserError

AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
PRECISIONS = ("fp32", "fp16", "bf16")
# fp16 overflow that persists this long is not an overflow: halving the loss
# scale 30 times cannot fix a NaN, so the run stops as an fp32 run would.
MAX_CONSECUTIVE_SKIPS = 30


class NonFiniteLossError(UserError):
    """The loss became NaN or infinite; the message gives the step and the checkpoint to resume from."""


def resolve_precision(precision: str | None, amp: bool, opt_level: str | None, device: torch.device) -> str:
    """The precision to run in: an explicit --precision wins over --amp."""
    if precision:
        if precision not in PRECISIONS:
            raise UserError(f"--precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        return precision
    if not amp or (opt_level or "O1").upper() == "O0":
        return "fp32"
    return "bf16" if device.type == "cpu" else "fp16"


def autocast(device: torch.device, precision: str):
    """An autocast context for the forward pass; a no-op in fp32."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[precision])


def make_grad_scaler(device: torch.device, precision: str, loss_scale: str | None):
    """A GradScaler that is enabled only for fp16. Overflowing steps are skipped, not applied."""
    enabled = precision == "fp16"
    if not enabled or loss_scale in (None, "", "dynamic", "-1"):
        return torch.amp.GradScaler(device.type, enabled=enabled)
    try:
        scale = float(loss_scale)
    except ValueError as error:
        raise UserError(f"--loss-scale {loss_scale!r}: expected a number or 'dynamic'") from error
    if scale <= 0:
        raise UserError(f"--loss-scale {loss_scale!r}: expected a positive number or 'dynamic'")
    return torch.amp.GradScaler(device.type, init_scale=scale, growth_interval=2**31 - 1)


class MixedPrecision:
    """A run's precision: the forward's autocast, the scaled backward and step, the fp16 skip
    count, and the stop on a non-finite loss. ``where_to_resume()`` says, in an error, which
    checkpoint a stopped run can go on from."""

    def __init__(self, args, device: torch.device, world_size: int, distributed_run: bool, where_to_resume):
        self.device = device
        self.world_size = world_size
        self.precision = resolve_precision(args.precision, args.amp, args.opt_level, device)
        self.scaler = make_grad_scaler(device, self.precision, args.loss_scale)
        self.distributed = distributed_run
        self.where_to_resume = where_to_resume
        self.skipped_steps = 0
        self._consecutive_skips = 0

    def autocast(self):
        return autocast(self.device, self.precision)

    def backward_and_step(self, loss: torch.Tensor, optimizer) -> bool:
        """Backward and optimizer step through the GradScaler. Returns False when fp16 overflow
        made the scaler skip the step."""
        self.scaler.scale(loss).backward()
        scale_before = self.scaler.get_scale() if self.scaler.is_enabled() else None
        self.scaler.step(optimizer)
        self.scaler.update()
        if scale_before is None or self.scaler.get_scale() >= scale_before:
            self._consecutive_skips = 0
            return True
        self.skipped_steps += 1
        self._consecutive_skips += 1
        if self._consecutive_skips >= MAX_CONSECUTIVE_SKIPS:
            raise NonFiniteLossError(
                f"{self._consecutive_skips} fp16 steps in a row overflowed (loss "
                f"{loss.detach().float().cpu().item()}): the loss is not finite at any scale; "
                f"stopping. {self.where_to_resume()}"
            )
        return False

    def checked_loss(self, loss: torch.Tensor, step: int) -> float:
        """The step's loss as a number: the mean over the processes (what loss.txt, the progress
        line and the summary report), in one small collective. A NaN/Inf loss on any process
        stops every process at this step, naming it and where to resume; under fp16 an overflow
        is expected now and then (the GradScaler skips that step), so there it reads as NaN."""
        value = loss.detach().float().reshape(())
        if not self.distributed:
            number = value.item()
            if not math.isfinite(number) and self.precision != "fp16":
                raise NonFiniteLossError(self._non_finite(f"the loss is {number}", step))
            return number
        finite = torch.isfinite(value)
        # Summed together: the finite losses and the count of processes whose loss is not.
        both = torch.stack([torch.where(finite, value, torch.zeros_like(value)), (~finite).float()])
        total, non_finite = distributed.all_reduce_sum(both).tolist()
        if not non_finite:
            return total / self.world_size
        if self.precision == "fp16":
            return math.nan
        what = "another process's loss is not finite" if finite.item() else f"the loss is {value.item()}"
        raise NonFiniteLossError(self._non_finite(what, step))

    def _non_finite(self, what: str, step: int) -> str:
        return f"{what} at step {step}; stopping. Lower --lr or check the data; {self.where_to_resume()}"


INFERENCE_PRECISIONS = ("auto", *PRECISIONS)


def inference_precision(precision: str, device: torch.device) -> str:
    """The precision an inference command runs in. ``auto``: fp32 on a CPU (its half-precision
    kernels gain little at batch 1), bf16 on GPUs that have it, else fp16."""
    if precision not in INFERENCE_PRECISIONS:
        raise UserError(f"--precision {precision!r} is not one of {', '.join(INFERENCE_PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cpu":
        return "fp32"
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp16"
