from __future__ import annotations

import dataclasses
import posixpath
import random
from collections import Counter
from pathlib import Path

import pytest
from conftest import make_tree, write_image

from expander.errors import PlanError
from expander.plan import Job, Quota, make_plan, output_seed
from expander.scan import scan


def new_per_class(plan) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for job in plan.jobs:
        counts[job.class_name] += sum(1 for o in job.outputs if o.copy_index is not None)
    return {k: v for k, v in counts.items() if v}


def test_output_seed_is_a_stable_hash() -> None:
    # A fixed value: if this changes, every existing expansion stops being reproducible.
    assert output_seed(0, "cat/img1.png", 1) == 1958499858395884946
    assert output_seed(0, "cat/img1.png", 2) != output_seed(0, "cat/img1.png", 1)
    assert output_seed(1, "cat/img1.png", 1) != output_seed(0, "cat/img1.png", 1)
    assert 0 <= output_seed(123, "x", 9) < 2**63


def test_per_image_names_and_seeds(tree: Path) -> None:
    plan = make_plan(scan(tree), Quota(per_image=2), seed=7)

    job = plan.jobs[0]
    assert job.source == "cat/img1.png"
    assert [(o.rel_path, o.copy_index, o.seed) for o in job.outputs] == [
        ("cat/img1.png", None, None),
        ("cat/img1__aug001.png", 1, output_seed(7, "cat/img1.png", 1)),
        ("cat/img1__aug002.png", 2, output_seed(7, "cat/img1.png", 2)),
    ]
    assert plan.outputs == 5 * 3
    assert [(r.class_name, r.originals, r.new, r.total) for r in plan.rows] == [("cat", 3, 6, 9), ("dog", 2, 4, 6)]


def test_copy_index_width_grows_past_999(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"cat": 1})
    outputs = make_plan(scan(root), Quota(per_image=1000)).jobs[0].outputs
    assert outputs[1].rel_path == "cat/img1__aug0001.png"
    assert outputs[-1].rel_path == "cat/img1__aug1000.png"


def test_classes_limits_augmentation_and_copies_the_rest(tree: Path) -> None:
    plan = make_plan(scan(tree), Quota(per_image=4), classes=("dog",))
    assert new_per_class(plan) == {"dog": 8}
    assert [(r.class_name, r.originals, r.new, r.augmented) for r in plan.rows] == [
        ("cat", 3, 0, False),
        ("dog", 2, 8, True),
    ]


def test_unknown_class_lists_the_real_ones(tree: Path) -> None:
    with pytest.raises(PlanError, match=r"Unknown class 'bird' in '.*src'\. Classes found: cat, dog\."):
        make_plan(scan(tree), Quota(per_image=1), classes=("bird",))


def test_balance_fills_every_class_to_the_largest_evenly(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"a": 10, "b": 4, "c": 3})
    plan = make_plan(scan(root), Quota(balance=True), seed=3)

    assert new_per_class(plan) == {"b": 6, "c": 7}
    assert [r.total for r in plan.rows] == [10, 10, 10]
    per_image_b = [sum(o.copy_index is not None for o in j.outputs) for j in plan.jobs if j.class_name == "b"]
    assert sorted(per_image_b) == [1, 1, 2, 2]  # 6 over 4 images: base 1, remainder 2
    # The remainder goes to images picked by the seed, and the pick is stable.
    again = make_plan(scan(root), Quota(balance=True), seed=3)
    assert again == plan


def test_balance_with_classes_fills_only_those_to_the_largest_class_of_all(tmp_path: Path) -> None:
    """--balance --classes c: c rises to the largest class of the dataset (a's 10), b is copied as it is."""
    root = make_tree(tmp_path / "src", {"a": 10, "b": 4, "c": 3})
    plan = make_plan(scan(root), Quota(balance=True), seed=3, classes=("c",))
    assert [(r.class_name, r.originals, r.new, r.total, r.augmented) for r in plan.rows] == [
        ("a", 10, 0, 10, False), ("b", 4, 0, 4, False), ("c", 3, 7, 10, True),
    ]  # fmt: skip
    plan = make_plan(scan(root), Quota(balance=True), seed=3, classes=("b", "c"))
    assert new_per_class(plan) == {"b": 6, "c": 7}


def test_target_per_class_never_removes_images(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"a": 10, "b": 4})
    plan = make_plan(scan(root), Quota(target_per_class=7))
    assert new_per_class(plan) == {"b": 3}
    assert [(r.class_name, r.total) for r in plan.rows] == [("a", 10), ("b", 7)]


def test_balance_with_an_empty_selected_class_is_an_error(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"a": 2, "b": 0})
    with pytest.raises(PlanError, match=r"Class 'b' has no images in '.*src' to augment"):
        make_plan(scan(root), Quota(balance=True))


def test_split_layout_augments_train_only(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"train/a": 2, "val/a": 2, "test/a": 3})
    plan = make_plan(scan(root), Quota(per_image=3))
    assert [(r.split, r.originals, r.new, r.augmented) for r in plan.rows] == [
        ("train", 2, 6, True),
        ("val", 2, 0, False),
        ("test", 3, 0, False),
    ]


