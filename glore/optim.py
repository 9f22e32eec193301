"""The optimizer and learning-rate schedule of GloRe fine-tuning.

SGD with Nesterov momentum 0.9 and weight decay 1e-4 except on biases (the reference keeps the
decay on BN weights, blocker gammas included; so do we). Parameters loaded from a pretrained
file learn at `pretrained_lr_mult` x lr (0.5, the reference's fine-tuning), new ones (the
classifier; GloRe units when inflating an ImageNet 2D net) at 1 x lr.
The schedule is per iteration: a linear warm-up, then step decay (x gamma at the given epochs)
or a cosine decay to zero. It is given in epochs and converted with the actual steps per epoch,
so it fits UCF-101 whatever the batch size and device count (the reference's iteration counts
were sized for Kinetics and never reached an lr step on UCF-101).
"""

import math

import torch
from torch import nn


def param_groups(model: nn.Module, pretrained: set[str], weight_decay: float, pretrained_lr_mult: float):
    groups = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        is_pretrained = name in pretrained
        decays = not name.endswith(".bias")
        key = ("pretrained" if is_pretrained else "new") + ("" if decays else "_no_decay")
        group = groups.setdefault(
            key,
            {
                "name": key,
                "params": [],
                "weight_decay": weight_decay if decays else 0.0,
                "lr_mult": pretrained_lr_mult if is_pretrained else 1.0,
            },
        )
        group["params"].append(param)
    return list(groups.values())


def build_optimizer(
    model, pretrained: set[str], lr: float, momentum: float, weight_decay: float, pretrained_lr_mult: float
) -> torch.optim.SGD:
    groups = param_groups(model, pretrained, weight_decay, pretrained_lr_mult)
    for group in groups:
        group["lr"] = lr * group["lr_mult"]
    return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=True)


def lr_factor(
    step: int,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float,
    schedule: str,
    milestones=(),
    gamma: float = 0.1,
) -> float:
    """The multiplier of every group's base lr at iteration `step` (0-based)."""
    warmup = round(warmup_epochs * steps_per_epoch)
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "cosine":
        total = max(1, epochs * steps_per_epoch - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / total)))
    passed = sum(1 for epoch in milestones if step >= epoch * steps_per_epoch)
    return gamma**passed


def build_lr_scheduler(
    optimizer,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float,
    schedule: str,
    milestones=(),
    gamma: float = 0.1,
):
    if schedule not in ("step", "cosine"):
        raise ValueError(f"lr schedule must be step or cosine, got {schedule!r}")
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: lr_factor(step, steps_per_epoch, epochs, warmup_epochs, schedule, milestones, gamma),
    )


def move_schedule_to(lr_scheduler, step: int) -> None:
    """Put the schedule (and every group's lr) at `step`: a run resumed with another global batch
    counts its steps in new units (common.runtime.Runtime.resume_step_in_epoch)."""
    lr_scheduler.last_epoch = step
    groups = lr_scheduler.optimizer.param_groups
    for group, base, factor in zip(groups, lr_scheduler.base_lrs, lr_scheduler.lr_lambdas):
        group["lr"] = base * factor(step)
    lr_scheduler._last_lr = [group["lr"] for group in groups]
