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

That is the recipe for real data (``--optimizer caffe_sgd --lr_schedule step``,
the defaults). The demo trains the reduced network end to end from scratch in
about a thousand steps, where Caffe's SGD (made for 450k steps from pretrained
towers) barely moves: it uses AdamW (decay on weights, not biases; no
per-layer multipliers) with a cosine decay to zero over the run
(``--optimizer adamw --lr_schedule cosine``). ``build_optimizer`` is the
choice train.py makes from its flags.
"""

import math

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
            "lr_mult": MULTIPLIERS[kind][0],
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
    # Checkpoints written before groups carried their multiplier have only the name.
    return group["lr"] / (group.get("lr_mult") or MULTIPLIERS[group["name"]][0])


OPTIMIZERS = ("caffe_sgd", "adamw")
LR_SCHEDULES = ("step", "cosine")


def adamw_param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weights decay, biases do not; no per-layer multipliers. Frozen parameters are left out."""
    weights, biases = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (biases if name.endswith("bias") else weights).append(param)
    return [
        {"params": weights, "name": "weight", "lr_mult": 1.0, "weight_decay": weight_decay},
        {"params": biases, "name": "bias", "lr_mult": 1.0, "weight_decay": 0.0},
    ]


def cosine_factor(step: int, total_steps: int, warmup_steps: int = 0) -> float:
    """The lr multiplier at iteration ``step`` (0-based): a linear warm-up over ``warmup_steps``,
    then half a cosine from 1 down to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def planned_steps(epochs: int, steps_per_epoch: int, max_steps: int) -> int:
    """The steps a run will make: its epochs, or fewer when ``max_steps`` (0: no limit) stops it."""
    total = epochs * steps_per_epoch
    return min(total, max_steps) if max_steps else total


def build_optimizer(model: torch.nn.Module, args, steps_per_epoch: int, fused: bool | None = None):
    """The optimizer and per-iteration lr schedule train.py's flags ask for
    (``--optimizer``, ``--lr_schedule``; ``--lr``, ``--momentum``, ``--wd``, ``--lr_step``,
    ``--gamma``, ``--warmup_steps``). The cosine schedule spans the steps the run will make."""
    if args.optimizer == "caffe_sgd":
        optimizer = CaffeSGD(
            caffe_param_groups(model, args.lr, args.wd),
            lr=args.lr,
            momentum=args.momentum,
            weight_decay=args.wd,
            fused=fused,
        )
    elif args.optimizer == "adamw":
        groups = adamw_param_groups(model, args.wd)
        optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(args.momentum, 0.999), fused=fused)
    else:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {args.optimizer!r}")
    if args.lr_schedule == "step":
        if args.warmup_steps:
            raise ValueError("--warmup_steps goes with --lr_schedule cosine (Caffe's step policy has none)")
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_step, gamma=args.gamma)
    elif args.lr_schedule == "cosine":
        total = planned_steps(args.epochs, steps_per_epoch, args.max_steps)
        warmup = args.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: cosine_factor(step, total, warmup)
        )
    else:
        raise ValueError(f"lr schedule must be one of {LR_SCHEDULES}, got {args.lr_schedule!r}")
    return optimizer, scheduler
