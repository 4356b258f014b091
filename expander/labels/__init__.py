"""Labelled datasets: detection boxes and segmentation masks that move with the pixels.

A labelled dataset is read by its format's module (``yolo``, ``coco``, ``voc``, ``masks``) into the
same ``scan.Dataset`` the class-folder layout gives, with each ``Item`` carrying its image's
``Objects`` and the dataset a ``LabelSet``. From there the run is the usual one: ``plan`` chooses
copies by object class, workers move the labels with the pixels (``moving``) and write each output's
label file beside its image (``render``), and the format's ``finish`` writes the dataset-level files
(YOLO's data.yaml, COCO's annotation JSON, VOC's ImageSets lists) from what is on disk.
"""

from __future__ import annotations

from expander.labels.objects import FORMATS, LabelSet, Objects

__all__ = ["FORMATS", "LabelSet", "Objects"]
