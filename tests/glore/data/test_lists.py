"""UCF-101 list parsing: official ucfTrainTestlist, mmaction2 rawframes and video lists, the
data set layout, and errors naming the file and line."""

import pytest

from glore.data.errors import DataError
from glore.data.layout import load_split
from glore.data.lists import (
    class_names_from_records,
    read_class_index,
    read_official_list,
    read_rawframes_list,
    read_videos_list,
)

# The official classInd.txt order (1-based). Note JumpingJack before JumpRope and Hammering
# before HammerThrow: case-insensitive order, which Python's default sort does not give.
UCF101_CLASSES = [
    "ApplyEyeMakeup",
    "ApplyLipstick",
    "Archery",
    "BabyCrawling",
    "BalanceBeam",
    "BandMarching",
    "BaseballPitch",
    "Basketball",
    "BasketballDunk",
    "BenchPress",
    "Biking",
    "Billiards",
    "BlowDryHair",
    "BlowingCandles",
    "BodyWeightSquats",
    "Bowling",
    "BoxingPunchingBag",
    "BoxingSpeedBag",
    "BreastStroke",
    "BrushingTeeth",
    "CleanAndJerk",
    "CliffDiving",
    "CricketBowling",
    "CricketShot",
    "CuttingInKitchen",
    "Diving",
    "Drumming",
    "Fencing",
    "FieldHockeyPenalty",
    "FloorGymnastics",
    "FrisbeeCatch",
    "FrontCrawl",
    "GolfSwing",
    "Haircut",
    "Hammering",
    "HammerThrow",
    "HandstandPushups",
    "HandstandWalking",
    "HeadMassage",
    "HighJump",
    "HorseRace",
    "HorseRiding",
    "HulaHoop",
    "IceDancing",
    "JavelinThrow",
    "JugglingBalls",
    "JumpingJack",
    "JumpRope",
    "Kayaking",
    "Knitting",
    "LongJump",
    "Lunges",
    "MilitaryParade",
    "Mixing",
    "MoppingFloor",
    "Nunchucks",
    "ParallelBars",
    "PizzaTossing",
    "PlayingCello",
    "PlayingDaf",
    "PlayingDhol",
    "PlayingFlute",
    "PlayingGuitar",
    "PlayingPiano",
    "PlayingSitar",
    "PlayingTabla",
    "PlayingViolin",
    "PoleVault",
    "PommelHorse",
    "PullUps",
    "Punch",
    "PushUps",
    "Rafting",
    "RockClimbingIndoor",
    "RopeClimbing",
    "Rowing",
    "SalsaSpin",
    "ShavingBeard",
    "Shotput",
    "SkateBoarding",
    "Skiing",
    "Skijet",
    "SkyDiving",
    "SoccerJuggling",
    "SoccerPenalty",
    "StillRings",
    "SumoWrestling",
    "Surfing",
    "Swing",
    "TableTennisShot",
    "TaiChi",
    "TennisSwing",
    "ThrowDiscus",
    "TrampolineJumping",
    "Typing",
    "UnevenBars",
    "VolleyballSpiking",
    "WalkingWithDog",
    "WallPushups",
    "WritingOnBoard",
    "YoYo",
]


@pytest.fixture
def official(tmp_path):
    folder = tmp_path / "ucfTrainTestlist"
    folder.mkdir()
    (folder / "classInd.txt").write_text("".join(f"{i} {n}\r\n" for i, n in enumerate(UCF101_CLASSES, 1)))
    (folder / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
        "JumpingJack/v_JumpingJack_g08_c01.avi 47\r\n"
        "JumpRope/v_JumpRope_g08_c01.avi 48\r\n"
        "YoYo/v_YoYo_g25_c05.avi 101\r\n"
    )
    (folder / "testlist01.txt").write_text(
        "JumpRope/v_JumpRope_g01_c01.avi\r\nJumpingJack/v_JumpingJack_g01_c01.avi\r\n"
    )
    return folder


def test_class_index_gives_the_official_label_order(official):
    names = read_class_index(official / "classInd.txt")
    assert len(names) == 101
    assert names.index("JumpingJack") == 46 and names.index("JumpRope") == 47
    assert sorted(names).index("JumpingJack") != 46  # why the order must come from the file


def test_official_train_and_test_lists(official):
    names = read_class_index(official / "classInd.txt")
    train = read_official_list(official / "trainlist01.txt", names, "/data/videos")
    assert [(r.name, r.label) for r in train] == [
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01", 0),
        ("JumpingJack/v_JumpingJack_g08_c01", 46),
        ("JumpRope/v_JumpRope_g08_c01", 47),
        ("YoYo/v_YoYo_g25_c05", 100),
    ]
    assert train[0].path == "/data/videos/ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi"
    test = read_official_list(official / "testlist01.txt", names)
    assert [r.label for r in test] == [47, 46]


def test_official_list_with_an_inconsistent_index_names_the_line(official):
    names = read_class_index(official / "classInd.txt")
    (official / "trainlist02.txt").write_text(
        "Archery/v_Archery_g01_c01.avi 3\nJumpRope/v_JumpRope_g01_c01.avi 47\n"
    )
    with pytest.raises(
        DataError, match=r"trainlist02.txt:2: index 47 but classInd.txt gives 'JumpRope' the index 48"
    ):
        read_official_list(official / "trainlist02.txt", names)


