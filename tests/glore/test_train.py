"""GloRe training: the seed's flags, the solver's groups and schedule, a few steps lowering the
loss, and an exact resume (N steps straight == N/2 + resume + N/2, with 0 and 2 loader workers)."""

import itertools
import math

import pytest
import torch

from glore import train
from glore.data.transforms import normalize_clips
from glore.model import GloReNet
from glore.optim import build_optimizer, lr_factor
from tests.conftest import run_python
from tests.helpers.glore_fixtures import make_tiny_demo

TINY = [
    "--network",
    "resnet14-tiny",
    "--pretrained",
    "none",
    "--clip_len",
    "4",
    "--interval",
    "2",
    "--crop_size",
    "16",
    "--short_side",
    "16",
    "24",
    "--resize",
    "18",
    "--batch_size",
    "4",
    "--val_batch_size",
    "8",
    "--lr",
    "0.05",
    "--warmup_epochs",
    "0.5",
    "--epochs",
    "2",
    "--tensorboard",
    "false",
    "--print_freq",
    "100",
]


def test_seed_flags_parse_as_real_values():
    args = train.get_args_parser().parse_args(
        [
            "--data_path",
            "d",
            "--network",
            "RESNET50_3D_GCN_X5",
            "--pretrained",
            "k.pth",
            "--batch-size",
            "16",
            "--random-seed",
            "7",
            "--backend",
            "gloo",
            "--amp",
            "false",
            "--loss-scale",
            "128",
            "--opt-level",
            "O2",
            "--distributed",
            "true",
        ]
    )
    assert (args.batch_size, args.seed, args.dist_backend, args.amp, args.distributed) == (
        16,
        7,
        "gloo",
        False,
        True,
    )
    assert (args.loss_scale, args.opt_level, args.pretrained) == ("128", "O2", "k.pth")
    with pytest.raises(SystemExit):
        train.get_args_parser().parse_args(["--data_path", "d", "--amp", "maybe"])


