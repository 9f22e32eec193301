"""The annotation and list parsers on arbitrary input: they either return
records or raise their package's DataError (a UserError), never anything else."""

import contextlib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from glore.data.errors import DataError as GloreDataError
from glore.data.lists import read_class_index, read_official_list, read_rawframes_list, read_videos_list
from goturn.data.alov import parse_ann_file
from goturn.data.imagenet_det import parse_det_xml
from goturn.data.records import DataError as GoturnDataError

WORKDIR = Path(tempfile.mkdtemp(prefix="reliability_fuzz_"))
# Tokens the formats are made of, so most inputs get past the first check.
TOKENS = st.sampled_from(
    [
        "1",
        "0",
        "-3",
        "2.5",
        "nan",
        "inf",
        "1e400",
        "A/v_A_g01_c01",
        "A/x.avi",
        "A",
        "B",
        "١",
        "\t",
        " ",
        "\n",
        "<",
        ">",
        "</",
        "size",
        "width",
        "height",
        "object",
        "bndbox",
        "xmin",
        "ymin",
        "xmax",
        "ymax",
        "annotation",
        "&e;",
        "\x00",
        "é",
    ]
)
TEXT = st.one_of(st.lists(TOKENS, max_size=40).map(" ".join), st.text(max_size=200))
RAW = st.one_of(TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")), st.binary(max_size=200))
FUZZ = settings(max_examples=150, deadline=None)


def write(data: bytes) -> Path:
    path = WORKDIR / "input"
    path.write_bytes(data)
    return path


def det_xml(values):
    width, height, xmin, ymin, xmax, ymax = values
    return (
        f"<annotation><size><width>{width}</width><height>{height}</height></size><object><bndbox>"
        f"<xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>"
        "</object></annotation>"
    ).encode("utf-8", "surrogatepass")


@FUZZ
@given(RAW)
def test_ann_parser_raises_only_data_error(data):
    with contextlib.suppress(GoturnDataError):
        parse_ann_file(write(data))


@FUZZ
@given(st.one_of(RAW, st.lists(TEXT, min_size=6, max_size=6).map(det_xml)))
def test_det_xml_parser_raises_only_data_error(data):
    with contextlib.suppress(GoturnDataError):
        parse_det_xml(write(data))


@FUZZ
@given(RAW, st.sampled_from(["classes", "official", "rawframes", "videos"]))
def test_ucf101_list_parsers_raise_only_data_error(data, kind):
    path = write(data)
    try:
        if kind == "classes":
            read_class_index(path)
        elif kind == "official":
            read_official_list(path, ["A", "B"])
        elif kind == "rawframes":
            read_rawframes_list(path, "root", num_classes=2)
        else:
            read_videos_list(path, "root", num_classes=2)
    except GloreDataError:
        pass
