"""Benchmark readers, the resumable evaluation and its report, and agreement
with the GOT-10k toolkit (its experiments run our tracker unchanged, and its
report on our result files gives our numbers)."""

import json
import logging
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from common.errors import UserError
from goturn.data.alov import load_alov
from goturn.data.errors import DataError
from goturn.tracking import benchmark, evaluate
from goturn.tracking.sequences import read_alov, read_got10k, read_otb
from goturn.tracking.tracker import SequenceTracker, Tracker
from tests.helpers.goturn_tracking_fixtures import (
    ConstantNet,
    write_alov,
    write_got10k,
    write_otb,
)


def scores_without_speed(report: dict) -> dict:
    return {
        name: {key: value for key, value in numbers.items() if key != "fps"}
        for name, numbers in report["summary"].items()
    }


class CountingTracker(Tracker):
    """A stub-network tracker that counts the sequences it is run on."""

    def __init__(self):
        super().__init__(ConstantNet(), device="cpu", name="Stub")
        self.sequences_run = 0

    def track(self, img_files, box, visualize=False):
        self.sequences_run += 1
        return super().track(img_files, box, visualize)


def test_otb_reader_separators_multiple_targets_and_errors(tmp_path):
    truth = write_otb(tmp_path, names=("Car", "Dog"))
    jogging = tmp_path / "Jogging"
    (jogging / "img").mkdir(parents=True)
    for number in (1, 2):
        shutil.copy(tmp_path / "Car" / "img" / "0001.jpg", jogging / "img" / f"000{number}.jpg")
        (jogging / f"groundtruth_rect.{number}.txt").write_text(f"{number} 2 10 12\n{number} 3 10 12\n")
    (jogging / "groundtruth_rect.3.txt").write_text("\n")  # empty: no target
    sequences = {s.name: s for s in read_otb(tmp_path)}
    assert sorted(sequences) == ["Car", "Dog", "Jogging.1", "Jogging.2"]
    np.testing.assert_allclose(sequences["Dog"].ground_truth, truth["Dog"])
    assert len(sequences["Car"]) == 6 and sequences["Car"].image_size() == (96, 72)
    np.testing.assert_allclose(sequences["Jogging.2"].ground_truth[1], [2, 3, 10, 12])
    (tmp_path / "Dog" / "groundtruth_rect.txt").write_text("1,2,3,4\n1,2,x,4\n")
    with pytest.raises(DataError, match=r"groundtruth_rect.txt:2: expected four numbers"):
        read_otb(tmp_path)


def test_got10k_reader_visibility_and_test_split(tmp_path):
    truth = write_got10k(tmp_path)
    sequences = read_got10k(tmp_path, "val")
    assert [s.name for s in sequences] == list(truth)
    assert sequences[0].visible.tolist() == [True, True, True, False, True, True]
    np.testing.assert_allclose(sequences[1].ground_truth, truth[sequences[1].name], atol=1e-4)
    test_dir = tmp_path / "val" / sequences[0].name
    (test_dir / "groundtruth.txt").write_text("1,2,30,20\n")
    only_first = read_got10k(tmp_path / "val")[0]
    assert np.isfinite(only_first.ground_truth[0]).all() and np.isnan(only_first.ground_truth[1:]).all()


def test_got10k_test_split_result_files_hold_a_box_per_frame(tmp_path):
    """GOT-10k's test split annotates frame 1 only; its server wants every frame's box."""
    name = "GOT-10k_Test_000001"
    write_got10k(tmp_path, names=(name,), split="test")
    (tmp_path / "test" / name / "groundtruth.txt").write_text("1,2,30,20\n")
    tracker = Tracker(ConstantNet(), device="cpu", name="Stub")
    benchmark.evaluate(tracker, read_got10k(tmp_path, "test"), tmp_path / "eval", layout="got10k")
    rows = (tmp_path / "eval" / "results" / "Stub" / name / f"{name}_001.txt").read_text().splitlines()
    assert len(rows) == 6 and rows[0] == "1.000,2.000,30.000,20.000"