def test_solver_groups_and_schedule():
    model = GloReNet(5, network="resnet14-tiny")
    pretrained = {n for n, _ in model.named_parameters() if not n.startswith("classifier.")}
    optimizer = build_optimizer(
        model, pretrained, lr=0.01, momentum=0.9, weight_decay=1e-4, pretrained_lr_mult=0.5
    )
    groups = {g["name"]: g for g in optimizer.param_groups}
    assert set(groups) == {"pretrained", "pretrained_no_decay", "new", "new_no_decay"}
    assert groups["pretrained"]["lr"] == pytest.approx(0.005) and groups["new"]["lr"] == pytest.approx(0.01)
    assert groups["new_no_decay"]["weight_decay"] == 0 and groups["pretrained"]["weight_decay"] == 1e-4
    assert all(optimizer.defaults[k] for k in ("nesterov",)) and optimizer.defaults["momentum"] == 0.9
    bias_ids = {id(p) for n, p in model.named_parameters() if n.endswith(".bias")}
    assert all(
        id(p) in bias_ids for p in groups["new_no_decay"]["params"] + groups["pretrained_no_decay"]["params"]
    )
    # 10 steps per epoch: 2 warm-up epochs, then x0.1 at epochs 4 and 6.
    factors = [lr_factor(s, 10, 8, 2, "step", (4, 6)) for s in range(80)]
    assert factors[0] == pytest.approx(0.05) and factors[19] == 1.0 and factors[39] == 1.0
    assert factors[40] == pytest.approx(0.1) and factors[60] == pytest.approx(0.01)
    cosine = [lr_factor(s, 10, 8, 2, "cosine") for s in range(80)]
    assert cosine[20] == 1.0 and cosine[50] == pytest.approx(0.5) and cosine[79] < 0.01
    assert all(a >= b for a, b in itertools.pairwise(cosine[20:]))


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    model = GloReNet(4, network="resnet14-tiny", dropout=0.0).train()
    optimizer = build_optimizer(
        model, set(), lr=0.05, momentum=0.9, weight_decay=1e-4, pretrained_lr_mult=1.0
    )
    clips = normalize_clips(torch.randint(0, 256, (8, 3, 4, 32, 32), dtype=torch.uint8), torch.device("cpu"))
    labels = torch.arange(8) % 4
    losses = []
    for _ in range(12):
        loss = torch.nn.functional.cross_entropy(model(clips), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return str(make_tiny_demo(tmp_path_factory.mktemp("glore_tiny") / "demo"))


def run(data, out, *extra):
    args = train.get_args_parser().parse_args(["--data_path", data, "--output_dir", str(out), *TINY, *extra])
    assert train.main(args) == 0
    return torch.load(out / "checkpoint.pth", weights_only=True)


def test_resume_is_bitwise_exact_with_0_or_2_workers(tiny_data, tmp_path):
    straight = run(tiny_data, tmp_path / "straight", "--workers", "0")
    assert straight["step"] == 8 and straight["epoch"] == 2
    halfway = run(tiny_data, tmp_path / "resumed", "--workers", "2", "--max_steps", "6")
    assert (halfway["epoch"], halfway["step_in_epoch"]) == (1, 2)
    resumed = run(tiny_data, tmp_path / "resumed", "--workers", "2", "--resume", "auto")
    assert resumed["step"] == 8
    for key, value in straight["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    straight_losses = (tmp_path / "straight" / "loss.txt").read_text().splitlines()
    assert (tmp_path / "resumed" / "loss.txt").read_text().splitlines() == straight_losses
    assert resumed["class_names"][0] == "DriftLeft"
    assert not math.isnan(resumed["val"]["top1"])


def test_precise_bn_uses_the_exact_statistics_of_the_given_batches():
    from glore.precise_bn import update_bn_stats

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv3d(3, 4, 1), torch.nn.BatchNorm3d(4), torch.nn.Dropout(0.5))
    batches = [torch.randn(2, 3, 2, 4, 4) * (i + 1) + i for i in range(3)]
    assert update_bn_stats(model, batches, lambda x: x) == 3
    with torch.no_grad():
        features = torch.cat([model[0](b) for b in batches])
    bn = model[1]
    torch.testing.assert_close(bn.running_mean, features.mean(dim=(0, 2, 3, 4)))
    # The cumulative average of the per-batch (unbiased) variances, as BN accumulates them.
    per_batch = torch.stack([model[0](b).detach().var(dim=(0, 2, 3, 4)) for b in batches])
    torch.testing.assert_close(bn.running_var, per_batch.mean(0))
    assert bn.momentum == 0.1 and model.training


def without_pretrained_flag(args):
    """TINY with the default --pretrained (auto)."""
    at = args.index("--pretrained")
    return args[:at] + args[at + 2 :]


@pytest.mark.parametrize("network", ["resnet50", "resnet14-tiny"])
def test_auto_pretrained_missing_is_an_error_not_random_weights(tiny_data, tmp_path, network):
    """On real data, --pretrained auto without the released file stops with one error line
    naming the path, the file, where it comes from and --pretrained none; it never falls back to
    random weights. (resnet14-tiny has no released file: the message says so.)"""
    expected = train.PRETRAINED_DIR / f"{network}-lite_3d_8x8_w-glore_2-3_ep-0000.pth"
    if expected.exists():
        pytest.skip(f"{expected} is installed here")
    args = without_pretrained_flag(TINY)
    args[args.index("--network") + 1] = network
    result = run_python("-m", "glore.train", "--data_path", tiny_data, "--output_dir", str(tmp_path), *args)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    error = result.stderr.strip().splitlines()[-1]
    assert (
        error.startswith("error: --pretrained auto: no Kinetics-400 weights")
        and "Traceback" not in result.stderr
    )
    assert "--pretrained none" in error and "--pretrained PATH" in error
    if network == "resnet50":
        assert f"at {expected};" in error and expected.name in error and "facebookresearch/GloRe" in error
    else:
        assert "released for resnet14-tiny" in error
    assert not (tmp_path / "checkpoint.pth").exists()


def test_auto_pretrained_finds_the_released_file(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "PRETRAINED_DIR", tmp_path)
    (tmp_path / "resnet50-lite_3d_8x8_w-glore_2-3_ep-0000.pth").write_bytes(b"")
    assert train.resolve_pretrained("auto", "resnet50") == str(
        tmp_path / "resnet50-lite_3d_8x8_w-glore_2-3_ep-0000.pth"
    )
    assert train.resolve_pretrained("none", "resnet50") is None
    assert train.resolve_pretrained("k.pth", "resnet50") == "k.pth"


def test_resume_with_another_batch_counts_steps_in_this_runs_batches(tiny_data, tmp_path, capsys):
    """GloRe counts the steps in the run's batches (its schedule is in epochs): 3 steps of 4
    clips are 6 steps of 2. With --max_steps 6 nothing is left, and the run says so; with 8, two
    steps are taken."""
    out = tmp_path / "run"
    run(tiny_data, out, "--workers", "0", "--max_steps", "3")
    capsys.readouterr()
    saved = run(tiny_data, out, "--workers", "0", "--max_steps", "6", "--batch_size", "2", "--resume", "auto")
    log = capsys.readouterr().out
    assert (
        "the checkpoint's run took 4 examples per step, this one 2: epoch 1 goes on after its first 12 "
        "examples, from this run's step 7 of 8; the run's step counter is counted in this run's batches: "
        "its step 3 is this run's step 6"
    ) in log
    assert "nothing left to train: it is at step 6 and --max_steps is 6" in log
    assert saved["step"] == 3, "nothing trained, nothing saved"
    saved = run(tiny_data, out, "--workers", "0", "--max_steps", "8", "--batch_size", "2", "--resume", "auto")
    assert saved["step"] == 8 and saved["lr_scheduler"]["last_epoch"] == 8


def test_resuming_from_another_model_or_network_names_both(tiny_data, tmp_path):
    """--resume with a GOTURN checkpoint, or with another --network: one line naming what the
    checkpoint holds and what the run trains (it was load_state_dict's 135-line dump)."""
    from common.errors import UserError

    out = tmp_path / "run"
    run(tiny_data, out, "--workers", "0", "--max_steps", "1")
    path = out / "checkpoint.pth"
    state = torch.load(path, weights_only=True)
    classes = len(state["class_names"])
    with pytest.raises(UserError) as raised:
        run(tiny_data, out, "--workers", "0", "--network", "resnet50", "--resume", "auto")
    assert str(raised.value) == (
        f"checkpoint {path} holds a GloRe resnet14-tiny model with {classes} classes; this run trains a "
        f"GloRe resnet50 model with {classes} classes: resume from a checkpoint of this model, or start "
        "afresh (--fresh, or another --output_dir)"
    )
    torch.save({**state, "model_info": {"model": "GOTURN"}}, path)
    with pytest.raises(
        UserError,
        match=f"holds a GOTURN model; this run trains a GloRe resnet14-tiny model with {classes} classes",
    ):
        run(tiny_data, out, "--workers", "0", "--resume", "auto")
