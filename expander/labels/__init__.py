"""Labelled datasets: boxes, polygons, masks and keypoints that move with the pixels.

One class per label format (``yolo``: detection, segmentation, pose; ``coco``; ``voc``; ``masks``), each a
``base.LabelFormat``, listed in ``registry``, which chooses one per dataset. A format reads its layout into
the same ``dataset.Dataset`` class folders give, each ``Item`` carrying its image's ``Objects`` and the
dataset a ``LabelSet``; from there the run is the usual one. Workers turn a source's objects into
``instances.Instances`` (pixels), move them with the pixels (``moving``) and have the format render each
output's label files (``labelled``); when the run ends the format writes the dataset-level files (data.yaml,
the COCO JSON, VOC's lists) from what was written.

Adding a format: a module with a ``LabelFormat`` subclass, and its line in ``registry``.
"""
