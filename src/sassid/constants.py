"""Project-wide conventions, declared once."""

PIXEL_MAX: float = 255.0
"""Pixels are float in [0, PIXEL_MAX], as the authors trained. The alpha thresholds (1 and 5)
are in these units, so every network, loss and metric works on this scale."""

DEMO_ISO: float = 6400.0
"""``sassid demo``'s noise: 23 dB of camera noise, close to the SIDD samples' 22.5 dB; at 12800
(19 dB) clipping at black alone shifts the noisy mean by up to 7 levels, a cast no
self-supervised model can undo."""
DEMO_MINUTES: float = 8.0
"""``sassid demo``'s training budget. Training ends on time; synthesis, denoising, scoring and
the report around it took 33 s here with a 6-minute budget (docs/demo gives the whole demo's
time), so the demo stays under 10 minutes on a machine 1.7x slower than this one."""
