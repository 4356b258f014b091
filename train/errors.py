"""Training errors. The CLI prints ``Error: <message>`` and exits with status 2."""

from __future__ import annotations

from expander.errors import ExpanderError


class TrainError(ExpanderError):
    """The data or options cannot be used for training; the message says how to fix it."""
