"""Domain errors. Each message says what went wrong, where, and how to fix it.

The CLI prints ``Error: <message>`` and exits with ``ExpanderError.exit_code``.
Every error here is raised before any output is written.
"""

from __future__ import annotations

import importlib.util

DISTRIBUTION = "dataset-expander"  # the name pip installs; the package imports as expander


def install_hint(extra: str) -> str:
    """How to install an optional part: ``pip install 'dataset-expander[train]'``, and from a checkout."""
    return f"pip install '{DISTRIBUTION}[{extra}]' (in a checkout: pip install -e '.[{extra}]')"


class ExpanderError(Exception):
    """Base class: the command cannot run as asked (exit status 2)."""

    exit_code = 2


class LayoutError(ExpanderError):
    """The source folder is missing, empty, or not laid out as class folders."""


class PlanError(ExpanderError):
    """The quota options are inconsistent or name classes that do not exist."""


class PipelineError(ExpanderError):
    """A preset name or pipeline file is invalid."""


class OutputError(ExpanderError):
    """The output folder cannot be used (inside the source, not empty, different run)."""


class EmptyCopy(Exception):
    """Every object of a labelled source left this copy: it is recorded as ``empty``, not written as a background
    image (``--keep-empty`` writes it). Raised per output by a worker, never out of a run."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, timeout, Slurm, Kubernetes), raised where Ctrl-C would be, so it is handled the same way.

    The CLI installs the handler; it exits with status 143 (128 + SIGTERM) instead of 130.
    """


class MissingExtra(ExpanderError):
    """A command needs an optional extra that is not installed (exit status 2)."""

    def __init__(self, what: str, extra: str, modules: list[str]):
        super().__init__(
            f"{what} needs {', '.join(modules)}, which the core install leaves out. Install them with: "
            f"{install_hint(extra)}"
        )


def require(what: str, extra: str, *modules: str) -> None:
    """Raise MissingExtra unless every module can be imported."""

    def absent(module: str) -> bool:
        try:
            return importlib.util.find_spec(module) is None
        except (ImportError, ValueError):  # a package that cannot even be looked up is not usable either
            return True

    missing = [m for m in modules if absent(m)]
    if missing:
        raise MissingExtra(what, extra, missing)
