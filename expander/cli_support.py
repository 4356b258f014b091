"""What both command-line apps (``expander`` and ``train``) share: Typer settings, --version, errors, progress.

Light on purpose: ``--help`` imports this, so it imports nothing heavy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Optional, TypeVar

import typer

T = TypeVar("T")


def _plain_usage_metavars() -> None:
    """Usage lines as POSIX writes them (``expander expand [OPTIONS] SRC``), not Typer 0.28's ``{SRC}``.

    Typer marks required arguments with braces and offers no setting for it; this keeps its own
    rendering and drops the braces it adds around a metavar.
    """
    from typer.core import TyperArgument

    typer_metavar = TyperArgument.make_metavar

    def make_metavar(self, ctx, *, usage: bool = False) -> str:
        var = typer_metavar(self, ctx, usage=usage)
        return var[1:-1] if usage and var.startswith("{") and var.endswith("}") else var

    setattr(TyperArgument, "make_metavar", make_metavar)  # noqa: B010 - a method replaced on purpose


_plain_usage_metavars()

# -h as well as --help; every command's usage line names its arguments (SRC, not {src}).
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def make_app(help: str) -> typer.Typer:
    return typer.Typer(
        no_args_is_help=True, add_completion=True, help=help, rich_markup_mode="markdown",
        context_settings=CONTEXT_SETTINGS,
    )  # fmt: skip


def _show_version(ctx: typer.Context, value: bool) -> None:
    if value:
        from expander import __version__

        typer.echo(f"{ctx.find_root().info_name} {__version__}")
        raise typer.Exit


Version = Annotated[
    Optional[bool],
    typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
]


Progress = Annotated[
    Optional[bool],
    typer.Option(
        "--progress/--no-progress",
        help="Show a progress bar on stderr. [default: only when stderr is a terminal]",
        show_default=False,
    ),
]


def show_progress(progress: bool | None, quiet: bool = False) -> bool:
    """A progress bar only when asked for, or by default on a terminal: never ``\\r`` frames in a log file."""
    if quiet:
        return False
    return progress if progress is not None else sys.stderr.isatty()


def guard(call: Callable[[], T]) -> T:
    """Run a library call; map domain errors (expander's and train's) to 'Error: ...' and their exit status."""
    from expander.errors import ExpanderError

    try:
        return call()
    except ExpanderError as e:
        typer.echo(f"Error: {e}", err=True)
        raise typer.Exit(e.exit_code) from None