def test_frames_folders_keep_frame_order_with_unpadded_numbers(tmp_path):
    from goturn.tracking.sequences import list_images

    for number in (1, 2, 10, 11, 3):
        (tmp_path / f"frame{number}.png").write_bytes(b"")
    assert [Path(p).name for p in list_images(tmp_path)] == [
        "frame1.png",
        "frame2.png",
        "frame3.png",
        "frame10.png",
        "frame11.png",
    ]


def test_alov_reader_uses_trainings_validation_split(tmp_path):
    write_alov(tmp_path / "ALOV")
    validation = read_alov(tmp_path)  # the parent of ALOV/ is accepted
    assert [s.name for s in validation] == ["01-Light_video00002", "02-SurfaceCover_video00002"]
    pairs, _ = load_alov(tmp_path / "ALOV", "val")
    assert sorted({Path(p).parent.name for p in pairs.paths}) == [s.name for s in validation]
    sequence = validation[0]
    assert len(sequence) == 11
    annotated = np.isfinite(sequence.ground_truth).all(axis=1)
    assert np.flatnonzero(annotated).tolist() == [0, 5, 10]
    assert len(read_alov(tmp_path / "ALOV", split="all")) == 4
    assert len(read_alov(tmp_path / "ALOV", split="train")) == 2


def test_evaluation_is_resumable_and_reports_the_baseline(tmp_path):
    write_otb(tmp_path / "otb", names=("Car", "Dog", "Eel"))
    sequences = read_otb(tmp_path / "otb")
    out = tmp_path / "eval"
    tracker = CountingTracker()
    report = benchmark.evaluate(tracker, sequences, out, context={"dataset": "otb"})
    assert tracker.sequences_run == 3
    for name in ("Car", "Dog", "Eel"):
        assert (out / "results" / "Stub" / f"{name}.txt").is_file()
        assert (out / "results" / "NoMotion" / f"{name}.txt").is_file()
        assert (out / "results" / "Stub" / "baseline" / name / f"{name}_001.txt").is_file()
    for name in ("report.json", "success_plot.png", "precision_plot.png"):
        assert (out / name).stat().st_size > 0
    assert set(report["trackers"]) == {"Stub", "NoMotion"}
    assert report["summary"]["NoMotion"]["auc"] != report["summary"]["Stub"]["auc"]
    assert report["gain_over_no_motion"]["auc"] == pytest.approx(
        report["summary"]["Stub"]["auc"] - report["summary"]["NoMotion"]["auc"]
    )

    again = CountingTracker()
    assert benchmark.evaluate(again, sequences, out)["summary"] == report["summary"]
    assert again.sequences_run == 0
    (out / "results" / "Stub" / "Dog.txt").unlink()
    third = CountingTracker()
    recomputed = benchmark.evaluate(third, sequences, out)
    assert third.sequences_run == 1
    assert scores_without_speed(recomputed) == scores_without_speed(report)


def with_stub_network(monkeypatch) -> None:
    """goturn.evaluate's Tracker with the stub network in place of the checkpoint's."""
    monkeypatch.setattr(
        evaluate,
        "Tracker",
        lambda checkpoint, **options: Tracker(ConstantNet(), **options),
    )


