"""goturn/optim.py: Caffe SGD (lr before momentum) equal to Caffe's update across lr changes; exact resume."""

import argparse
import copy
import itertools

import pytest
import torch
from torch import nn

from goturn.model import GoturnNet
from goturn.optim import CaffeSGD, base_lr, build_optimizer, build_solver, cosine_factor, planned_steps


def caffe_reference_steps(weights, grads, lrs, momentum, decay):
    """Caffe's update written out: v = m v + lr (g + wd w); w -= v."""
    w, v = weights.clone(), torch.zeros_like(weights)
    for grad, lr in zip(grads, lrs):
        v = momentum * v + lr * (grad + decay * w)
        w = w - v
    return w


def test_caffe_sgd_matches_caffe_across_lr_changes():
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(50, generator=generator)
    grads = [torch.randn(50, generator=generator) for _ in range(9)]
    param = nn.Parameter(start.clone())
    optimizer = CaffeSGD(
        [{"params": [param], "name": "fc_weight", "lr": 0.1}], lr=0.1, momentum=0.9, weight_decay=0.01
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1)
    lrs = []
    for grad in grads:
        lrs.append(optimizer.param_groups[0]["lr"])
        param.grad = grad.clone()
        optimizer.step()
        scheduler.step()
    assert lrs[2] == pytest.approx(0.1) and lrs[3] == pytest.approx(0.01) and lrs[6] == pytest.approx(0.001)
    expected = caffe_reference_steps(start, grads, lrs, 0.9, 0.01)
    torch.testing.assert_close(param.detach(), expected, rtol=1e-5, atol=1e-6)

    plain = nn.Parameter(start.clone())  # torch's SGD drifts from Caffe once the lr changes
    torch_sgd = torch.optim.SGD([plain], lr=0.1, momentum=0.9, weight_decay=0.01)
    torch_scheduler = torch.optim.lr_scheduler.StepLR(torch_sgd, step_size=3, gamma=0.1)
    for grad in grads:
        plain.grad = grad.clone()
        torch_sgd.step()
        torch_scheduler.step()
    assert (plain.detach() - expected).abs().max() > 1e-3


def test_solver_state_resumes_exactly():
    model = GoturnNet()
    model.freeze_features()
    optimizer, scheduler = build_solver(model, 1e-6, 0.9, 5e-4, step_size=2, fused=True)
    assert base_lr(optimizer) == pytest.approx(1e-6)
    params = [p for p in model.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(0)
    grads = [[torch.randn(p.shape, generator=generator) * 1e3 for p in params[-2:]] for _ in range(4)]

    def run(optimizer, scheduler, steps):
        for step_grads in steps:
            for p in params[:-2]:
                p.grad = torch.zeros_like(p)
            for p, g in zip(params[-2:], step_grads):
                p.grad = g.clone()
            optimizer.step()
            scheduler.step()

    start = [p.detach().clone() for p in params[-2:]]
    run(optimizer, scheduler, grads[:2])
    saved = copy.deepcopy((optimizer.state_dict(), scheduler.state_dict(), [p.detach() for p in params]))
    run(optimizer, scheduler, grads[2:])
    straight = [p.detach().clone() for p in params[-2:]]

    with torch.no_grad():
        for p, value in zip(params, saved[2]):
            p.copy_(value)
    resumed, resumed_scheduler = build_solver(model, 1e-6, 0.9, 5e-4, step_size=2, fused=True)
    resumed.load_state_dict(saved[0])
    resumed_scheduler.load_state_dict(saved[1])
    run(resumed, resumed_scheduler, grads[2:])
    for a, b, s in zip(straight, params[-2:], start):
        assert torch.equal(a, b.detach()) and not torch.equal(a, s)


def solver_args(**overrides) -> argparse.Namespace:
    """train.py's solver flags at their defaults (the Caffe recipe), with ``overrides``."""
    from goturn.train import get_args_parser

    args = get_args_parser().parse_args(["--data_path", "unused"])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_the_default_flags_are_the_caffe_recipe():
    args = solver_args()
    assert (args.network, args.optimizer, args.lr_schedule) == ("caffenet", "caffe_sgd", "step")
    model = GoturnNet()
    model.freeze_features()
    optimizer, scheduler = build_optimizer(model, args, steps_per_epoch=1000)
    assert isinstance(optimizer, CaffeSGD) and isinstance(scheduler, torch.optim.lr_scheduler.StepLR)
    assert scheduler.step_size == 100_000 and base_lr(optimizer) == pytest.approx(1e-6)
    assert [g["lr"] for g in optimizer.param_groups] == [pytest.approx(1e-5), pytest.approx(2e-5)]


def test_adamw_with_cosine_decays_weights_not_biases_and_ends_at_zero():
    model = GoturnNet("caffenet-tiny")
    args = solver_args(optimizer="adamw", lr_schedule="cosine", lr=1e-3, wd=0.05, epochs=3, max_steps=10)
    optimizer, scheduler = build_optimizer(model, args, steps_per_epoch=4)  # 12 steps, 10 run
    assert isinstance(optimizer, torch.optim.AdamW)
    decays = {g["name"]: g["weight_decay"] for g in optimizer.param_groups}
    assert decays == {"weight": 0.05, "bias": 0.0}
    names = dict(model.named_parameters())
    biases = {id(p) for n, p in names.items() if n.endswith("bias")}
    assert {id(p) for p in optimizer.param_groups[1]["params"]} == biases
    lrs = []
    for _ in range(10):
        lrs.append(base_lr(optimizer))
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(1e-3) and lrs[5] == pytest.approx(0.5e-3)
    assert all(a > b for a, b in itertools.pairwise(lrs)) and base_lr(optimizer) == pytest.approx(
        0.0, abs=1e-12
    )
    assert planned_steps(3, 4, 10) == 10 and planned_steps(3, 4, 0) == 12
    assert cosine_factor(0, 10, warmup_steps=2) == 0.5 and cosine_factor(1, 10, warmup_steps=2) == 1.0
    with pytest.raises(ValueError, match="warmup_steps goes with --lr_schedule cosine"):
        build_optimizer(model, solver_args(warmup_steps=5), steps_per_epoch=4)
