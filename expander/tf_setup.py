"""What TensorFlow reads from the environment once, at start: set before expander or train imports it.

Light on purpose (``import train`` runs it, and ``train --help`` imports train).
"""

from __future__ import annotations

import os


def tensorflow_defaults() -> None:
    """TensorFlow's start-up log off, and its oneDNN kernels on: TensorFlow turns them on by itself only on a
    CPU with AVX-512 or AMX, and on an AVX2 one they train 1.3x faster (docs/performance.md). Values already in
    the environment win (TF_ENABLE_ONEDNN_OPTS=0 keeps TensorFlow's Eigen kernels)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
