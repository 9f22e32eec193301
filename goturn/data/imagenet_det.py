"""ImageNet DET (ILSVRC2014) still images, indexed into one sample per object.

On disk::

    ILSVRC2014_Det/images/<folder>/<name>.JPEG
    ILSVRC2014_Det/gt/<folder>/<name>.xml

(``<folder>`` may also be two levels, as ILSVRC2015's ``ILSVRC2013_train/<synset>``.)

The XML gives ``annotation/size/{width,height}`` and, per object,
``object/bndbox/{xmin,ymin,xmax,ymax}``. As in the original GOTURN an object
is skipped when it is wider than 0.66 of the image or taller than 0.66 of it,
or when ``xmin < 0``, ``ymin < 0``, ``xmax <= xmin`` or ``ymax <= ymin``
(and here also when it starts beyond the image's right or bottom edge). Each
kept object becomes a pair whose previous and current frame are the same
image; the boxes refer to the XML size and are rescaled when the decoded
image has another size (examples.py). Folders of negatives (tar names with
``extra``) have no objects and contribute nothing.

Validation holds out the last ``val_fraction`` of the folders, in sorted
order (the reference took them in file-system order, which differs between
machines).
"""

import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from goturn.data.errors import DataError
from goturn.data.records import VAL_FRACTION, LoadReport, PairTable, PairTableBuilder, annotation_trees

MAX_OBJECT_FRACTION = 0.66
IMAGE_EXTENSIONS = (".JPEG", ".jpeg", ".jpg", ".JPG", ".png", ".PNG")
SPLITS = ("train", "val", "all")


def select_folders(folders: list[str], split: str, val_fraction: float) -> list[str]:
    if split == "all":
        return folders
    num_train = int((1.0 - val_fraction) * len(folders))
    return folders[:num_train] if split == "train" else folders[num_train:]


def _number(path: Path, element, tag: str, where: str) -> float:
    child = element.find(tag)
    try:
        value = float(child.text)
        if not math.isfinite(value):
            raise ValueError
        return value
    except (AttributeError, TypeError, ValueError):
        text = None if child is None else child.text
        raise DataError(
            f"{path}: {where}{tag} should be a number, got "
            f"{'no such element' if child is None else repr(text)}"
        ) from None


def parse_det_xml(path: Path) -> tuple[tuple[int, int], list[tuple[float, float, float, float]]]:
    """``((width, height), [(xmin, ymin, xmax, ymax), ...])`` of one XML file,
    before filtering."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, LookupError, ValueError) as error:  # ValueError: undecodable text
        raise DataError(f"{path}: not well-formed XML ({error})") from None
    size = root.find("size")
    if size is None:
        raise DataError(
            f"{path}: missing annotation/size (expected <size><width>..</width><height>..</height></size>)"
        )
    width, height = _number(path, size, "width", "size/"), _number(path, size, "height", "size/")
    if width <= 0 or height <= 0:
        raise DataError(f"{path}: size {width:g} x {height:g} should be positive")
    boxes = []
    for number, obj in enumerate(root.iter("object"), start=1):
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise DataError(f"{path}: object {number} has no bndbox")
        where = f"object {number} bndbox/"
        boxes.append(tuple(_number(path, bndbox, tag, where) for tag in ("xmin", "ymin", "xmax", "ymax")))
    return (int(width), int(height)), boxes


def keep_reason(box, width: int, height: int) -> str | None:
    """None when the object is kept, else why it is skipped."""
    xmin, ymin, xmax, ymax = box
    if xmax - xmin > MAX_OBJECT_FRACTION * width or ymax - ymin > MAX_OBJECT_FRACTION * height:
        return "objects larger than 0.66 of the image"
    if xmin < 0 or ymin < 0 or xmax <= xmin or ymax <= ymin or xmin >= width or ymin >= height:
        return "objects with an invalid box"
    return None


def load_imagenet_det(
    root, split: str = "train", val_fraction: float = VAL_FRACTION, skip_bad: bool = False
) -> tuple[PairTable, LoadReport]:
    """Index ``root`` (the folder holding ``images/`` and ``gt/``).

    A malformed XML file or a missing image raises DataError naming the file,
    or with ``skip_bad`` is skipped and counted. Filtered objects, images
    without kept objects and folders without annotations are counted.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    gt_dir, images_dir = annotation_trees(
        root, "ImageNet DET", "{root}/images/<folder>/<name>.JPEG and {root}/gt/<folder>/<name>.xml"
    )
    report = LoadReport("ImageNet DET", split)
    table = PairTableBuilder("det")
    # Folders of either tree: annotations whose image folder is missing are
    # missing images, not something to pass over in silence.
    folders = sorted(leaf_folders(images_dir) | leaf_folders(gt_dir))
    for folder in select_folders(folders, split, val_fraction):
        report.groups += 1
        xml_files = sorted((gt_dir / folder).glob("*.xml")) if (gt_dir / folder).is_dir() else []
        if not xml_files:
            report.skip("image folders without annotations", folder)
            continue
        images = set(os.listdir(images_dir / folder)) if (images_dir / folder).is_dir() else set()
        for xml_file in xml_files:
            _add_image(table, report, xml_file, images_dir / folder, images, skip_bad)
    result = table.build()
    report.pairs = len(result)
    return result, report


def leaf_folders(tree: Path) -> set[str]:
    """The folders of ``tree`` that hold the files, as paths relative to it: its subfolders, or
    one level further down for a subfolder holding only folders (ILSVRC2015's layout keeps the
    2013 images in ``ILSVRC2013_train/<synset>/``); the flat layout would otherwise leave those
    images out with nothing but a count."""
    found = set()
    for entry in os.scandir(tree):
        if not entry.is_dir():
            continue
        subfolders = []
        with os.scandir(entry.path) as inside:
            for item in inside:
                if not item.is_dir():  # it holds files: a folder of images or annotations
                    subfolders = []
                    break
                subfolders.append(item.name)
        if subfolders:
            found.update(f"{entry.name}/{sub}" for sub in subfolders)
        else:
            found.add(entry.name)
    return found


def _add_image(
    table: PairTableBuilder,
    report: LoadReport,
    xml_file: Path,
    image_dir: Path,
    images: set[str],
    skip_bad: bool,
) -> None:
    try:
        (width, height), boxes = parse_det_xml(xml_file)
    except DataError as error:
        if not skip_bad:
            raise
        report.skip("malformed XML files", str(error))
        return
    report.items += 1
    kept = []
    for box in boxes:
        reason = keep_reason(box, width, height)
        if reason is None:
            kept.append(box)
        else:
            report.skip(reason, f"{xml_file} {box}")
    if not kept:
        report.skip("images without a usable object", str(xml_file))
        return
    name = next((xml_file.stem + ext for ext in IMAGE_EXTENSIONS if xml_file.stem + ext in images), None)
    if name is None:
        if not skip_bad:
            raise DataError(
                f"{xml_file}: its image {image_dir / (xml_file.stem + '.JPEG')} does not exist "
                "(use --skip_bad to skip such annotations)"
            )
        report.skip("annotations whose image is missing", str(xml_file))
        return
    path = str(image_dir / name)
    for box in kept:
        table.add(path, box, path, box, (width, height))
