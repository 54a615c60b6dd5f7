"""A self-contained HTML report of what a model did: before/after sliders, full-resolution
crops with alpha and both teachers, scores, and the training story of the run.

``write_report(model, images, "report.html")`` for photos on disk; ``ReportBuilder`` when the
caller already has the outputs (``sassid denoise --report``, ``evaluate --report``, the demo).
"""

from sassid.report.build import (
    DEFAULT_PHOTO_BYTES,
    MIN_PHOTO_BYTES,
    PAGE_BYTES,
    ROW_BYTES,
    ReportBuilder,
    ReportSummary,
    iter_photos,
    write_report,
)
from sassid.report.noise import NOISE_ESTIMATOR, noise_sigma

__all__ = [
    "DEFAULT_PHOTO_BYTES",
    "MIN_PHOTO_BYTES",
    "NOISE_ESTIMATOR",
    "PAGE_BYTES",
    "ROW_BYTES",
    "ReportBuilder",
    "ReportSummary",
    "iter_photos",
    "noise_sigma",
    "write_report",
]
