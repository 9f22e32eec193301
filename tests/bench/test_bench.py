"""The benchmark's output format, on its cheapest figures. Speeds are not
asserted here: they live in `python -m bench`, never in timed unit tests."""

import json

import torch

from tests.conftest import run_python

RECORD_KEYS = {
    "name",
    "value",
    "unit",
    "min",
    "max",
    "runs",
    "device",
    "torch",
    "threads",
    "per_cpu_second",
    "reference",
    "target",
    "target_is",
    "ratio_to_reference",
    "meets_target",
    "note",
}


def _records(stdout: str) -> dict[str, dict]:
    records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {record["name"]: record for record in records}


def test_quick_figures_print_json_lines_then_a_table(tmp_path):
    result_file = tmp_path / "bench.json"
    completed = run_python(
        "-m",
        "bench",
        "--quick",
        "--device",
        "cpu",
        "--only",
        "goturn.jpeg_decode",
        "goturn.step.fp16",
        "--json",
        str(result_file),
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    records = _records(completed.stdout)
    assert set(records) == {"goturn.jpeg_decode", "goturn.step.fp16"}
    for record in records.values():
        assert set(record) == RECORD_KEYS
        assert record["torch"] == torch.__version__
        assert record["device"] == "cpu"

    measured = records["goturn.jpeg_decode"]
    assert measured["unit"] == "images/s/core" and measured["threads"] == 1
    assert measured["runs"] >= 3
    assert 0 < measured["min"] <= measured["value"] <= measured["max"]
    assert measured["per_cpu_second"] > 0

    # A figure the device cannot give is reported, with the reason, not left out.
    skipped = records["goturn.step.fp16"]
    assert skipped["value"] is None and skipped["runs"] == 0 and "CPU" in skipped["note"]

    assert any(line.startswith("figure") for line in completed.stdout.splitlines())
    saved = json.loads(result_file.read_text())
    assert [r["name"] for r in saved["figures"]] == list(records)
    assert saved["environment"]["torch"] == torch.__version__


def test_targets_are_compared_where_the_issue_sets_them():
    from bench.harness import Figure
    from bench.report import figure_record

    fast = figure_record(Figure("goturn.examples.decode", 3000.0, "examples/s/core", 2900.0, 3100.0, 5))
    assert fast["reference"] == 280.0 and fast["target"] == 2800.0 and fast["meets_target"] is True
    assert fast["ratio_to_reference"] > 10
    leaky = figure_record(Figure("glore.memory.growth", 7.5, "MiB/step", 7.5, 7.5, 1))
    assert leaky["target_is"] == "at_most" and leaky["meets_target"] is False
    untargeted = figure_record(Figure("goturn.examples.no_decode", 1.0, "examples/s/core", 1.0, 1.0, 3))
    assert untargeted["target"] is None and untargeted["meets_target"] is None


def test_unknown_figure_is_a_one_line_error():
    completed = run_python("-m", "bench", "--only", "no.such.figure", timeout=60)
    assert completed.returncode == 2
    assert "no.such.figure" in completed.stderr and "goturn.examples.decode" in completed.stderr


def test_jobs_run_with_the_environment_the_launch_scripts_export():
    from bench.scripts import script_environment

    for model in ("goturn", "glore"):
        exported = script_environment(model, environ={})
        assert exported["OMP_WAIT_POLICY"] == "PASSIVE"  # test/launcher.sh, for every script
        assert not any("$" in value for value in exported.values())
    assert script_environment("glore", environ={"OMP_WAIT_POLICY": "ACTIVE"})["OMP_WAIT_POLICY"] == "ACTIVE"
