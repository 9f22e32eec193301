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

from contextlib import nullcontext

import torch

from common.errors import UserError

AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
PRECISIONS = ("fp32", "fp16", "bf16")


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
    """A GradScaler that is enabled only for fp16.

    Overflowing steps are skipped, not applied, and counted by the caller.
    """
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
