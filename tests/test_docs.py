"""The docs match the code: every command and option is explained in a guide, and every documented one exists.

The CLI reference (docs/cli.md) is generated from the Typer apps by docs/hooks.py, so it is complete by
construction; these tests hold the hand-written guides to the same standard (sqlite-utils' test_docs.py).
"""

from __future__ import annotations

import importlib.util
import re

import pytest
from conftest import REPO

DOCS = REPO / "docs"
GUIDES = [*sorted(p for p in DOCS.glob("*.md") if p.name != "cli.md"), REPO / "README.md"]


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()
COMMANDS = {name: command for prog in ("expander", "train") for name, command in hooks.commands(prog)}
GLOBAL_OPTIONS = set(hooks.root_options("expander")) | set(hooks.root_options("train"))


def guide_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in GUIDES)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_its_options_are_in_a_guide(name: str) -> None:
    text = guide_text()
    assert f"`{name}" in text or f"\n{name} " in text, f"'{name}' is not explained in any of {[p.name for p in GUIDES]}"
    missing = [
        " / ".join(names)
        for names in hooks.option_groups(COMMANDS[name])
        if not any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text) for o in names)  # one of a pair is enough
    ]
    assert missing == [], f"'{name}' options missing from the guides: {', '.join(missing)}"


def test_options_before_any_command_are_in_a_guide() -> None:
    text = guide_text()
    assert [o for o in sorted(GLOBAL_OPTIONS) if o not in text] == []


def documented_invocations() -> list[tuple[str, int, str]]:
    """(file, line number, command line) for every `expander ...`/`train ...` the docs show."""
    found = []
    pattern = re.compile(r"(?:^|`|\$ |&& )((?:expander|train) [^`\n]*)")
    for path in GUIDES:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in pattern.finditer(line):
                found.append((path.name, number, match.group(1).split("#")[0].split("&&")[0].strip()))
    return found


def test_every_documented_option_exists() -> None:
    problems = []
    for file, number, line in documented_invocations():
        words = line.split()
        name = next((" ".join(words[:n]) for n in (3, 2) if " ".join(words[:n]) in COMMANDS), None)
        if name is None:
            if words[1].startswith("-") and words[1] not in GLOBAL_OPTIONS | {"--help", "-h"}:
                problems.append(f"{file}:{number}: '{line}' has no option {words[1]}")
            elif words[1] in {"expand", "inspect", "preview", "verify"}:
                problems.append(f"{file}:{number}: '{line}' is not a command")
            continue
        valid = set(hooks.option_names(COMMANDS[name])) | GLOBAL_OPTIONS | {"--help"}
        problems += [
            f"{file}:{number}: {name} has no option {word.split('=')[0]}"
            for word in words
            if word.startswith("--") and word.split("=")[0] not in valid
        ]
    assert problems == []


def test_the_docs_test_sees_documented_commands() -> None:
    # Guards the two tests above against a pattern that silently matches nothing.
    lines = [line for _, _, line in documented_invocations()]
    assert any(line.startswith("expander expand ") for line in lines)
    assert any(line.startswith("train compare ") for line in lines)
    assert len(COMMANDS) == 17


def _code_spans(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


def _defined_tests() -> set[str]:
    return {m for path in (REPO / "tests").glob("test_*.py") for m in re.findall(r"^def (test_\w+)", path.read_text(),
                                                                                     re.MULTILINE)}  # fmt: skip


def test_every_test_the_guarantees_name_exists() -> None:
    """docs/guarantees.md names the test that would fail if a promise broke: each one must exist."""
    spans = _code_spans((DOCS / "guarantees.md").read_text(encoding="utf-8"))
    named = {s.split("::")[-1].split("[")[0].split(" ")[0] for s in spans if re.match(r"(tests/\S+::)?test_\w+", s)}
    files = {s.split("::")[0] for s in spans if s.startswith("tests/")}
    assert named and named <= _defined_tests(), sorted(named - _defined_tests())
    assert all((REPO / f).is_file() for f in files), sorted(f for f in files if not (REPO / f).is_file())


def test_every_function_the_docs_name_exists() -> None:
    """A `module.name` in a guide (a module of expander or train) resolves: renames reach the docs."""
    modules: dict[str, list[str]] = {}
    for package in ("expander", "train"):
        for p in (REPO / package).iterdir():
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file():
                modules.setdefault(p.stem, []).append(f"{package}.{p.stem}")
    files = {"yaml", "json", "keras", "csv", "txt", "md", "png", "jpg", "py", "lock", "tar", "parquet", "tfrecord"}
    missing = []
    for span in sorted(_code_spans(guide_text())):
        parts = span.split(".")
        if not re.fullmatch(r"[a-z_]+(\.[A-Za-z_]+)+", span) or parts[0] not in modules or parts[-1] in files:
            continue
        if all(_resolve(module, parts[1:])[1] for module in modules[parts[0]]):
            missing.append(span)
    assert not missing, missing


def _resolve(module_name: str, names: list[str]):
    """Import the longest module prefix of ``names`` under ``module_name``, then follow attributes."""
    import importlib

    target = importlib.import_module(module_name)
    while names and hasattr(target, "__path__") and importlib.util.find_spec(f"{target.__name__}.{names[0]}"):
        target = importlib.import_module(f"{target.__name__}.{names[0]}")
        names = names[1:]
    while names and hasattr(target, names[0]):
        target = getattr(target, names[0])
        names = names[1:]
    return target, names


def _module_map() -> set[str]:
    """The modules the development page's map lists, as paths: ``expander/labels/yolo.py``."""
    text = (DOCS / "development.md").read_text(encoding="utf-8")
    block = text.split("```\n", 2)[1]
    listed, package, subpackage = set(), "", ""
    for line in block.splitlines():
        name = line.split()[0] if line.strip() else ""
        depth = len(line) - len(line.lstrip())
        if depth == 0 and name.endswith("/"):
            package, subpackage = name, ""
        elif depth == 2 and name.endswith("/"):
            subpackage = name
        elif name.endswith(".py") and depth in (2, 4):
            listed.add(package + (subpackage if depth == 4 else "") + name)
    return listed


def test_the_module_map_lists_every_module_and_no_other() -> None:
    modules = {p.relative_to(REPO).as_posix() for package in ("expander", "train")
               for p in (REPO / package).rglob("*.py") if p.name != "__init__.py"}  # fmt: skip
    assert _module_map() == modules


def test_the_label_formats_page_names_every_registered_format_and_no_other() -> None:
    """docs/labels.md's --labels list and its formats table say what the registry reads: a format added to the
    registry but not to the page, or called unsupported there, fails here."""
    from expander.labels import registry

    text = (REPO / "docs" / "labels.md").read_text(encoding="utf-8")
    listed = re.search(r"`--labels\s+([\w|-]+)` states it", text)
    assert listed is not None and sorted(listed[1].split("|")) == sorted(registry.NAMES)
    formats = text.split("## Formats", 1)[1].split("\n### ", 1)[0]
    rows = {
        name for row in re.findall(r"^\| (`[^|]+`) \|", formats, flags=re.M) for name in re.findall(r"`([\w-]+)`", row)
    }
    assert rows - {"--labels"} == set(registry.NAMES)  # the header names the column
    unsupported = text.split("## Not supported yet", 1)[1]
    assert not [name for name in registry.NAMES if f"`--labels {name}`" in unsupported]
