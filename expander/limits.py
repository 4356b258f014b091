"""Default limits that keep one hostile file or one mistyped option from costing gigabytes or hours.

Plain constants, so the CLI's ``--help`` can show them without importing OpenCV.
"""

# Pillow's decompression-bomb error threshold (2 x its warning level): 179 megapixels, so a 108 MP phone
# photo passes while a 30000x30000 header (0.9 gigapixels, 2.7 GB decoded) is refused from its header.
DEFAULT_MAX_PIXELS = 178_956_970

# Ten million files is more than any dataset we have seen expanded in one run, and far less than a
# quota typed with three zeros too many (--per-image 1000000000).
DEFAULT_MAX_OUTPUTS = 10_000_000

# Pipeline files are a few kilobytes; a megabyte is already absurd.
MAX_PIPELINE_FILE_BYTES = 1_000_000

# Labels: one image's objects, and the memory their masks may take while they move. COCO's most crowded image
# has a few hundred objects; a file that gives one image 290,000 polygons is refused, not rasterised.
MAX_OBJECTS_PER_IMAGE = 10_000
MAX_MASK_BYTES = 1 << 30
