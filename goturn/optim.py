"""Caffe's SGD solver as GOTURN's solver.prototxt sets it up.

Caffe applies the learning rate before momentum::

    v = m v + lr (g + wd w);    w = w - v

torch's SGD applies it after (``b = m b + g + wd w; w = w - lr b``). The two
agree while the learning rate is constant (v = lr b) and differ after a
change: Caffe lets the old velocity run out at the old rate. ``CaffeSGD``
keeps torch's fast (foreach / fused) update and restores Caffe's semantics
exactly by rescaling each momentum buffer by ``lr_old / lr_new`` whenever a
group's learning rate changes.

Per-layer multipliers (GOTURN's prototxt): FC weights lr x10, decay x1; FC
biases lr x20, decay x0; conv layers lr 0, i.e. frozen. When the towers are
trained (no pretrained weights), CaffeNet's own multipliers apply: weights
lr x1 decay x1, biases lr x2 decay x0. The schedule is Caffe's "step" policy
per iteration: lr x ``gamma`` every ``step_size`` iterations.
"""

import torch

from goturn.model import GoturnNet

# (lr multiplier, weight-decay multiplier) per kind of parameter.
MULTIPLIERS = {
    "fc_weight": (10.0, 1.0),
    "fc_bias": (20.0, 0.0),
    "conv_weight": (1.0, 1.0),
    "conv_bias": (2.0, 0.0),
}


class CaffeSGD(torch.optim.SGD):
    """SGD with Caffe's order of learning rate and momentum (see module doc).
    Its state_dict checkpoints like any torch optimizer."""

    def __init__(
        self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, fused: bool | None = None
    ):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay, fused=fused)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            applied = group.get("applied_lr")
            if applied is not None and applied != group["lr"] and group["momentum"] != 0:
                if group["lr"] <= 0:
                    raise ValueError(
                        "CaffeSGD needs a positive learning rate; exclude frozen parameters "
                        "from the optimizer instead of giving them lr 0"
                    )
                buffers = [
                    self.state[p]["momentum_buffer"]
                    for p in group["params"]
                    if self.state[p].get("momentum_buffer") is not None
                ]
                if buffers:
                    torch._foreach_mul_(buffers, applied / group["lr"])
            group["applied_lr"] = group["lr"]
        return super().step(closure)


def caffe_param_groups(model: GoturnNet, base_lr: float, weight_decay: float) -> list[dict]:
    """Parameter groups with GOTURN's multipliers; parameters that do not
    require gradients (frozen towers) are left out."""
    kinds: dict[str, list[torch.nn.Parameter]] = {kind: [] for kind in MULTIPLIERS}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = "fc" if name.startswith("regressor.") else "conv"
        kinds[f"{layer}_{'bias' if name.endswith('bias') else 'weight'}"].append(param)
    return [
        {
            "params": params,
            "name": kind,
            "lr": base_lr * MULTIPLIERS[kind][0],
            "weight_decay": weight_decay * MULTIPLIERS[kind][1],
        }
        for kind, params in kinds.items()
        if params
    ]


def build_solver(
    model: GoturnNet,
    base_lr: float,
    momentum: float,
    weight_decay: float,
    step_size: int,
    gamma: float = 0.1,
    fused: bool | None = None,
):
    """CaffeSGD and its per-iteration step schedule (call ``scheduler.step()``
    after every optimizer step)."""
    optimizer = CaffeSGD(
        caffe_param_groups(model, base_lr, weight_decay),
        lr=base_lr,
        momentum=momentum,
        weight_decay=weight_decay,
        fused=fused,
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=gamma)
    return optimizer, scheduler


def fused_update(device: torch.device, precision: str) -> bool | None:
    """Whether to ask torch for its fused SGD kernel (None: torch's default,
    foreach). It is the fastest update on CPU and CUDA, but not safe under
    fp16's GradScaler: on a step the scaler skips for overflow the kernel
    still writes the momentum buffers (uninitialised memory on the first
    step; torch 2.11-2.13), and the next real step blows the FC weights up
    to 1e33 or NaN (tests/goturn/test_train.py)."""
    return True if device.type in ("cpu", "cuda") and precision != "fp16" else None


def base_lr(optimizer: torch.optim.Optimizer) -> float:
    """The current base learning rate (before the per-layer multipliers)."""
    group = optimizer.param_groups[0]
    return group["lr"] / MULTIPLIERS[group["name"]][0]
