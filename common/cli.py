"""Command-line flags shared by both models' train.py."""

import argparse
import json
import math
import os

TRUE_WORDS = {"1", "true", "t", "yes", "y", "on"}
FALSE_WORDS = {"0", "false", "f", "no", "n", "off"}


def str2bool(text) -> bool:
    """A real boolean for argparse: ``type=bool`` would read "False" as True."""
    if isinstance(text, bool):
        return text
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false, 1/0, yes/no), got {text!r}")


def number(kind=int, *, least=None, most=None, above=None, below=None):
    """An argparse ``type`` for a number of ``kind`` (int or float) in a range: ``least`` <= x
    <= ``most``, ``above`` < x < ``below`` (each bound optional). Floats must be finite. A value
    outside is refused when the flags are parsed, with the range in the message:
    ``--batch_size=0`` ends in "argument --batch_size: expected an integer >= 1, got '0'"."""
    bounds = [
        f"{sign} {bound}"
        for sign, bound in ((">=", least), (">", above), ("<=", most), ("<", below))
        if bound is not None
    ]
    what = "an integer" if kind is int else "a finite number"
    if bounds:
        what += " " + " and ".join(bounds)

    def parse(text):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if (
            (kind is float and not math.isfinite(value))
            or (least is not None and value < least)
            or (most is not None and value > most)
            or (above is not None and value <= above)
            or (below is not None and value >= below)
        ):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type by it in some messages
    return parse


# The ranges most flags need, named once.
positive_int = number(int, least=1)
count = number(int, least=0)
positive_float = number(float, above=0)
non_negative_float = number(float, least=0)
# The ONNX opsets torch.onnx exports (7 to 23 in torch 2.13; an older torch refuses the top ones itself).
onnx_opset = number(int, least=7, most=23)
finite_float = number(float)
probability = number(float, least=0, most=1)


class ValuesAction(argparse.Action):
    """A flag of several values, given as words (``--short_side 32 48``) or in one word with
    commas (``--short_side 32,48``, how the launch scripts pass ``--short_side=32,48``). Each
    value is parsed by ``item_type``; ``count`` (None: any) is how many there must be."""

    def __init__(self, option_strings, dest, item_type=str, count=None, **kwargs):
        kwargs.setdefault("nargs", "*" if count is None else "+")
        super().__init__(option_strings, dest, **kwargs)
        self.item_type, self.count = item_type, count

    def __call__(self, parser, namespace, values, option_string=None):
        words = [piece for value in values for piece in str(value).split(",") if piece.strip()]
        try:
            parsed = [self.item_type(word.strip()) for word in words]
        except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
            parser.error(f"argument {option_string}: {error}")
        if self.count is not None and len(parsed) != self.count:
            spaced, commas = " ".join(["N"] * self.count), ",".join(["N"] * self.count)
            parser.error(
                f"argument {option_string}: expected {self.count} values ('{spaced}' or '{commas}'), "
                f"got {len(parsed)}: {' '.join(map(str, values))}"
            )
        setattr(namespace, self.dest, parsed)


def add_bool_flag(parser, *names: str, default: bool, help: str) -> None:
    """``--flag`` alone means true; ``--flag false`` and ``--flag=0`` also work."""
    parser.add_argument(
        *names, type=str2bool, nargs="?", const=True, default=default, metavar="BOOL", help=help
    )


def bool_or_auto(text) -> bool | None:
    """A boolean, or None for "auto" (decided later, from the device or the weights)."""
    if text is None or str(text).strip().lower() == "auto":
        return None
    return str2bool(text)


def add_auto_bool_flag(parser, *names: str, help: str) -> None:
    """``--flag auto|true|false`` (default auto: None); ``--flag`` alone means true."""
    parser.add_argument(
        *names, type=bool_or_auto, nargs="?", const=True, default=None, metavar="auto|true|false", help=help
    )


