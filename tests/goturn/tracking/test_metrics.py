"""Tracking metrics on hand-computed cases, and against the GOT-10k toolkit's
own functions when the toolkit is installed."""

import numpy as np
import pytest

from goturn.tracking import metrics

SQUARE = [0.0, 0.0, 10.0, 10.0]


def test_iou_of_identical_disjoint_touching_and_overlapping_boxes():
    ious = metrics.iou(
        [SQUARE, SQUARE, SQUARE, SQUARE], [SQUARE, [20, 20, 5, 5], [10, 0, 10, 10], [5, 5, 10, 10]]
    )
    # Overlap of the last pair: 5 x 5 = 25, union 100 + 100 - 25 = 175.
    np.testing.assert_allclose(ious, [1.0, 0.0, 0.0, 25 / 175])


def test_iou_bounded_by_the_image_clips_like_got10k_or_intersects_like_vot():
    box, truth = [[-10.0, 0.0, 30.0, 10.0]], [[0.0, 0.0, 20.0, 10.0]]
    # GOT-10k: x clipped to 0, width kept (30, within the 100-px image): 200 / 300.
    np.testing.assert_allclose(metrics.iou(box, truth, (100, 50)), [200 / 300])
    # VOT: the part outside is cut off: [0, 20] x [0, 10] equals the truth.
    np.testing.assert_allclose(metrics.iou(box, truth, (100, 50), bound="intersect"), [1.0])


def test_centre_error_uses_pixel_centres():
    np.testing.assert_allclose(metrics.centre_error([SQUARE], [[3.0, 4.0, 10.0, 10.0]]), [5.0])
    # (w - 1) / 2: a 1-px box at x = 0 is centred on pixel 0, a 3-px one on pixel 1.
    np.testing.assert_allclose(metrics.centre_error([[0, 0, 1, 1]], [[0, 0, 3, 3]]), [np.sqrt(2)])


