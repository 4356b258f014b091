"""Walking a labelled dataset's tree, and the rules shared by its formats: splits, sizes, names."""

from __future__ import annotations

import errno
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from expander.dataset import SPLITS, is_image_name, natural_key
from expander.errors import LayoutError

MAX_LABEL_FILE_BYTES = 64 << 20  # a label file larger than this is refused, not read into memory


@dataclass
class Tree:
    """Every file under a root (relative, forward slashes, natural order), followed through links."""

    root: Path
    files: list[str] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)  # real paths read
    ignored: dict[str, int] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def images(self) -> list[str]:
        return [f for f in self.files if is_image_name(f)]


def walk(root: Path) -> Tree:
    """List ``root`` recursively. Hidden entries are skipped; link loops and broken links are counted.

    Raises:
        LayoutError: a folder cannot be read.
    """
    tree = Tree(root)
    seen: set[str] = set()
    pending = [""]
    while pending:
        rel = pending.pop()
        folder = root / rel if rel else root
        real = os.path.realpath(folder)
        if real in seen:
            tree.ignored["link_loops"] = tree.ignored.get("link_loops", 0) + 1
            continue
        seen.add(real)
        tree.folders.append(Path(real))
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            raise LayoutError(
                f"Cannot read folder '{folder}': {e.strerror or e}. Give your user read access to it."
            ) from None
        for entry in entries:
            path = posixpath.join(rel, entry.name) if rel else entry.name
            if entry.name.startswith("."):
                continue
            try:
                path.encode("utf-8")
            except UnicodeEncodeError:
                shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                tree.rejected.append((shown, "name is not valid UTF-8 (bytes shown as \\xNN); rename it"))
                continue
            try:
                is_dir = entry.is_dir()
                Path(entry.path).stat()  # follows links: a loop or a missing target raises here
            except OSError as e:
                reason = "link_loops" if e.errno == errno.ELOOP else "broken_links"
                tree.ignored[reason] = tree.ignored.get(reason, 0) + 1
                continue
            (pending if is_dir else tree.files).append(path)
    tree.files.sort(key=natural_key)
    return tree


def split_of(rel_path: str) -> str | None:
    """The split an image belongs to: the first folder of its path named like one (train, valid, ...)."""
    for part in rel_path.split("/")[:-1]:
        if part in SPLITS:
            return part
    return None


def read_text(root: Path, rel_path: str) -> str:
    """A label file's text. Raises ValueError (with the reason) for what cannot be read as UTF-8 text."""
    path = root / rel_path
    if path.stat().st_size > MAX_LABEL_FILE_BYTES:
        raise ValueError(f"larger than {MAX_LABEL_FILE_BYTES >> 20} MB")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 text ({e.reason} at byte {e.start})") from None


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


def clip_corners(x0: float, y0: float, x1: float, y1: float, width: float, height: float):
    """A box's corners clipped to the image; None when nothing of it is left inside."""
    x0, x1 = max(0.0, min(x0, width)), max(0.0, min(x1, width))
    y0, y1 = max(0.0, min(y0, height)), max(0.0, min(y1, height))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None
