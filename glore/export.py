"""Export a trained GloRe checkpoint to ONNX and check the file against PyTorch.

    python -m glore.export --checkpoint C --onnx model.onnx

Input `clips`: N x 3 x T x S x S normalised float32 clips (T x S x S from the checkpoint's
training, 8 x 224 x 224 for the reference recipe; normalisation as
glore.data.transforms.normalize_clips), N dynamic. Output `logits`: N x num_classes.

The file then passes the ONNX checker and is run on random clips at two batch sizes other than
the one traced, with onnxruntime when it is installed, else with the ONNX reference evaluator
(NumPy; about 15 s per 8 x 224^2 clip on a CPU), and must match PyTorch within
|onnx - torch| <= ATOL + RTOL * |torch| per logit.
Needs the `onnx` and `onnxscript` packages (torch's exporter uses them).
"""

import argparse
import importlib.util
import logging
import time
import warnings

import numpy as np
import torch

from common.cli import onnx_opset, str2bool
from common.errors import UserError, run_cli
from glore.inference.trained_model import load_trained_model

ATOL, RTOL = 1e-4, 1e-3  # float32 kernels differ between runtimes in the last bits, summed over layers
TRACE_BATCH, CHECK_BATCHES = 2, (1, 3)


def export_onnx(model: torch.nn.Module, sample: torch.Tensor, path: str, opset: int) -> None:
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"ONNX export needs the package(s) {', '.join(missing)}: pip install {' '.join(missing)}"
        )
    # Noise from torch's exporter about things this model does not use (torchvision operators,
    # a pytree API deprecation inside torch.export).
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
    batch = torch.export.Dim("batch", min=1)
    torch.onnx.export(
        model,
        (sample,),
        path,
        dynamo=True,
        opset_version=opset,
        input_names=["clips"],
        output_names=["logits"],
        dynamic_shapes={"x": {0: batch}},
        external_data=False,
        verbose=False,
    )


def onnx_runner(path: str):
    """A function clips -> logits running the ONNX file, and the name of what runs it."""
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return (
            lambda clips: session.run(["logits"], {"clips": clips})[0]
        ), f"onnxruntime {onnxruntime.__version__}"
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(path)
    return (lambda clips: evaluator.run(["logits"], {"clips": clips})[0]), "the onnx reference evaluator"


@torch.no_grad()
def check_onnx(model: torch.nn.Module, path: str, clip_shape: tuple[int, ...], seed: int = 0) -> dict:
    """Largest deviation from PyTorch over random clips at CHECK_BATCHES batch sizes; raises
    when the file is malformed or a logit is out of tolerance."""
    import onnx

    onnx.checker.check_model(path, full_check=True)
    run, runner = onnx_runner(path)
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for batch in CHECK_BATCHES:
        clips = torch.randn(batch, *clip_shape, generator=generator)
        expected = model(clips).numpy()
        got = run(clips.numpy())
        if got.shape != expected.shape:
            raise UserError(
                f"{path}: output shape {got.shape} for batch {batch}, PyTorch gives {expected.shape}"
            )
        excess = np.abs(got - expected) - (ATOL + RTOL * np.abs(expected))
        worst = max(worst, float(np.abs(got - expected).max()))
        if (excess > 0).any():
            raise UserError(
                f"{path} disagrees with PyTorch at batch {batch}: max |difference| "
                f"{np.abs(got - expected).max():.3g} exceeds {ATOL} + {RTOL} x |logit|"
            )
    return {"runner": runner, "batches": list(CHECK_BATCHES), "max_abs_diff": worst}


def main(args):
    trained = load_trained_model(args.checkpoint, "cpu")
    spec = trained.clip_input
    clip_shape = (3, spec.clip_len, spec.crop_size, spec.crop_size)
    sample = torch.zeros(TRACE_BATCH, *clip_shape)
    start = time.perf_counter()
    export_onnx(trained.model, sample, args.onnx, args.opset)
    print(
        f"wrote {args.onnx}: input clips N x {' x '.join(map(str, clip_shape))} (N dynamic), output logits "
        f"N x {len(trained.class_names)}, opset {args.opset}, in {time.perf_counter() - start:.1f}s"
    )
    if not args.verify:
        return
    check = check_onnx(trained.model, args.onnx, clip_shape)
    print(
        f"checked with {check['runner']} at batch sizes {check['batches']}: max |onnx - torch| = "
        f"{check['max_abs_diff']:.2e} (tolerance {ATOL} + {RTOL} x |logit|)"
    )


def get_args_parser():
    parser = argparse.ArgumentParser(
        description="Export a GloRe checkpoint to ONNX and verify it against PyTorch."
    )
    parser.add_argument("--checkpoint", required=True, help="checkpoint written by glore.train")
    parser.add_argument("--onnx", required=True, help="ONNX file to write")
    parser.add_argument("--opset", type=onnx_opset, default=18, help="ONNX opset version")
    parser.add_argument(
        "--verify",
        type=str2bool,
        default=True,
        help="run the file and compare it with PyTorch (default true)",
    )
    return parser


if __name__ == "__main__":
    run_cli(main, get_args_parser())