def test_evaluate_command_on_alov_writes_annotated_rows(tmp_path, monkeypatch):
    """The command's wiring, with the stub network in place of the checkpoint's
    (loading a real checkpoint is covered by the track command's test)."""
    write_alov(tmp_path / "ALOV")
    out = tmp_path / "eval"
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"weights of model A")
    with_stub_network(monkeypatch)
    command = [
        "--checkpoint",
        str(checkpoint),
        "--data_path",
        str(tmp_path / "ALOV"),
        "--dataset",
        "alov",
        "--out",
        str(out),
        "--device",
        "cpu",
    ]
    report = evaluate.main(evaluate.get_args_parser().parse_args([*command, "--videos", "1"]))
    name = "01-Light_video00002"
    assert np.loadtxt(out / "results" / "GOTURN" / f"{name}.txt", delimiter=",").shape == (3, 4)
    assert np.loadtxt(out / "groundtruth" / f"{name}.txt", delimiter=",").shape == (3, 4)
    assert (out / "groundtruth" / f"{name}_frames.txt").read_text().split()[1].endswith("00000006.jpg")
    assert np.loadtxt(out / "tracks" / "GOTURN" / f"{name}.txt", delimiter=",").shape == (11, 4)
    assert len(np.loadtxt(out / "results" / "GOTURN" / "times" / f"{name}_time.txt")) == 11
    assert len((out / "results" / "GOTURN" / "baseline" / name / f"{name}_001.txt").read_text().split()) == 11
    saved = json.loads((out / "report.json").read_text())
    assert saved["summary"] == report["summary"] and saved["dataset"] == "alov"
    for key in ("otb", "otb_first_frame_excluded", "got10k", "vot", "alov", "speed"):
        assert key in saved["trackers"]["GOTURN"]
    capture = cv2.VideoCapture(str(out / "videos" / f"{name}.mp4"))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 11 and capture.read()[0]
    assert (out / "videos" / f"{name}.gif").stat().st_size > 0

    # The peers (default --baselines: OpenCV's CSRT, KCF, MIL and no motion) went through the
    # same files, metrics and report, with their frames/s; OpenCV's found flag is their score.
    peers = ("CSRT", "KCF", "MIL", "NoMotion")
    assert list(saved["summary"]) == ["GOTURN", *peers] and saved["model"] == "GOTURN"
    for peer in peers:
        assert np.loadtxt(out / "results" / peer / f"{name}.txt", delimiter=",").shape == (3, 4)
        assert saved["summary"][peer]["fps"] > 0 and "vot" in saved["trackers"][peer]
        comparison = saved["comparison"][peer]
        assert comparison["auc"] == pytest.approx(
            saved["summary"]["GOTURN"]["auc"] - saved["summary"][peer]["auc"]
        )
        assert comparison["statement"].startswith(f"GOTURN over {peer}: AUC ")
        assert (comparison["speed_ratio"] is None) == (peer == "NoMotion")
    for peer in ("CSRT", "KCF", "MIL"):
        flags = np.loadtxt(out / "results" / peer / "scores" / f"{name}_score.txt")
        assert len(flags) == 11 and set(flags) <= {0.0, 1.0}
        assert "lost_target" in saved["trackers"][peer]
    assert not (out / "results" / "NoMotion" / "scores").exists()  # no signal, no file
    # A checkpoint with a model card gets the figures of every tracker appended to it.
    (tmp_path / "MODEL_CARD.md").write_text("# Model card\n")
    evaluate.append_to_card(evaluate.get_args_parser().parse_args(command), saved, 1, logging.getLogger())
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert card.startswith("# Model card\n## Evaluation: goturn.evaluate, alov val (1 sequences)")
    auc = saved["summary"]["CSRT"]["auc"]
    assert f"- CSRT: auc {auc:.3f}, precision_20px " in card and "- NoMotion: auc " in card
    markdown = (out / "report.md").read_text()
    assert "| CSRT |" in markdown and "## What GOTURN adds" in markdown
    assert saved["comparison"]["MIL"]["statement"] in markdown

    # Results of another checkpoint are never mixed in: stop, or discard them.
    checkpoint.write_bytes(b"weights of model B")
    with pytest.raises(UserError, match="another run: checkpoint_sha256"):
        evaluate.main(evaluate.get_args_parser().parse_args(command))
    marker = out / "results" / "GOTURN" / f"{name}.txt"
    marker.write_text("stale\n")
    evaluate.main(evaluate.get_args_parser().parse_args([*command, "--discard_stale"]))
    assert np.loadtxt(marker, delimiter=",").shape == (3, 4)
    assert not (out / "videos").exists()