def test_mmaction2_rawframes_and_videos_lists(tmp_path):
    rawframes = tmp_path / "ucf101_train_split_1_rawframes.txt"
    rawframes.write_text("JumpingJack/v_JumpingJack_g08_c01 120 46\nJumpRope/v_JumpRope_g08_c01 97 47\n\n")
    records = read_rawframes_list(rawframes, "/d/rawframes", num_classes=101)
    assert [(r.path, r.num_frames, r.label) for r in records] == [
        ("/d/rawframes/JumpingJack/v_JumpingJack_g08_c01", 120, 46),
        ("/d/rawframes/JumpRope/v_JumpRope_g08_c01", 97, 47),
    ]
    videos = tmp_path / "ucf101_train_split_1_videos.txt"
    videos.write_text("JumpingJack/v_JumpingJack_g08_c01.avi 46\n")
    [record] = read_videos_list(videos, "/d/videos")
    assert (record.path, record.num_frames, record.label, record.name) == (
        "/d/videos/JumpingJack/v_JumpingJack_g08_c01.avi",
        None,
        46,
        "JumpingJack/v_JumpingJack_g08_c01",
    )


@pytest.mark.parametrize(
    "line, message",
    [
        ("Archery/v_Archery_g01_c01 120", "expected '<frames dir> <num_frames> <label>'"),
        ("Archery/v_Archery_g01_c01 twelve 2", "frame count 'twelve' is not an integer"),
        ("Archery/v_Archery_g01_c01 0 2", "frame count 0 is below 1"),
        ("Archery/v_Archery_g01_c01 12 -1", "label -1 is below 0"),
        ("Archery/v_Archery_g01_c01 12 101", "label 101 is out of range for 101 classes"),
    ],
)
def test_malformed_rawframes_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "list.txt"
    path.write_text(f"Archery/v_Archery_g01_c02 10 2\n{line}\n")
    with pytest.raises(DataError, match=rf"list.txt:2: {message}"):
        read_rawframes_list(path, num_classes=101)


def test_missing_list_file_is_named(tmp_path):
    with pytest.raises(DataError, match=r"cannot read list file .*nothing\.txt"):
        read_videos_list(tmp_path / "nothing.txt")


def test_class_names_from_mmaction2_records(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("B/v_B_g01_c01 5 1\nA/v_A_g01_c01 5 0\nB/v_B_g02_c01 5 1\n")
    assert class_names_from_records(read_rawframes_list(path), "l.txt") == ["A", "B"]
    path.write_text("B/v_B_g01_c01 5 2\nA/v_A_g01_c01 5 0\n")
    with pytest.raises(DataError, match=r"no video has label\(s\) \[1\]"):
        class_names_from_records(read_rawframes_list(path), "l.txt")


def test_layout_finds_lists_classes_and_format(tmp_path, official):
    root = tmp_path / "data" / "ucf101"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "classInd.txt").write_text((official / "classInd.txt").read_text())
    (root / "ucf101_train_split_2_videos.txt").write_text("JumpRope/v_JumpRope_g08_c01.avi 47\n")
    (root / "ucf101_val_split_2_videos.txt").write_text("JumpingJack/v_JumpingJack_g01_c01.avi 46\n")
    split = load_split(str(tmp_path / "data"), split=2)
    assert split.data_format == "videos" and len(split.class_names) == 101
    assert split.train[0].path == str(root / "videos" / "JumpRope" / "v_JumpRope_g08_c01.avi")
    with pytest.raises(DataError, match="no list for split 1"):
        load_split(str(root), split=1)
    with pytest.raises(DataError, match=r"python -m glore\.data\.prepare"):
        load_split(str(tmp_path))


def test_a_class_index_in_another_order_than_the_lists_is_refused_naming_the_line(tmp_path, official):
    """classInd.txt with two classes swapped: every prediction would carry the other's name."""
    root = tmp_path / "data" / "ucf101"
    (root / "annotations").mkdir(parents=True)
    swapped = [
        "JumpRope" if n == "JumpingJack" else "JumpingJack" if n == "JumpRope" else n for n in UCF101_CLASSES
    ]
    index = root / "annotations" / "classInd.txt"
    index.write_text("".join(f"{i} {n}\n" for i, n in enumerate(swapped, 1)))
    (root / "ucf101_train_split_1_rawframes.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01 30 0\nJumpRope/v_JumpRope_g08_c01 30 47\n"
    )
    (root / "ucf101_val_split_1_rawframes.txt").write_text("YoYo/v_YoYo_g01_c01 30 100\n")
    with pytest.raises(DataError) as raised:
        load_split(str(root))
    assert str(raised.value) == (
        f"{root / 'ucf101_train_split_1_rawframes.txt'}:2: JumpRope/v_JumpRope_g08_c01 has label 47, but "
        f"{index} names label 47 'JumpingJack' (index 48); the class index and the lists disagree about "
        "the order"
    )
    index.write_text("".join(f"{i} {n}\n" for i, n in enumerate(UCF101_CLASSES, 1)))
    assert load_split(str(root)).class_names == UCF101_CLASSES
