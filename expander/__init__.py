"""expander: reproducible, parallel, class-aware image dataset expansion.

    >>> from expander import expand
    >>> result = expand("data/dogs_cats", per_image=20, classes=["dog"])

Names are imported on first use so that ``import expander`` (and the CLI's ``--help``)
stays fast: albumentations alone takes about a second to import.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# albumentations asks PyPI for a newer version on every import (0.2-0.5 s offline, longer on a slow
# network, and in every worker). An offline tool must not phone home; users can still set it to 0.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
__all__ = ["PRESETS", "ExpandResult", "ExpanderError", "__version__", "expand", "scan"]

if TYPE_CHECKING:
    from expander.api import ExpandResult, expand
    from expander.errors import ExpanderError
    from expander.pipeline import PRESETS
    from expander.scan import scan

_LAZY = {
    "expand": "expander.api",
    "ExpandResult": "expander.api",
    "ExpanderError": "expander.errors",
    "PRESETS": "expander.pipeline",
    "scan": "expander.scan",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'expander' has no attribute '{name}'")
