"""The three networks of the method, and conversion to and from the authors' weight layout."""

from sassid.nets.bnn import BNN
from sassid.nets.lan import LAN
from sassid.nets.reference_format import (
    ReferenceWeightsError,
    load_reference_weights,
    reference_key_map,
    to_reference_state_dict,
)
from sassid.nets.unet import UNet

__all__ = [
    "BNN",
    "LAN",
    "UNet",
    "ReferenceWeightsError",
    "load_reference_weights",
    "reference_key_map",
    "to_reference_state_dict",
]
