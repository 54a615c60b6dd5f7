"""Project-wide conventions, declared once."""

from typing import Literal

Distance = Literal["l1", "l2"]
"""A stage loss's per-pixel distance (``sassid.losses.pixel_loss``, ``[stage] distance``): mean
absolute or mean squared error."""

PIXEL_MAX: float = 255.0
"""Pixels are float in [0, PIXEL_MAX], as the authors trained. The alpha thresholds (1 and 5)
are in these units, so every network, loss and metric works on this scale."""

DEMO_ISO: float = 6400.0
"""``sassid demo``'s noise: 23 dB of camera noise, close to the SIDD samples' 22.5 dB; at 12800
(19 dB) clipping at black alone shifts the noisy mean by up to 7 levels, a cast no
self-supervised model can undo."""
DEMO_MINUTES: float = 6.0
"""``sassid demo``'s training budget. Training ends on time; synthesis, denoising, scoring and
the report around it took about 33 s here, so the demo ends within 10 minutes on much slower
machines. Two more minutes (``sassid demo --minutes 8``, results/demo_8_minutes.md: 771/688/996
steps, U-Net 27.33 dB) gave 0.01 dB over the 6-minute demo in docs/demo (616/502/769 steps,
27.32 dB): not worth a third more waiting."""
