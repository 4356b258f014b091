"""MkDocs hook: the CLI reference (docs/cli.md) rendered from the Typer apps themselves, and the home page
(docs/index.md) rendered from README.md, so neither is a second copy to keep in step.

A page line ``<!-- cli-reference: expander -->`` (or ``train``) becomes one section per command:
its usage line, its help text and a table of its options, read from the same click objects that
parse the command line, so the reference cannot drift from the code. ``commands()`` lists every
command and its options for tests/test_docs.py. Typer 0.28 ships its own copy of click, so commands
and parameters are recognised by what they have (``commands``, ``param_type_name``), not by class.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

_MARKER = re.compile(r"^<!-- cli-reference: (expander|train) -->$", re.M)
_README = re.compile(r"^<!-- readme -->$", re.M)
_OPTIONS = re.compile(r"^<!-- expand-options -->$", re.M)
_ZOO = re.compile(r"^<!-- zoo -->$", re.M)
ROOT = Path(__file__).resolve().parent.parent


def apps() -> dict[str, typer.Typer]:
    from expander.cli import app as expander_app
    from train.cli import app as train_app

    return {"expander": expander_app, "train": train_app}


def commands(prog: str) -> Iterator[tuple[str, Any]]:
    """(full command name, click command) for every command of an app, sub-commands included."""
    root = typer.main.get_command(apps()[prog])
    yield from _walk(prog, root)


def _walk(name: str, command: Any) -> Iterator[tuple[str, Any]]:
    if hasattr(command, "commands"):
        if command.callback is not None and name.count(" ") > 0:  # a group that runs itself (expander presets)
            yield name, command
        for sub_name, sub in sorted(command.commands.items()):
            yield from _walk(f"{name} {sub_name}", sub)
    else:
        yield name, command


def _options(command: Any) -> list[Any]:
    return [p for p in command.params if p.param_type_name == "option"]


def option_names(command: Any) -> list[str]:
    """The long names of a command's options (``--per-image``, ``--no-originals``...), help excluded."""
    return [name for names in option_groups(command) for name in names]


def option_groups(command: Any) -> list[list[str]]:
    """Per option, its long names (its short one if it has none): ``["--originals", "--no-originals"]``, ``["-n"]``.

    Help is left out: every command has it.
    """
    groups = []
    for param in _options(command):
        if param.name == "help":
            continue
        names = [*param.opts, *param.secondary_opts]
        groups.append([o for o in names if o.startswith("--")] or names)
    return groups


def root_options(prog: str) -> list[str]:
    """The options given before any command (``train --verbose compare ...``)."""
    return option_names(typer.main.get_command(apps()[prog]))


def render(prog: str) -> str:
    root = typer.main.get_command(apps()[prog])
    parts = [_render_options(prog, root, "options before any command")]
    for name, command in commands(prog):
        parts.append(_render_command(name, command))
    return "\n".join(parts)


def _render_command(name: str, command: Any) -> str:
    with command.context_class(command, info_name=name) as ctx:
        usage = " ".join(command.collect_usage_pieces(ctx))
    help_text = (command.help or "").strip()
    lines = [f"## `{name}`", "", f"```\n{name} {usage}\n```", "", _plain(help_text), ""]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    if arguments:
        lines += ["| argument | description |", "|---|---|"]
        lines += [
            f"| `{(p.metavar or p.name or '').upper()}` | {_cell(getattr(p, 'help', '') or '')} |" for p in arguments
        ]
        lines.append("")
    lines.append(_options_table(command))
    return "\n".join(lines)


def _render_options(prog: str, root: Any, title: str) -> str:
    return f"## `{prog}`: {title.lower()}\n\n{_options_table(root)}"


def _options_table(command: Any) -> str:
    rows = ["| option | type | default | description |", "|---|---|---|---|"]
    for param in _options(command):
        if param.hidden:
            continue
        flags = " / ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        kind = "flag" if param.is_flag else param.type.name.lower()
        if hasattr(param.type, "choices"):
            kind = " \\| ".join(f"`{c}`" for c in param.type.choices)
        default = "" if param.default is None or (param.is_flag and param.default is False) else f"`{param.default}`"
        if hasattr(param.default, "value"):
            default = f"`{param.default.value}`"
        rows.append(f"| {flags} | {kind} | {default} | {_cell(param.help or '')} |")
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    return _escape_html(" ".join(text.split())).replace("|", "\\|")


def _plain(help_text: str) -> str:
    """Typer help is Markdown already; keep paragraphs, drop the indentation docstrings carry."""
    return _escape_html("\n".join(line.strip() for line in help_text.splitlines()))


def _escape_html(text: str) -> str:
    """``SRC/<class>/<image>`` would read as HTML tags; escape ``<`` outside code spans."""
    parts = text.split("`")
    return "`".join(p.replace("<", "&lt;") if i % 2 == 0 else p for i, p in enumerate(parts))


def readme() -> str:
    """README.md as a page of the site: its links into docs/ made relative to docs/."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.replace("](docs/)", "]()").replace("](docs/", "](")


def expand_options() -> str:
    """The table of ``expander.expand``'s options, from ``ExpandOptions``' declarations."""
    from expander.options import FIELD_DEFAULTS, OPTION_NAMES, cli_of

    rows = ["| option | default | description |", "|---|---|---|"]
    for name in OPTION_NAMES:
        default = FIELD_DEFAULTS[name]
        shown = "" if default is None else f"`{default!r}`"
        rows.append(f"| `{name}` | {shown} | {_cell(cli_of(name).help)} |")
    return "\n".join(rows) + "\n"


def zoo() -> str:
    """The published datasets the tests rebuild (tests/zoo.py) and what expander makes of each."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("zoo", ROOT / "tests" / "zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["zoo"] = module  # its dataclasses look their module up while they are made
    spec.loader.exec_module(module)
    rows = ["| dataset | repository (commit, licence) | layout | read as | images | objects |", "|---" * 6 + "|"]
    for p in module.ZOO:
        images = ", ".join(f"{split or 'all'} {n}" for split, n in p.images.items())
        objects = ", ".join(f"{name} {n}" for name, n in p.objects.items())
        verdict = (
            "class folders" if p.detected == "folders" else f"`{p.detected}`" if p.detected
            else "refused: " + ("; ".join(sorted(set(p.refused))) or p.refusal.rstrip(" in") + " disagree")
        )  # fmt: skip
        rows.append(f"| {p.name} | {p.repository} ({p.commit}, {p.licence}) | {_cell(p.layout)} | {_cell(verdict)} | "
                    f"{images} | {objects} |")  # fmt: skip
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = _README.sub(lambda m: readme(), markdown)
    markdown = _ZOO.sub(lambda m: zoo(), markdown)
    markdown = _OPTIONS.sub(lambda m: expand_options(), markdown)
    return _MARKER.sub(lambda m: render(m.group(1)), markdown)