def cores_per_process() -> int:
    """The CPU cores this process may use, shared among the ranks of this node."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ranks_here = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    return max(1, (cpus or 1) // ranks_here)


def default_workers() -> int:
    """Loader workers per process: the cores of this node shared among its
    ranks, one left for the training process itself."""
    return max(1, min(8, cores_per_process() - 1))


PIXELS_ON = ("loader", "device")


def add_pixels_on_flag(group, old_name: str, work: str) -> None:
    """``--pixels_on loader|device``: where a model's per-example pixel work (``work``) runs, in
    the loader workers with OpenCV or batched on the training device. ``old_name`` (the flag's
    earlier name in this model) stays accepted."""
    group.add_argument(
        "--pixels_on",
        old_name,
        dest="pixels_on",
        choices=PIXELS_ON,
        default="loader",
        help=f"where {work} runs: 'loader' (OpenCV in the loader workers) or 'device' (the workers "
        "only decode and draw the randomness; the training device does the rest for a whole batch: "
        "for GPUs/NPUs whose step rate the loader's CPU cores would otherwise limit; it works on "
        f"the CPU too, more slowly). Also {old_name}",
    )


def add_runtime_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    group = parser.add_argument_group("runtime (shared by every model)")
    group.add_argument(
        "--device",
        default="auto",
        help="auto | cpu | cuda | npu, optionally :N (auto: npu, then cuda, then cpu)",
    )
    group.add_argument(
        "--dist_backend",
        "--backend",
        dest="dist_backend",
        default="auto",
        help="auto | gloo | nccl | hccl (auto: hccl on npu, nccl on cuda, gloo on cpu)",
    )
    group.add_argument(
        "--dist_timeout",
        type=positive_float,
        default=1800.0,
        help="seconds a collective may wait for a dead or stuck rank before failing",
    )
    add_bool_flag(
        group,
        "--distributed",
        default=False,
        help="accepted for ModelZoo compatibility; DDP is used whenever torchrun "
        "starts more than one process",
    )
    group.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16"),
        default=None,
        help="numeric precision via torch.amp (default fp32, or what --amp implies)",
    )
    add_bool_flag(
        group,
        "--amp",
        default=False,
        help="legacy apex flag: mixed precision (fp16 on accelerators, bf16 on cpu)",
    )
    group.add_argument(
        "--opt-level",
        "--opt_level",
        dest="opt_level",
        default=None,
        choices=("O0", "O1", "O2", "O3"),
        help="legacy apex flag: O0 is fp32, O1-O3 mean autocast",
    )
    group.add_argument(
        "--loss-scale",
        "--loss_scale",
        dest="loss_scale",
        default="dynamic",
        help="legacy apex flag: fp16 loss scale, a number or 'dynamic'",
    )
    group.add_argument(
        "--seed",
        "--random-seed",
        "--random_seed",
        dest="seed",
        type=count,
        default=0,
        help="seeds every random stream (python, numpy, torch, ranks, loader workers)",
    )
    group.add_argument(
        "--output_dir", default="output", help="checkpoints, logs, TensorBoard events and result.json go here"
    )
    group.add_argument(
        "--resume", default="", help="checkpoint to resume from, or 'auto' for OUTPUT_DIR/checkpoint.pth"
    )
    add_bool_flag(
        group,
        "--fresh",
        default=False,
        help="start a new run even if OUTPUT_DIR holds one: the old run is moved aside to "
        "OUTPUT_DIR.old-<time> (without it, a run in OUTPUT_DIR is continued with --resume auto "
        "or refused)",
    )
    group.add_argument(
        "--save_every",
        type=count,
        default=0,
        help="also checkpoint every N steps (0: only at the end of each epoch)",
    )
    group.add_argument("--print_freq", type=positive_int, default=20, help="log a line every N steps")
    group.add_argument(
        "--workers",
        "-j",
        dest="workers",
        type=count,
        default=default_workers(),
        help="data-loader worker processes per rank",
    )
    add_bool_flag(group, "--tensorboard", default=True, help="write TensorBoard scalars")
    add_bool_flag(
        group,
        "--skip_bad",
        default=False,
        help="skip unreadable samples (counted and reported) instead of failing",
    )
    add_bool_flag(group, "--compile", default=False, help="torch.compile the model")
    group.add_argument(
        "--check_args",
        action="store_true",
        help="only check the flags and the output folder, start nothing: exit 0, or 2 with one "
        "error line (what test/launcher.sh does before it clears the previous summary)",
    )
    return parser


def trains_in(args) -> bool:
    """Whether a command with these flags trains in its output folder (glore.train --test_only
    only evaluates there)."""
    return not getattr(args, "test_only", False)


def plain_args(args) -> dict:
    """The flags a JSON file (and ``torch.load(weights_only=True)``) can hold."""
    return {key: value for key, value in vars(args).items() if _is_plain(value)}


def _is_plain(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False


def warn_about_costly_choices(args, precision: str, device, log) -> None:
    """Flags that run, but not as a user would expect: said once, with the reason."""
    if precision == "fp16" and device.type == "cpu":
        log.warning(
            "--precision fp16 on the CPU: its fp16 kernels are emulated, many times slower "
            "than fp32 (13x measured on GOTURN); bf16 is the CPU's half type (--precision bf16)"
        )
    if str(args.loss_scale) not in ("", "dynamic", "-1") and precision != "fp16":
        log.warning(
            f"--loss-scale {args.loss_scale} is ignored: loss scaling is for fp16, and this run "
            f"is {precision}"
        )
    workers, cores = getattr(args, "workers", 0), cores_per_process()
    if workers > cores:
        log.warning(
            f"--workers {workers}: each loader worker is a process, and this one has {cores} CPU "
            f"core(s); more workers than cores only compete for them (default here: "
            f"{default_workers()})"
        )
