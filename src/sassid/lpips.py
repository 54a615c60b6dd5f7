"""LPIPS is not computed: it needs ImageNet AlexNet weights that no installable package ships.

A user who has ``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth`` could add it; until that
is built, ``--lpips`` says plainly that it was skipped rather than report numbers from a random
backbone.
"""

from __future__ import annotations

__all__ = ["lpips_note"]


def lpips_note() -> str:
    return (
        "LPIPS skipped: not implemented yet (it needs the AlexNet backbone weights locally, "
        "and random-backbone numbers would be meaningless)"
    )
