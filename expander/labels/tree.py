"""A labelled dataset's files: every file under its root, in a local folder or an object store, and bounded reads.

The label formats find their layouts in ``Tree.files`` and read label files through ``Tree.read``, so a
dataset reads the same from a folder and from ``s3://``.
"""

from __future__ import annotations

import errno
import functools
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from expander.dataset import is_image_name, natural_key, split_role
from expander.errors import LayoutError
from expander.limits import DEFAULT_MAX_PIXELS
from expander.storage import Store, is_url, open_store
from expander.textfiles import MB, TextFileError, decode_text, read_limited

MAX_LABEL_FILE_BYTES = 64 * MB  # one image's label file (a YOLO .txt, a VOC .xml)
MAX_DATASET_FILE_BYTES = 1 * MB  # data.yaml, classes.txt: a few kilobytes in real datasets


@dataclass
class Tree:
    """Every file under a root (relative, forward slashes, natural order), followed through links.

    Every entry under the root is in exactly one of ``files`` (regular files, the only ones ever opened),
    ``skipped`` (path, reason key: hidden entries, a hidden folder counted once and never entered; links that
    loop or lead nowhere; FIFOs, sockets and devices; a link from a non-image file to a file outside the root)
    and ``rejected`` (names that are not UTF-8), so a run can account for every file it was given.
    """

    root: Path  # a local folder, or the name part of a URL
    store: Store
    files: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # real paths read (local folders)
    dirs: list[str] = field(default_factory=list)  # relative paths of the folders read (empty ones too)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    url: str | None = None
    cache: dict = field(default_factory=dict, repr=False)  # what a format parsed once (COCO's JSONs)
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # label images (masks) over it are refused from their header

    @property
    def location(self) -> str:
        return self.url or str(self.root)

    @property
    def ignored(self) -> dict[str, int]:
        """How many entries were skipped, by reason."""
        counts: dict[str, int] = {}
        for _, reason in self.skipped:
            counts[reason] = counts.get(reason, 0) + 1
        return counts

    @functools.cached_property
    def images(self) -> list[str]:
        """The image files, in the listing's order (found once: the listing is complete when it is asked)."""
        return [f for f in self.files if is_image_name(f)]

    def where(self, rel: str) -> str:
        """A file's full name, for messages."""
        return self.store.join(rel)

    def read(self, rel: str, limit: int = MAX_LABEL_FILE_BYTES) -> bytes:
        """A file's bytes, at most ``limit`` (TextFileError beyond it; OSError when it cannot be read)."""
        if self.store.remote:
            data = self.store.read(rel)
            if len(data) > limit:
                raise TextFileError(f"larger than {limit // MB} MB")
            return data
        with open(Path(self.store.join(rel)), "rb") as f:
            return read_limited(f, limit)

    def text(self, rel: str, limit: int = MAX_LABEL_FILE_BYTES) -> str:
        """A label file's UTF-8 text (TextFileError: too large or not UTF-8; OSError: cannot be read)."""
        return decode_text(self.read(rel, limit))


