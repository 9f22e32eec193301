"""Model figures: a GOTURN training step (frozen pretrained-style towers,
batch 50) and GloRe R50 training steps and inference at 8x224^2, each in the
precisions the device supports, timed on that device.

Each step is the one train.py runs: the same network, loss, optimizer and
autocast; the batch is made once beforehand so only the step is timed."""

import torch

from bench.harness import Figure, Repeats, rate_figure, thread_limit
from common.precision import autocast, make_grad_scaler
from glore.data.transforms import normalize_clips
from glore.model import GloReNet, to_channels_last
from glore.optim import build_optimizer
from goturn.data.stream import to_device as goturn_to_device
from goturn.model import GoturnNet, l1_sum
from goturn.optim import build_solver, fused_update

UCF101_CLASSES = 101


def unsupported_precision(device: torch.device, precision: str) -> str:
    """Why ``precision`` is not timed on ``device`` ("" when it is).

    fp16 autocast on a CPU runs through slow emulation and no CPU recipe uses
    it (``--amp`` means bf16 there), so it is timed on accelerators only."""
    if precision == "fp16" and device.type == "cpu":
        return "fp16 is not used on a CPU (--amp means bf16 there)"
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return f"{torch.cuda.get_device_name(device)} has no bf16"
    return ""


def goturn_step(
    batch: dict[str, torch.Tensor], device: torch.device, precision: str, repeats: Repeats, threads: int
) -> Figure:
    """One step of goturn.train: frozen towers (pretrained convs get no
    gradients), channels-last, the summed L1 loss, Caffe SGD (fused where
    train.py fuses it) on the FC layers, the loss read back."""
    model = GoturnNet()
    model.freeze_features()
    model = model.to(device).to(memory_format=torch.channels_last).train()
    optimizer, scheduler = build_solver(
        model,
        base_lr=1e-6,
        momentum=0.9,
        weight_decay=5e-4,
        step_size=100_000,
        fused=fused_update(device, precision),
    )
    scaler = make_grad_scaler(device, precision, None)

    def work() -> int:
        target, search, target_index, label = goturn_to_device(batch, device, channels_last=True)
        with autocast(device, precision):
            prediction = model(target, search, target_index)
        loss = l1_sum(prediction, label)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        loss.item()
        return len(label)

    with thread_limit(threads):
        return rate_figure(
            f"goturn.step.{precision}",
            "examples/s",
            work,
            repeats,
            device=device,
            threads=threads,
            note=f"batch {len(batch['label'])}, frozen convs",
        )


def glore_clips(batch_size: int, clip_len: int = 8, size: int = 224, seed: int = 0) -> torch.Tensor:
    """Integer clips as the loader yields them (int16 after pixel jitter)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(
        -20, 276, (batch_size, 3, clip_len, size, size), dtype=torch.int16, generator=generator
    )


def glore_step(
    clips: torch.Tensor, device: torch.device, precision: str, repeats: Repeats, threads: int
) -> Figure:
    """One step of glore.train: normalise on the device, forward, cross-entropy,
    backward, the fine-tuning SGD of glore.optim (every layer but the new
    classifier counted as pretrained), the loss read back; channels-last, as
    train.py runs by default."""
    model = to_channels_last(GloReNet(UCF101_CLASSES).to(device)).train()
    pretrained = {name for name, _ in model.named_parameters() if not name.startswith("classifier.")}
    optimizer = build_optimizer(
        model, pretrained, lr=1e-3, momentum=0.9, weight_decay=1e-4, pretrained_lr_mult=0.5
    )
    scaler = make_grad_scaler(device, precision, None)
    criterion = torch.nn.CrossEntropyLoss()
    labels = torch.arange(len(clips), device=device) % UCF101_CLASSES

    def work() -> int:
        with autocast(device, precision):
            logits = model(normalize_clips(clips, device, channels_last=True))
        loss = criterion(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss.item()
        return len(clips)

    with thread_limit(threads):
        return rate_figure(
            f"glore.step.{precision}",
            "clips/s",
            work,
            repeats,
            device=device,
            threads=threads,
            note=f"R50, batch {len(clips)}, 8x224^2, channels-last",
        )


def glore_inference(
    clips: torch.Tensor, device: torch.device, precision: str, repeats: Repeats, threads: int
) -> Figure:
    model = to_channels_last(GloReNet(UCF101_CLASSES).to(device)).eval()

    @torch.inference_mode()
    def work() -> int:
        with autocast(device, precision):
            model(normalize_clips(clips, device, channels_last=True))
        return len(clips)

    with thread_limit(threads):
        return rate_figure(
            f"glore.infer.{precision}",
            "clips/s",
            work,
            repeats,
            device=device,
            threads=threads,
            note=f"R50, batch {len(clips)}, 8x224^2, channels-last",
        )