def test_success_is_strictly_above_and_precision_at_most_the_threshold():
    np.testing.assert_allclose(metrics.success_curve([0.0, 0.5, 1.0], [0.0, 0.5, 1.0]), [2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(metrics.precision_curve([0.0, 20.0, 20.5], [0, 20, 21]), [1 / 3, 2 / 3, 1.0])


def test_ope_scores_of_a_hand_computed_sequence():
    truth = [SQUARE, SQUARE, SQUARE]
    # Row 0 is the initialisation: replaced by the truth whatever it says.
    boxes = [[50.0, 50.0, 1.0, 1.0], [5.0, 5.0, 10.0, 10.0], SQUARE]
    curves = metrics.ope_curves(boxes, truth)
    # IoUs 1, 1/7, 1: IoU 1 (minus eps) passes every threshold but 1.0, i.e.
    # 20 of 21; 1/7 = 0.143 passes 0, 0.05 and 0.1.
    assert curves.auc == pytest.approx((20 + 3 + 20) / (3 * 21))
    assert curves.success_rate == pytest.approx(2 / 3)
    # Centre errors 0, 7.07, 0: all within 20 px.
    assert curves.precision_at_20 == 1.0
    assert curves.precision[7] == pytest.approx(2 / 3) and curves.precision[8] == 1.0
    excluded = metrics.ope_curves(boxes, truth, first_frame="exclude")
    assert excluded.auc == pytest.approx((3 + 20) / (2 * 21))


def test_ope_summary_averages_curves_over_sequences():
    perfect = metrics.ope_curves([SQUARE] * 3, [SQUARE] * 3)
    lost = metrics.ope_curves([SQUARE, [60, 60, 10, 10], [60, 60, 10, 10]], [SQUARE] * 3)
    summary = metrics.ope_summary([perfect, lost])
    assert summary["auc"] == pytest.approx((perfect.auc + lost.auc) / 2)
    assert summary["precision_20px"] == pytest.approx((1.0 + 1 / 3) / 2)


def test_got10k_pools_frames_after_the_first_where_the_target_is_visible():
    truth = [SQUARE] * 4
    boxes = [[9, 9, 1, 1], SQUARE, [5, 5, 10, 10], [40, 40, 5, 5]]
    ious = metrics.got10k_ious(boxes, truth, (100, 100), visible=[True, True, True, False])
    np.testing.assert_allclose(ious, [1.0, 1 / 7])
    other = metrics.got10k_ious([SQUARE, SQUARE], [SQUARE, SQUARE], (100, 100))
    summary = metrics.got10k_summary([ious, other])
    assert summary["ao"] == pytest.approx((1 + 1 / 7 + 1) / 3)
    assert summary["sr_0.5"] == pytest.approx(2 / 3)
    assert summary["sr_0.75"] == pytest.approx(2 / 3)


def test_vot_counts_failures_and_leaves_burn_in_frames_out_of_accuracy():
    truth = np.array([SQUARE] * 25)
    entries = [[metrics.INIT]] + [SQUARE] * 9  # frames 0-9: burn-in
    entries += [[5.0, 5.0, 10.0, 10.0], SQUARE]  # 10, 11: counted (1/7, 1)
    entries += [[metrics.FAILURE]] + [[metrics.SKIPPED]] * 4  # 12: failure; 13-16 waited
    entries += [[metrics.INIT]] + [SQUARE] * 7  # 17: re-init; 18-24 burn-in
    record = metrics.SupervisedRecord(entries)
    scores = metrics.vot_scores(record, truth, (100, 100))
    assert scores["failures"] == 1 and scores["frames"] == 2
    summary = metrics.vot_summary([scores], total_frames=25)
    assert summary["accuracy"] == pytest.approx((1 / 7 + 1) / 2)
    assert summary["failures_per_100_frames"] == pytest.approx(4.0)
    assert metrics.SupervisedRecord.from_lines(record.lines()).entries == entries


def test_vot_accuracy_skips_frames_without_ground_truth():
    truth = np.array([SQUARE] * 12)
    truth[11] = np.nan
    record = metrics.SupervisedRecord([[metrics.INIT]] + [SQUARE] * 11)
    assert metrics.vot_scores(record, truth, (100, 100))["frames"] == 1  # frame 10 only


def test_alov_f_score_counts_a_miss_as_a_false_positive_and_a_false_negative():
    ious = [0.6, 0.4, 0.8, 0.95]
    assert metrics.alov_f_score(ious, 0.5) == pytest.approx(0.75)  # P = R = 3/4
    assert metrics.alov_f_score(ious, 0.9) == pytest.approx(0.25)
    assert metrics.alov_f_score([0.1, 0.2], 0.5) == 0.0
    summary = metrics.alov_summary([ious, [1.0]], thresholds=(0.5,))
    assert summary["f_score_0.5"] == pytest.approx((0.75 + 1.0) / 2)


def test_speed_ignores_frames_without_a_time():
    assert metrics.speed_fps([0.0, 0.5, 0.25]) == pytest.approx(3.0)
    assert metrics.speed_fps([0.0]) == -1.0


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="shape"):
        metrics.iou([[1, 2, 3]], [[1, 2, 3]])
    with pytest.raises(ValueError, match="rows"):
        metrics.ope_curves([SQUARE], [SQUARE, SQUARE])


def test_functions_agree_with_the_got10k_toolkit():
    toolkit = pytest.importorskip("got10k.utils.metrics", reason="got10k (GOT-10k toolkit) not installed")
    experiments = pytest.importorskip("got10k.experiments")
    rng = np.random.default_rng(0)
    truth = np.column_stack([rng.uniform(-20, 200, (500, 2)), rng.uniform(1, 80, (500, 2))])
    boxes = truth + rng.normal(0, 12, truth.shape)
    boxes[:, 2:] = np.abs(boxes[:, 2:]) + 0.5
    np.testing.assert_allclose(metrics.iou(boxes, truth), toolkit.rect_iou(boxes, truth), atol=1e-12)
    np.testing.assert_allclose(metrics.centre_error(boxes, truth), toolkit.center_error(boxes, truth))
    bound = (160, 120)
    np.testing.assert_allclose(
        metrics.iou(boxes, truth, bound),
        toolkit.rect_iou(boxes.copy(), truth.copy(), bound=bound),
        atol=1e-12,
    )
    vot = [toolkit.poly_iou(b, t, bound=bound)[0] for b, t in zip(boxes[:50], truth[:50])]
    np.testing.assert_allclose(metrics.iou(boxes[:50], truth[:50], bound, bound="intersect"), vot, atol=1e-9)
    # ExperimentOTB's curve code, called without building its data set.
    otb = experiments.ExperimentOTB.__new__(experiments.ExperimentOTB)
    otb.nbins_iou, otb.nbins_ce = 21, 51
    ious, errors = toolkit.rect_iou(boxes, truth), toolkit.center_error(boxes, truth)
    success, precision = otb._calc_curves(ious, errors)
    np.testing.assert_allclose(metrics.success_curve(metrics.iou(boxes, truth)), success)
    np.testing.assert_allclose(metrics.precision_curve(metrics.centre_error(boxes, truth)), precision)
    got = experiments.ExperimentGOT10k.__new__(experiments.ExperimentGOT10k)
    ao, sr, _, curve = got._evaluate(ious, np.array([]))
    summary = metrics.got10k_summary([ious])
    assert summary["ao"] == pytest.approx(ao) and summary["sr_0.5"] == pytest.approx(sr)
    np.testing.assert_allclose(summary["success_curve"], curve)


def test_roc_auc_is_the_share_of_tracked_lost_pairs_ordered_right():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(40), 1)  # rounded: ties occur
    positive = rng.random(40) < 0.4
    pairs = [(p, n) for p in scores[positive] for n in scores[~positive]]
    brute_force = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert metrics.roc_auc(scores, positive) == pytest.approx(brute_force)
    assert metrics.roc_auc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert metrics.roc_auc([0.1, 0.8], [True, False]) == 0.0
    assert metrics.roc_auc([0.5, 0.5], [True, True]) is None  # no lost frame: undefined
    assert metrics.roc_auc([np.nan, 0.5], [True, False]) is None


def test_lost_target_summary_leaves_the_frames_in_between_out():
    ious = np.array([0.9, 0.6, 0.3, 0.05, 0.0])
    scores = np.array([0.8, 0.2, 0.99, 0.3, 0.1])  # the IoU-0.3 frame would spoil the order
    summary = metrics.lost_target_summary(ious, scores)
    assert summary["tracked_frames"] == 2 and summary["lost_frames"] == 2
    assert summary["roc_auc"] == pytest.approx(0.75)  # 0.8 beats both, 0.2 beats 0.1 only
    assert summary["mean_score_lost"] == pytest.approx(0.2)
