"""What both command-line apps (``expander`` and ``train``) share: Typer settings, --version, errors, progress.

Light on purpose: ``--help`` imports this, so it imports nothing heavy.
"""

from __future__ import annotations

import enum
import functools
import inspect
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Optional, TypeVar

import typer
from typer.core import TyperArgument

from expander import __version__
from expander.errors import ExpanderError, Terminated

if TYPE_CHECKING:
    from expander.options import Cli

T = TypeVar("T")


def _plain_usage_metavars() -> None:
    """Usage lines as POSIX writes them (``expander expand [OPTIONS] SRC``), not Typer 0.28's ``{SRC}``.

    Typer marks required arguments with braces and offers no setting for it; this keeps its own
    rendering and drops the braces it adds around a metavar.
    """
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


def printable(text: str, lines: bool = False) -> str:
    """A name or message as a terminal shows it safely: control characters (a CR, an escape sequence, a newline
    in a file name) escaped as Python writes them; ``lines`` keeps the newlines of a message of several lines."""
    return "".join(c if c.isprintable() or c == " " or (lines and c == "\n") else repr(c)[1:-1] for c in str(text))


def guard(call: Callable[[], T], stopped: str = "") -> T:
    """Run a library call; map domain errors (expander's and train's) to 'Error: ...' and their exit status,
    and Ctrl-C or SIGTERM (``handle_sigterm``) to 'Interrupted.' or 'Terminated.', then ``stopped`` (what
    to do next), with status 130 or 143."""
    try:
        return call()
    except ExpanderError as e:
        typer.echo(f"Error: {printable(str(e), lines=True)}", err=True)
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt as e:
        what = "Terminated" if isinstance(e, Terminated) else "Interrupted"
        typer.echo(f"{what}. {stopped}".rstrip(), err=True)
        raise typer.Exit(143 if isinstance(e, Terminated) else 130) from None


def handle_sigterm() -> None:
    """Turn SIGTERM into ``errors.Terminated`` (a KeyboardInterrupt): stop, clean up, write what is done.

    A second SIGTERM during that cleanup is ignored; SIGKILL still ends the process at once.
    """

    def terminate(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    signal.signal(signal.SIGTERM, terminate)


def with_parameters(
    declared: dict[str, tuple[Any, Any]], into: str, pack: Callable[[dict[str, Any]], Any]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command options declared elsewhere: ``declared`` maps each name to (annotation, default).

    Typer reads a command's signature; the new one is the command's own arguments, then the declared
    options, then its own options, less ``into``. The wrapper takes the declared options' values out,
    and passes ``pack(values)`` to the command as ``into``.
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != into]
        keyword = inspect.Parameter.KEYWORD_ONLY
        new = [inspect.Parameter(name, keyword, default=d, annotation=a) for name, (a, d) in declared.items()]
        arguments = [p for p in own if p.default is inspect.Parameter.empty]
        rest = [p.replace(kind=keyword) for p in own if p.default is not inspect.Parameter.empty]

        @functools.wraps(command)
        def wrapper(**values: Any) -> None:
            chosen = {name: values.pop(name) for name in declared}
            command(**{into: pack(chosen)}, **values)

        parameters = [*arguments, *new, *rest]
        wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper

    return decorate


def typer_option(name: str, cli: Cli, default: Any) -> tuple[Any, Any]:
    """(Annotated type, default) of a Typer parameter from an option's declaration (``expander.options.Cli``)."""
    kind: Any = cli.type if cli.choices is None else choice_enum(name, cli.choices)
    if cli.choices is not None:
        default = None if default is None else kind(default)
    if cli.argument:
        return Annotated[kind, typer.Argument(metavar=cli.metavar, help=cli.help, show_default=False)], ...
    flags = cli.flags or ((f"--{name.replace('_', '-')}",) if kind is bool else ())
    extra: dict[str, Any] = {"help": cli.help}
    if cli.metavar:
        extra["metavar"] = cli.metavar
    if cli.min is not None:
        extra["min"] = cli.min
    if cli.max is not None:
        extra["max"] = cli.max
    if cli.exists:
        extra |= {"exists": True, "dir_okay": False}
    annotation = kind if default is not None else Optional[kind]
    return Annotated[annotation, typer.Option(*flags, **extra)], default


def plain_value(value: Any, cli: Cli) -> Any:
    """A Typer value as the library takes it: a choice's string, a comma-separated list as a tuple."""
    if isinstance(value, enum.Enum):
        return value.value
    if cli.listed and isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip()) or None
    return value


def choice_enum(name: str, choices: tuple[str, ...]) -> type[enum.Enum]:
    """A str Enum of ``choices`` for Typer (``--backend local|ray``), made from the options' tuple."""
    camel = "".join(part.title() for part in name.split("_"))
    return enum.Enum(camel, {c: c for c in choices}, type=str)  # type: ignore[return-value]  # names from data
