"""Output: one JSON line per figure (machine-readable, stable keys), then a
table for people, then optionally a JSON file with the whole run."""

import json
import os
import platform
import sys

import torch

from bench.harness import Figure
from bench.targets import target_for


def environment(device: torch.device) -> dict:
    return {
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "npu":
        return torch.npu.get_device_name(device)
    return cpu_name()


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def figure_record(figure: Figure) -> dict:
    """The JSON line of a figure. ``target`` and ``reference`` come from
    issue 8 (bench.targets); ``meets_target`` is None without a target."""
    target = target_for(figure.name, figure.device)
    record = {
        "name": figure.name,
        "value": _round(figure.value),
        "unit": figure.unit,
        "min": _round(figure.minimum),
        "max": _round(figure.maximum),
        "runs": figure.runs,
        "device": figure.device,
        "torch": torch.__version__,
        "threads": figure.threads,
        "per_cpu_second": _round(figure.per_cpu_second),
        "reference": target.reference if target else None,
        "target": _round(target.minimum) if target else None,
        "target_is": ("at_most" if target.at_most else "at_least") if target else None,
        "ratio_to_reference": (
            _round(figure.value / target.reference)
            if target and target.reference and figure.value is not None
            else None
        ),
        "meets_target": target.met_by(figure.value) if target and figure.value is not None else None,
        "note": figure.note,
    }
    return record


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return float(f"{value:.4g}")


def print_json_lines(records: list[dict], stream=sys.stdout) -> None:
    for record in records:
        print(json.dumps(record, sort_keys=False), file=stream, flush=True)


def format_table(records: list[dict], env: dict) -> str:
    header = (
        "figure",
        "value",
        "min..max",
        "unit",
        "runs",
        "thr",
        "per CPU-s",
        "reference",
        "target",
        "ratio",
        "",
    )
    rows = [header]
    for r in records:
        status = {True: "met", False: "MISSED", None: ""}[r["meets_target"]]
        if r["value"] is None:
            rows.append(
                (
                    r["name"],
                    "-",
                    "",
                    r["unit"],
                    "",
                    "",
                    "",
                    "",
                    _target_text(r),
                    "",
                    f"not measured: {r['note']}",
                )
            )
            continue
        rows.append(
            (
                r["name"],
                _text(r["value"]),
                f"{_text(r['min'])}..{_text(r['max'])}",
                r["unit"],
                str(r["runs"]),
                str(r["threads"]),
                _text(r["per_cpu_second"]),
                _text(r["reference"]),
                _target_text(r),
                f"{r['ratio_to_reference']}x" if r["ratio_to_reference"] is not None else "",
                status,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        f"# device {env['device']} ({env['device_name']}), torch {env['torch']}, "
        f"{env['cores']} cores, load average {' '.join(map(str, env['load_average']))}"
    ]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_markdown(records: list[dict]) -> str:
    """The table as Markdown, for the README's performance section."""
    lines = [
        "| figure | median | min..max | unit | runs | threads | reference | target | ratio | |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in records:
        if r["value"] is None:
            lines.append(
                f"| `{r['name']}` | – | | {r['unit']} | | | | {_target_text(r)} | | "
                f"not measured: {r['note']} |"
            )
            continue
        status = {True: "met", False: "**missed**", None: ""}[r["meets_target"]]
        ratio = f"{r['ratio_to_reference']}x" if r["ratio_to_reference"] is not None else ""
        lines.append(
            f"| `{r['name']}` | {_text(r['value'])} | {_text(r['min'])}..{_text(r['max'])} | "
            f"{r['unit']} | {r['runs']} | {r['threads']} | {_text(r['reference'])} | "
            f"{_target_text(r)} | {ratio} | {status} |"
        )
    return "\n".join(lines)


def _target_text(record: dict) -> str:
    if record["target"] is None:
        return ""
    return ("<= " if record["target_is"] == "at_most" else ">= ") + _text(record["target"])


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def write_json(path: str, records: list[dict], env_start: dict, env_end: dict, command: list[str]) -> None:
    payload = {
        "command": " ".join(command),
        "environment": env_start,
        "load_average_end": env_end["load_average"],
        "figures": records,
    }
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
