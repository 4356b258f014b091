"""Sharded output: ``expand --shards webdataset|tfrecord`` writes samples into shard files, not one file each.

Workers return each output's bytes instead of writing a file (``execute.Worker`` with
``Settings.shards``); ``sink.ShardSink`` in the main process packs them into shards in a fixed order,
so the shards are byte-identical whatever the worker count or backend:

* each split gets its own shard set, ``<split>/shard-000000.tar`` (``.tfrecord``), numbered in order;
* jobs (a source and its copies) are taken in a seeded shuffled order, so a shard mixes classes; a
  shard holds whole jobs, packed until it reaches ``--shard-size`` (samples, or bytes like ``100MB``);
* inside a shard the samples are in a seeded shuffled order again, so copies of one image do not sit
  together;
* a shard file appears complete or not at all (written whole, then renamed), and shards are written in
  order, so after a crash the shards on disk are a complete prefix of each split's set: ``--resume``
  keeps them and redoes the jobs of the rest.

``shards.json`` (the index: format, classes, and per split its shards with samples, bytes and SHA-256)
is written when the run ends; the manifest names each output's shard and key.
"""

from __future__ import annotations

from expander.shards.formats import FORMATS, SampleRecord

__all__ = ["FORMATS", "SampleRecord"]