def walk(location: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Tree:
    """List a local folder recursively, or an object-store prefix; what is not listed is in ``Tree.skipped``.

    Raises:
        LayoutError: a folder cannot be read.
    """
    if is_url(location):
        return _walk_store(str(location), max_pixels)
    root = Path(location)
    tree = Tree(root, open_store(root), max_pixels=max_pixels)
    seen: set[str] = set()
    pending = [""]
    inside = os.path.realpath(root)
    while pending:
        rel = pending.pop()
        folder = root / rel if rel else root
        real = os.path.realpath(folder)
        if real in seen:
            tree.skipped.append((rel, LINK_LOOP))
            continue
        seen.add(real)
        tree.folders.append(Path(real))
        if rel:
            tree.dirs.append(rel)
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            raise LayoutError(
                f"Cannot read folder '{folder}': {e.strerror or e}. Give your user read access to it."
            ) from None
        # A folder reached through no link is inside the root, and so is every plain file in it: the real path
        # of a label file is looked up only where a link is involved (a YOLO set has one label file per image).
        plain_folder = _within(real, inside)
        for entry in entries:
            _add(tree, entry, posixpath.join(rel, entry.name) if rel else entry.name, pending, inside, plain_folder)
    tree.files.sort(key=natural_key)
    tree.dirs.sort(key=natural_key)
    tree.skipped.sort(key=lambda entry: natural_key(entry[0]))
    return tree


# Why an entry under the root is not a file of the dataset (Tree.skipped's reason keys).
HIDDEN, LINK_LOOP, BROKEN_LINK = "hidden", "link_loops", "broken_links"
NOT_REGULAR, OUTSIDE = "not_regular_file", "link_outside_root"


def _add(tree: Tree, entry: os.DirEntry, path: str, pending: list[str], inside: str, plain_folder: bool) -> None:
    if entry.name.startswith("."):
        tree.skipped.append((path, HIDDEN))
        return
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        tree.rejected.append((shown, "name is not valid UTF-8 (bytes shown as \\xNN); rename the file"))
        return
    try:
        if entry.is_symlink():
            Path(entry.path).stat()  # follows the link: a loop or a missing target raises here
        is_dir, is_file = entry.is_dir(), entry.is_file()  # the entry's type, no system call but for links
    except OSError as e:
        tree.skipped.append((path, LINK_LOOP if e.errno == errno.ELOOP else BROKEN_LINK))
        return
    if is_dir:
        pending.append(path)
    elif not is_file:
        tree.skipped.append((path, NOT_REGULAR))  # a FIFO would block the first read for ever
    elif (
        not is_image_name(path)
        and (entry.is_symlink() or not plain_folder)
        and not _within(os.path.realpath(entry.path), inside)
    ):
        # A label, list or JSON file is parsed and its lines can be echoed in messages or copied to the output:
        # one that leads out of the dataset (a link, or a linked folder) is never opened. Image links into a
        # photo library are followed.
        tree.skipped.append((path, OUTSIDE))
    else:
        tree.files.append(path)


def _within(real: str, folder: str) -> bool:
    return real == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


def _walk_store(url: str, max_pixels: int | None) -> Tree:
    store = open_store(url)
    files: list[str] = []
    skipped: list[str] = []
    for f in store.files():
        (skipped if any(part.startswith(".") for part in f.split("/")) else files).append(f)
    dirs = sorted({"/".join(f.split("/")[:n]) for f in files for n in range(1, f.count("/") + 1)}, key=natural_key)
    return Tree(Path(url.split("://", 1)[1]), store, sorted(files, key=natural_key), url=url.rstrip("/"), dirs=dirs,
                skipped=[(f, HIDDEN) for f in sorted(skipped, key=natural_key)], max_pixels=max_pixels)  # fmt: skip


def inside(tree: Tree, folder: str, entry: str) -> str | None:
    """A path a label file names (a list line, a COCO ``file_name``), relative to ``folder``, as a path of the
    tree; None when it leads outside the dataset (``../`` past the root, or an absolute path elsewhere). An
    absolute path inside the root (Ultralytics writes list files so) is the file it names."""
    if entry.startswith("/"):
        if tree.url is not None:
            return None
        for root in {str(Path(tree.root).absolute()), os.path.realpath(tree.root)}:
            if entry.startswith(root.rstrip("/") + "/"):
                return posixpath.normpath(entry[len(root.rstrip("/")) + 1 :])
        return None
    rel = posixpath.normpath(posixpath.join(folder, entry))
    return None if rel == ".." or rel.startswith("../") else "" if rel == "." else rel


def split_of(rel_path: str) -> str | None:
    """The split an image belongs to by its folders: the first folder named like one (``train``, ``valid``,
    ``val2017``...), as its role (``train2017`` -> ``train``)."""
    for part in rel_path.split("/")[:-1]:
        role = split_role(part)
        if role is not None:
            return role
    return None


def split_in_name(path: str) -> str | None:
    """The split a label file's name says (``instances_train2017.json``, ``test_labels.csv``,
    ``valid/_annotations.createml.json`` aside: that is its folder), or None."""
    match = re.search(r"(train|validation|valid|val|test)", posixpath.splitext(posixpath.basename(path))[0].lower())
    return match[1] if match else None


def renamed_label(label_file: str, source: str, output: str) -> str:
    """Where an output's label file goes: the source's label file with the image stem swapped.

    ``train/labels/a.txt`` for ``train/images/a.jpg`` becomes ``train/labels/a__aug001.txt`` for
    ``train/images/a__aug001.jpg``; ``PedMasks/a_mask.png`` becomes ``PedMasks/a__aug001_mask.png``.
    """
    folder, name = posixpath.split(label_file)
    stem = posixpath.splitext(posixpath.basename(source))[0]
    new_stem = posixpath.splitext(posixpath.basename(output))[0]
    # A label named unlike its image keeps only its extension, with the new stem.
    name = new_stem + (name[len(stem) :] if name.startswith(stem) else posixpath.splitext(name)[1])
    return posixpath.join(folder, name)


def stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]
