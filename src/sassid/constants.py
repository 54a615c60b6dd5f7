"""Project-wide conventions, declared once."""

PIXEL_MAX: float = 255.0
"""Pixels are float in [0, PIXEL_MAX], as the authors trained. The alpha thresholds (1 and 5)
are in these units, so every network, loss and metric works on this scale."""
