"""Installed versions read from dist-info folder names agree with importlib.metadata."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from expander.versions import installed_version


@pytest.mark.parametrize("distribution", ["albumentations", "numpy", "opencv-python-headless", "dataset-expander"])
def test_the_version_is_the_one_importlib_metadata_reports(distribution: str) -> None:
    assert installed_version(distribution) == version(distribution)


def test_names_are_compared_normalised_and_a_missing_distribution_is_none() -> None:
    assert installed_version("OpenCV_Python.Headless") == version("opencv-python-headless")
    assert installed_version("no-such-distribution-expander-test") is None