def test_no_originals_writes_only_new_images(tree: Path) -> None:
    plan = make_plan(scan(tree), Quota(per_image=1), originals=False)
    assert all(o.copy_index == 1 for j in plan.jobs for o in j.outputs)
    assert [r.originals for r in plan.rows] == [0, 0]


def test_name_collisions_are_resolved_deterministically(tmp_path: Path) -> None:
    write_image(tmp_path / "src" / "cat" / "a.jpg")
    write_image(tmp_path / "src" / "cat" / "a.png")
    write_image(tmp_path / "src" / "cat" / "b__aug001.png")
    write_image(tmp_path / "src" / "cat" / "b.png")
    plan = make_plan(scan(tmp_path / "src"), Quota(per_image=1), output_ext=".png")
    names = [o.rel_path for j in plan.jobs for o in j.outputs]
    assert names == [
        "cat/a.jpg", "cat/a__aug001.png",
        "cat/a.png", "cat/a_png__aug001.png",
        "cat/b.png", "cat/b_png__aug001.png",
        "cat/b__aug001.png", "cat/b__aug001__aug001.png",
    ]  # fmt: skip
    assert len(set(names)) == len(names)


def _names_checked_one_by_one(jobs) -> list[str] | None:
    """Every output's name from the rule stated plainly: a new image whose name (letter case aside)
    an original or an earlier new image takes gets ``<stem>_<ext>`` instead; None if that is taken too."""
    plain = [dataclasses.replace(j, renamed=()) for j in jobs]
    taken = {o.rel_path.casefold() for j in plain for o in j.outputs if o.copy_index is None}
    seen, names = set(), []
    for job in plain:
        for out in job.outputs:
            path = out.rel_path
            if out.copy_index is not None:
                if path.casefold() in taken or path.casefold() in seen:
                    stem, ext = posixpath.splitext(job.source)
                    path = f"{stem}_{ext.lstrip('.')}{out.rel_path[len(stem) :]}"
                    if path.casefold() in taken or path.casefold() in seen:
                        return None
                seen.add(path.casefold())
            names.append(path)
    return names


@pytest.mark.parametrize("output_ext", [None, ".png"])
@pytest.mark.parametrize("seed", range(12))
def test_collisions_are_found_without_comparing_every_name(tmp_path: Path, seed: int, output_ext) -> None:
    rng = random.Random(seed)
    stems = ["a", "A", "a_jpg", "a_png", "a__aug001", "a__AUG002", "a_jpg__aug001", "b", "b__aug1"]
    for folder in ("cat", "dog"):
        for stem in rng.sample(stems, 5):
            write_image(tmp_path / "src" / folder / f"{stem}{rng.choice(['.jpg', '.png', '.JPG'])}")
    dataset, quota = scan(tmp_path / "src"), Quota(per_image=rng.choice([1, 2, 1000]))
    items = sorted(dataset.items, key=lambda i: dataset.classes.index(i.class_name))  # plan order
    plain = [Job(i.rel_path, i.split, i.class_name, 0, True, quota.per_image, output_ext) for i in items]
    expected = _names_checked_one_by_one(plain)
    if expected is None:
        with pytest.raises(PlanError, match="a unique output name"):
            make_plan(dataset, quota, output_ext=output_ext)
        return
    outputs = [o for j in make_plan(dataset, quota, output_ext=output_ext).jobs for o in j.outputs]
    assert [o.rel_path for o in outputs] == expected
    new = [o.rel_path.casefold() for o in outputs if o.copy_index is not None]
    assert len(set(new)) == len(new) and not set(new) & {i.rel_path.casefold() for i in dataset.items}


def test_a_plan_holds_no_memory_per_output(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "src", {"cat": 3})
    small, large = make_plan(scan(root), Quota(per_image=10)), make_plan(scan(root), Quota(per_image=10_000))
    assert [dataclasses.replace(j, copies=0) for j in small.jobs] == [
        dataclasses.replace(j, copies=0) for j in large.jobs
    ]
    assert large.outputs == 3 * 10_001 and len(large.jobs[0].outputs) == 10_001


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"per_image": 1, "balance": True}, {"balance": True, "target_per_class": 3}],
)
def test_exactly_one_quota(kwargs: dict) -> None:
    with pytest.raises(PlanError, match="Choose exactly one quota"):
        Quota(**kwargs)


def test_negative_quota_is_refused() -> None:
    with pytest.raises(PlanError, match="--per-image must be 0 or more, got -1"):
        Quota(per_image=-1)


def test_a_copy_of_an_image_at_the_root_is_named_beside_it_not_at_the_filesystem_root(tmp_path: Path) -> None:
    """A labelled dataset may keep its images at its root (Hugging Face's imagefolder): their copies' names
    must stay relative, and the writer refuses any name that would leave the output (it once wrote /a__aug001.png)."""
    from expander.sinks.files import FileWriter

    job = Job("a.png", None, "", copies=2, run_seed=0)
    assert [o.rel_path for o in job.outputs] == ["a.png", "a__aug001.png", "a__aug002.png"]
    writer = FileWriter(str(tmp_path / "out"))
    for rel in ("/a__aug001.png", "../a.png", "x/../../a.png"):
        with pytest.raises(ValueError, match="would be written outside the output folder: refused"):
            writer._write(rel, b"data")
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "out").exists()
