"""MODEL_CARD.md: what a checkpoint is, written beside it by the run that made it.

A training run writes the card when it finishes (rank 0, after result.json): the model and
network, the recipe (every flag), the data (path, split rule, counts), the validation figures
with their definitions, throughput, the device and versions, the exact command, and the
checkpoint's SHA-256. The evaluations (``goturn.evaluate``, ``glore.evaluate``) append their
headline figures to the card of the checkpoint they scored, so the card travels with the
checkpoint and says how well it does, measured how.
"""

import datetime
import hashlib
import json
from pathlib import Path

from common.atomic import write_text_atomically
from common.summary import RESULT_FILE, RUN_INFO_FILE, command_line

CARD_FILE = "MODEL_CARD.md"


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 23):
            digest.update(chunk)
    return digest.hexdigest()


def _figure(value) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def training_card(result: dict, run_info: dict, checkpoint: Path, data: dict) -> str:
    """The card's text (``result``: result.json, ``run_info``: run_info.json, ``data``: the
    trainer's description of its data)."""
    args = run_info.get("args", {})
    extra = result.get("extra", {})
    lines = [
        f"# Model card: {result['network']} ({args.get('network', result['network'])})",
        "",
        f"Written by the training run in `{checkpoint.parent}` at "
        f"{datetime.datetime.now().astimezone().isoformat(timespec='seconds')}.",
        "",
        "## Checkpoint",
        f"- file: `{checkpoint.name}`",
        f"- SHA-256: `{file_sha256(checkpoint)}`",
        f"- steps trained: {extra.get('steps', 'unknown')}",
        "",
        "## Data",
        *(f"- {key}: {_figure(value)}" for key, value in data.items()),
        "",
        "## Validation",
        f"- {result['accuracy_name']}: {_figure(result['accuracy'])}",
        f"- last training loss: {_figure(result['loss'])}",
        *(
            f"- {key}: {_figure(value)}"
            for key, value in extra.items()
            if key.startswith("val_") and not isinstance(value, dict)
        ),
        "",
        "## Throughput",
        f"- {_figure(result['fps'])} {result['fps_unit']} over {result['rank_size']} process(es), "
        f"global batch {result['batch_size']}",
        "",
        "## Device and versions",
        f"- device: {run_info.get('device')} ({run_info.get('world_size')} process(es), backend "
        f"{run_info.get('backend') or '-'}), precision {run_info.get('precision')}",
        f"- torch {run_info.get('torch')}, Python {run_info.get('python')}",
        "",
        "## Command",
        "```",
        run_info.get("command", "unknown"),
        "```",
        "",
        "## Recipe (every flag)",
        "```json",
        json.dumps(args, indent=2, sort_keys=True, default=str),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_training_card(output_dir: Path, checkpoint: Path, data: dict) -> Path:
    output_dir = Path(output_dir)
    result = json.loads((output_dir / RESULT_FILE).read_text())
    run_info = json.loads((output_dir / RUN_INFO_FILE).read_text())
    path = output_dir / CARD_FILE
    write_text_atomically(path, training_card(result, run_info, Path(checkpoint), data))
    return path


def append_evaluation(
    checkpoint, title: str, figures: dict, definitions: str, sha256: str | None = None
) -> Path | None:
    """Append an evaluation's headline ``figures`` to the card beside ``checkpoint``; None when
    the checkpoint has no card (a released or converted file). ``sha256``: the checkpoint's, where
    the evaluation has hashed it already."""
    checkpoint = Path(checkpoint)
    path = checkpoint.parent / CARD_FILE
    if not path.is_file():
        return None
    lines = [
        f"## Evaluation: {title}",
        f"- {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}, checkpoint "
        f"`{checkpoint.name}` (SHA-256 `{sha256 or file_sha256(checkpoint)}`)",
        *(f"- {key}: {_figure(value)}" for key, value in figures.items()),
        f"- definitions: {definitions}",
        "- command:",
        "```",
        command_line(),
        "```",
        "",
    ]
    write_text_atomically(path, path.read_text() + "\n".join(lines) + "\n")
    return path
