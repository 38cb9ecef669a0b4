"""Seeded procedural woven fabric with planted defects and their masks.

For tests, benchmarks and the demo on machines without the real data:

- :class:`FabricStyle`, :data:`FABRIC_PRESETS`, :func:`random_style`: how a fabric looks
  (weave, yarn pitch and colours, irregularity, hairiness, noise, illumination).
- :func:`render_fabric`: lines [a, b) of an endless roll, exact across block splits.
- :func:`plant_defects`: defects (hole, stain, oil spot, broken end/pick, knot, slub,
  thin place, foreign fibre) with masks and boxes, onto any grey/RGB uint8 image.
- :class:`FabricWeb`: an endless web with defects at a seeded rate, block by block
  (the station's synthetic camera source).
- :func:`write_mvtec_dataset`: a small data set in the MVTec AD folder layout.

Axes: rows are camera lines along the roll (warp yarns run along rows' direction,
i.e. vertically), columns run across the web.
"""

from training.data.fabric.dataset_writer import MANIFEST_NAME, write_mvtec_dataset
from training.data.fabric.defects import ALPHA_CUT, DEFECT_KINDS, DefectTruth
from training.data.fabric.errors import FabricDatasetError, FabricRenderError, FabricStyleError
from training.data.fabric.planting import PlantedDefects, plant_defects
from training.data.fabric.style import (
    FABRIC_PRESETS,
    GREY_PRESETS,
    WEAVES,
    Color,
    FabricStyle,
    preset,
    random_style,
    weave_pattern,
)
from training.data.fabric.weave import render_fabric
from training.data.fabric.web import DEFECT_REGION_LINES, FabricWeb, WebBlock

__all__ = [
    "ALPHA_CUT",
    "DEFECT_KINDS",
    "DEFECT_REGION_LINES",
    "FABRIC_PRESETS",
    "GREY_PRESETS",
    "MANIFEST_NAME",
    "WEAVES",
    "Color",
    "DefectTruth",
    "FabricDatasetError",
    "FabricRenderError",
    "FabricStyle",
    "FabricStyleError",
    "FabricWeb",
    "PlantedDefects",
    "WebBlock",
    "plant_defects",
    "preset",
    "random_style",
    "render_fabric",
    "weave_pattern",
    "write_mvtec_dataset",
]
