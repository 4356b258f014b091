"""The dev lock (requirements/dev.txt, from `uv pip compile`) fits pyproject.toml: every requirement of the
core and of the dev, ray and docs extras is pinned there to a version its bounds allow. A bound changed
without the lock, or the lock edited by hand, fails here; whether pip would backtrack without the lock is
.ci/check-resolver's to say (it needs the package index)."""

from __future__ import annotations

import re

import pytest
from conftest import REPO
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
LOCKED_EXTRAS = ("dev", "ray", "docs")


def requirements() -> list[Requirement]:
    """The core's and the locked extras' requirements, extras of this project expanded."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name = canonicalize_name(project["name"])
    found, pending, seen = [], list(LOCKED_EXTRAS), set()
    texts = list(project["dependencies"])
    while pending:
        extra = pending.pop()
        if extra not in seen:
            seen.add(extra)
            texts += project["optional-dependencies"][extra]
    for text in texts:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == name:
            pending = [e for e in requirement.extras if e not in seen]
            for extra in pending:
                seen.add(extra)
                found += [Requirement(t) for t in project["optional-dependencies"][extra]]
        else:
            found.append(requirement)
    return found


def locked() -> dict[str, list[str]]:
    """Package -> the versions the lock pins for this Python (one per marker branch that applies)."""
    environment = default_environment()
    pins: dict[str, list[str]] = {}
    for line in (REPO / "requirements" / "dev.txt").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)\s*(?:;\s*(.*))?$", line)
        if match is None:
            continue
        name, version, marker = match.groups()
        if marker and not Requirement(f"x; {marker}").marker.evaluate(environment):  # type: ignore[union-attr]
            continue
        pins.setdefault(canonicalize_name(name.split("[")[0]), []).append(version)
    return pins


def test_the_lock_pins_every_requirement_within_its_bounds() -> None:
    pins = locked()
    problems = []
    for requirement in requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        versions = pins.get(canonicalize_name(requirement.name), [])
        if not versions:
            problems.append(f"{requirement.name} is not in requirements/dev.txt")
        elif not any(requirement.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{requirement} but the lock pins {', '.join(versions)}")
    assert problems == [], "requirements/dev.txt is out of date (docs/development.md says how to rebuild it)"


def test_the_check_sees_the_s3_stack() -> None:
    # Guards the test above against a parser that silently reads nothing.
    names = {canonicalize_name(r.name) for r in requirements()}
    assert {"boto3", "aiobotocore", "s3fs", "moto", "tensorflow", "ray", "mkdocs"} <= names
    assert {"boto3", "botocore", "aiobotocore"} <= set(locked())