def test_toolkit_otb_report_on_our_result_files_gives_our_numbers(tmp_path):
    experiments = pytest.importorskip("got10k.experiments", reason="got10k (GOT-10k toolkit) not installed")
    write_otb(tmp_path / "otb", names=("Car", "Dog", "Eel"))
    sequences = read_otb(tmp_path / "otb")
    tracker = Tracker(ConstantNet(), device="cpu", name="Stub")
    report = benchmark.evaluate(tracker, sequences, tmp_path / "eval", supervised=False)

    class Dataset:
        """What ExperimentOTB.report reads of its OTB data set."""

        def __init__(self):
            self.seq_names = [s.name for s in sequences]

        def __len__(self):
            return len(sequences)

        def __iter__(self):
            return iter([(s.frames, s.ground_truth) for s in sequences])

    experiment = experiments.ExperimentOTB.__new__(experiments.ExperimentOTB)
    experiment.dataset, experiment.nbins_iou, experiment.nbins_ce = Dataset(), 21, 51
    experiment.result_dir, experiment.report_dir = str(tmp_path / "eval" / "results"), str(tmp_path / "tk")
    toolkit = experiment.report(["Stub", "NoMotion"])
    for name in ("Stub", "NoMotion"):
        ours, theirs = report["trackers"][name]["otb"], toolkit[name]["overall"]
        assert ours["auc"] == pytest.approx(theirs["success_score"], abs=1e-12)
        assert ours["precision_20px"] == pytest.approx(theirs["precision_score"], abs=1e-12)
        assert ours["success_rate_0.5"] == pytest.approx(theirs["success_rate"], abs=1e-12)


def test_toolkit_got10k_experiment_runs_our_tracker_and_agrees(tmp_path):
    experiments = pytest.importorskip("got10k.experiments", reason="got10k (GOT-10k toolkit) not installed")
    write_got10k(tmp_path / "got10k")
    tracker = Tracker(ConstantNet(), device="cpu", name="Stub")
    experiment = experiments.ExperimentGOT10k(
        str(tmp_path / "got10k"),
        subset="val",
        result_dir=str(tmp_path / "tk_results"),
        report_dir=str(tmp_path / "tk_reports"),
    )
    experiment.run(tracker)  # the toolkit drives the tracker itself
    theirs = experiment.report(["Stub"])["Stub"]["overall"]
    sequences = read_got10k(tmp_path / "got10k", "val")
    ours = benchmark.evaluate(tracker, sequences, tmp_path / "eval", layout="got10k")["trackers"]["Stub"]
    assert ours["got10k"]["ao"] == pytest.approx(theirs["ao"], abs=1e-12)
    assert ours["got10k"]["sr_0.5"] == pytest.approx(theirs["sr"], abs=1e-12)
    # The same numbers from the toolkit's report on our result files.
    experiment.result_dir = str(tmp_path / "eval" / "results")
    on_our_files = experiment.report(["Stub"])["Stub"]["overall"]
    assert on_our_files["ao"] == pytest.approx(theirs["ao"], abs=1e-12)


