"""sassid: self-supervised denoising of real photographs from noisy images alone.

Implements Li et al., "Spatially Adaptive Self-Supervised Learning for Real-World Image
Denoising" (CVPR 2023): a blind-neighbourhood network (BNN) and a locally aware network (LAN)
teach a U-Net denoiser, with a per-pixel weight alpha from the local flatness of the BNN output.
All tensors are float32 NCHW RGB in the pixel scale [0, PIXEL_MAX] = [0, 255].
"""

from sassid.constants import PIXEL_MAX

__version__ = "0.1.0"
__all__ = ["PIXEL_MAX", "__version__"]
