"""Export a GOTURN checkpoint to ONNX and check the file against PyTorch.

    python -m goturn.export --checkpoint C --onnx model.onnx

Inputs ``target`` and ``search``: N x 3 x 227 x 227 float32, the crops as the
network takes them (BGR minus the CaffeNet mean, not divided by 255:
``goturn.data.crops.to_network_input``), N dynamic. Output ``box``: N x 4, the
box (x1, y1, x2, y2) in the search crop, in units where the crop is 10 x 10.

The export is checked on random crops at batch sizes other than the traced
one: with onnxruntime when it is installed (the ONNX file itself runs), else by
a ``torch.export`` save/load round trip of the same graph plus the ONNX
checker. Outputs must agree within ``|other - torch| <= ATOL + RTOL |torch|``.
Needs the ``onnx`` and ``onnxscript`` packages (torch's exporter uses them).
"""

import argparse
import importlib.util
import io
import logging
import warnings

import numpy as np
import torch

from common.cli import onnx_opset
from common.errors import UserError, run_cli
from goturn.data.crops import CROP_SIZE, to_network_input
from goturn.tracking.tracker import load_model

# Crop units: 1e-3 is a ten-thousandth of the crop side; float32 kernels of
# different runtimes differ in the last bits, summed over 8 layers.
ATOL, RTOL = 1e-3, 1e-4
TRACE_BATCH, CHECK_BATCHES = 2, (1, 3)
INPUT_NAMES, OUTPUT_NAMES = ["target", "search"], ["box"]


class TwoCropNet(torch.nn.Module):
    """The network with exactly the two exported inputs (no optional
    ``target_index``)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, target: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.model(target, search)


def random_crops(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs made from random uint8 pixels, so values span the
    range real crops have."""
    generator = torch.Generator().manual_seed(seed)
    shape = (2, batch, CROP_SIZE, CROP_SIZE, 3)
    pixels = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
    return to_network_input(pixels[0]).contiguous(), to_network_input(pixels[1]).contiguous()


def export_onnx(model: torch.nn.Module, path, opset: int = 18) -> None:
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"ONNX export needs the package(s) {', '.join(missing)}: pip install {' '.join(missing)}"
        )
    # Notes from torch's exporter that say nothing about this network: operators
    # it does not use, a pytree deprecation inside torch.export, the batch
    # dimension named twice (it is the same Dim on purpose).
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message="# The axis name", category=UserWarning)
    batch = torch.export.Dim("batch", min=1)
    torch.onnx.export(
        TwoCropNet(model).eval(),
        random_crops(TRACE_BATCH, seed=0),
        str(path),
        input_names=INPUT_NAMES,
        output_names=OUTPUT_NAMES,
        opset_version=opset,
        dynamic_shapes={"target": {0: batch}, "search": {0: batch}},
        dynamo=True,
        external_data=False,
        verbose=False,
    )


def run_onnxruntime(path):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(target, search):
        return session.run(None, {"target": target.numpy(), "search": search.numpy()})[0]

    return run


def run_torch_export_round_trip(model: torch.nn.Module, path):
    """The ONNX file passes the checker; the graph it came from is saved
    and loaded back with torch.export and run instead."""
    import onnx

    onnx.checker.check_model(str(path), full_check=True)
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(
        TwoCropNet(model).eval(),
        random_crops(TRACE_BATCH, seed=0),
        dynamic_shapes={"target": {0: batch}, "search": {0: batch}},
    )
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer).module()

    def run(target, search):
        with torch.inference_mode():
            return loaded(target, search).numpy()

    return run


CHECKS = ("auto", "onnxruntime", "torch")


def verify(model: torch.nn.Module, path, check: str = "auto") -> dict:
    """Compare the export with the PyTorch model at ``CHECK_BATCHES``; raises
    when a value is outside the tolerance. ``check``: ``onnxruntime``,
    ``torch`` (export round trip) or ``auto`` (onnxruntime when installed).
    Returns what was checked."""
    if check not in CHECKS:
        raise ValueError(f"check must be one of {CHECKS}, got {check!r}")
    if check == "auto":
        check = "onnxruntime" if importlib.util.find_spec("onnxruntime") is not None else "torch"
    if check == "onnxruntime":
        method, run = "onnxruntime", run_onnxruntime(path)
    else:
        method, run = "torch.export round trip + onnx checker", run_torch_export_round_trip(model, path)
    model = model.eval()
    worst = 0.0
    for batch in CHECK_BATCHES:
        target, search = random_crops(batch, seed=batch)
        with torch.inference_mode():
            expected = model(target, search).numpy()
        actual = run(target, search)
        if actual.shape != expected.shape:
            raise AssertionError(f"{method}: output shape {actual.shape}, PyTorch {expected.shape}")
        excess = np.abs(actual - expected) - (ATOL + RTOL * np.abs(expected))
        worst = max(worst, float(np.max(np.abs(actual - expected))))
        if (excess > 0).any():
            raise AssertionError(
                f"{method} differs from PyTorch at batch {batch} by up to "
                f"{np.max(np.abs(actual - expected)):.2e} (tolerance {ATOL} + {RTOL}|x|)"
            )
    return {
        "method": method,
        "batches": list(CHECK_BATCHES),
        "max_abs_diff": worst,
        "tolerance": f"{ATOL} + {RTOL} * |torch|",
    }


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Export a GOTURN checkpoint to ONNX and verify it.")
    parser.add_argument("--checkpoint", required=True, help="GOTURN checkpoint")
    parser.add_argument("--onnx", required=True, help="output .onnx file")
    parser.add_argument("--opset", type=onnx_opset, default=18, help="ONNX opset version")
    parser.add_argument(
        "--check",
        choices=CHECKS,
        default="auto",
        help="how to verify the export: onnxruntime runs the file; torch re-loads the "
        "exported graph with torch.export (auto: onnxruntime when installed)",
    )
    return parser


def main(args) -> dict:
    torch.set_grad_enabled(False)
    model = load_model(args.checkpoint).eval()
    export_onnx(model, args.onnx, args.opset)
    result = verify(model, args.onnx, args.check)
    print(
        f"wrote {args.onnx}: inputs target, search (N x 3 x {CROP_SIZE} x {CROP_SIZE}, N dynamic), "
        f"output box (N x 4); checked with {result['method']} at batch sizes {result['batches']}: "
        f"max |difference| {result['max_abs_diff']:.2e} (tolerance {result['tolerance']})"
    )
    return result


if __name__ == "__main__":
    run_cli(main, get_args_parser())