def test_toolkit_functions_on_alov_result_files_give_our_numbers(tmp_path):
    toolkit = pytest.importorskip("got10k.utils.metrics", reason="got10k (GOT-10k toolkit) not installed")
    experiments = pytest.importorskip("got10k.experiments")
    write_alov(tmp_path / "ALOV")
    sequences = read_alov(tmp_path / "ALOV", split="all")
    out = tmp_path / "eval"
    report = benchmark.evaluate(
        Tracker(ConstantNet(), device="cpu", name="Stub"), sequences, out, supervised=False
    )
    otb = experiments.ExperimentOTB.__new__(experiments.ExperimentOTB)
    otb.nbins_iou, otb.nbins_ce = 21, 51
    curves = []
    for sequence in sequences:
        boxes = np.loadtxt(out / "results" / "Stub" / f"{sequence.name}.txt", delimiter=",")
        truth = np.loadtxt(out / "groundtruth" / f"{sequence.name}.txt", delimiter=",")
        boxes[0] = truth[0]
        curves.append(otb._calc_curves(toolkit.rect_iou(boxes, truth), toolkit.center_error(boxes, truth)))
    success = np.mean([c[0] for c in curves], axis=0)
    precision = np.mean([c[1] for c in curves], axis=0)
    assert report["trackers"]["Stub"]["otb"]["auc"] == pytest.approx(np.mean(success), abs=1e-12)
    assert report["trackers"]["Stub"]["otb"]["precision_20px"] == pytest.approx(precision[20], abs=1e-12)


class TruthOrLost(SequenceTracker):
    """Reports the true box (score ``good``) on even frames and a box far from it (score
    ``bad``) on odd ones."""

    name = "Scripted"

    def __init__(self, truth: dict, good: float, bad: float):
        self.truth, self.good, self.bad = truth, good, bad

    def track(self, img_files, box, visualize=False):
        boxes = next(b for b in self.truth.values() if np.allclose(b[0], box)).copy()
        boxes[1::2] += [40, 30, 0, 0]
        self.track_scores = np.where(np.arange(len(boxes)) % 2, self.bad, self.good)
        return boxes, np.full(len(boxes), 1e-3)


def test_the_report_scores_the_lost_target_signal(tmp_path):
    truth = write_otb(tmp_path / "otb", names=("Car", "Dog"))
    sequences = read_otb(tmp_path / "otb")
    for good, bad, expected in ((0.9, 0.2, 1.0), (0.1, 0.7, 0.0)):
        out = tmp_path / f"eval_{good}"
        report = benchmark.evaluate(TruthOrLost(truth, good, bad), sequences, out, supervised=False)
        lost = report["trackers"]["Scripted"]["lost_target"]
        assert lost["roc_auc"] == expected and lost["tracked_frames"] == 4 and lost["lost_frames"] == 6
        assert report["summary"]["Scripted"]["lost_target_roc_auc"] == expected
        assert report["trackers"]["Scripted"]["per_sequence"]["Car"]["lost_target"]["roc_auc"] == expected
        scores = np.loadtxt(out / "results" / "Scripted" / "scores" / "Car_score.txt")
        np.testing.assert_allclose(scores, [good, bad] * 3)
        assert "lost_target" not in report["trackers"]["NoMotion"]


class JumpsAway(SequenceTracker):
    """Follows the truth of frame ``init`` on, except that it jumps far off on frame ``off``
    (counted from its start); counts the frames it is asked to track."""

    name = "Jumper"

    def __init__(self, truth: np.ndarray, off: int):
        self.truth, self.off, self.updates = truth, off, 0

    def init(self, image, box):
        self.frame = int(np.flatnonzero(np.isclose(self.truth, box).all(axis=1))[0])
        self.start = self.frame

    def update(self, image):
        self.frame += 1
        self.updates += 1
        box = self.truth[self.frame].copy()
        return box + np.array([500.0, 500.0, 0.0, 0.0]) if self.frame - self.start == self.off else box


def test_the_supervised_run_reuses_the_plain_run_up_to_its_first_failure(tmp_path):
    """VOT's supervised protocol starts as the plain run does: its first segment is the plain
    run up to the first failure, taken from it; only the frames after the re-initialisation are
    tracked again, and the record is the one of a run tracked from the start."""
    truth = write_otb(tmp_path, names=("Car",), frames=30)["Car"]
    sequence = read_otb(tmp_path)[0]
    size = sequence.image_size()
    plain = JumpsAway(truth, off=7)
    plain_boxes = [truth[0]]
    plain.init(None, truth[0])
    plain_boxes += [plain.update(None) for _ in range(len(truth) - 1)]
    tracked_again = JumpsAway(truth, off=7)
    expected = benchmark.run_supervised(tracked_again, sequence, size).lines()
    reusing = JumpsAway(truth, off=7)
    record = benchmark.run_supervised(reusing, sequence, size, plain_boxes)
    assert record.lines() == expected
    assert expected.count(str(benchmark.metrics.FAILURE)) == 2 and expected[7] == "2"
    assert reusing.updates == tracked_again.updates - 7  # frames 1-7 were not tracked twice
    never_fails = benchmark.run_supervised(JumpsAway(truth, off=99), sequence, size, truth)
    assert never_fails.lines()[0] == "1" and len(never_fails.entries) == len(truth)


def test_the_got10k_server_zip_matches_the_toolkits_packing(tmp_path, monkeypatch):
    """``--pack OUT.zip`` writes what the got10k toolkit's ExperimentGOT10k.report packs for
    the test split (shutil.make_archive of the tracker's folder): the same names, folder
    entries and bytes; our lost-target scores and supervised runs stay out of it."""
    ioutils = pytest.importorskip("got10k.utils.ioutils", reason="got10k (GOT-10k toolkit) not installed")
    names = ("GOT-10k_Test_000001", "GOT-10k_Test_000002")
    write_got10k(tmp_path / "data", names=names, split="test")
    for name in names:
        (tmp_path / "data" / "test" / name / "groundtruth.txt").write_text("1,2,30,20\n")
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(b"weights")
    with_stub_network(monkeypatch)
    out, archive = tmp_path / "eval", tmp_path / "submit" / "goturn_got10k.zip"
    command = ["--checkpoint", str(checkpoint), "--data_path", str(tmp_path / "data"), "--dataset", "got10k"]
    command += ["--split", "test", "--out", str(out), "--baselines", "none", "--device", "cpu"]
    evaluate.main(evaluate.get_args_parser().parse_args(command))
    results = out / "results" / "GOTURN"
    # What else a result folder holds (GOTURN's scores, a supervised run) must stay out.
    (results / names[0] / f"{names[0]}_score.txt").write_text("1.0\n" * 6)
    (results / "baseline" / names[0]).mkdir(parents=True)
    (results / "baseline" / names[0] / f"{names[0]}_001.txt").write_text("1\n")
    evaluate.main(evaluate.get_args_parser().parse_args([*command, "--pack", str(archive)]))
    # The toolkit packs a folder holding only what its own run writes.
    theirs = tmp_path / "toolkit" / "GOTURN"
    for name in names:
        (theirs / name).mkdir(parents=True)
        for suffix in ("_001.txt", "_time.txt"):
            shutil.copy(results / name / f"{name}{suffix}", theirs / name)
    ioutils.compress(str(theirs), str(tmp_path / "toolkit" / "GOTURN"))

    def contents(path):
        with zipfile.ZipFile(path) as opened:
            return {info.filename: opened.read(info) for info in opened.infolist()}

    ours, expected = contents(archive), contents(tmp_path / "toolkit" / "GOTURN.zip")
    assert ours == expected and f"{names[1]}/{names[1]}_time.txt" in ours
    assert len(ours[f"{names[0]}/{names[0]}_001.txt"].decode().splitlines()) == 6
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]  # no temporary left
    with pytest.raises(UserError, match="--pack: GOT-10k's server zip; --dataset is alov"):
        evaluate.main(
            evaluate.get_args_parser().parse_args(
                [
                    "--checkpoint",
                    str(checkpoint),
                    "--data_path",
                    str(tmp_path),
                    "--dataset",
                    "alov",
                    "--out",
                    str(out),
                    "--pack",
                    str(archive),
                ]
            )
        )
    with pytest.raises(UserError, match=r"--pack .*submit\.tar: expected a file name ending in \.zip"):
        evaluate.main(
            evaluate.get_args_parser().parse_args([*command, "--pack", str(tmp_path / "submit.tar")])
        )
