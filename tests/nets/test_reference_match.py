"""Every tensor of the authors' implementation in shared/reference is reproduced (rel. err < 1e-5).

Run as a script to print the measured relative error of each case:
    python -m tests.nets.test_reference_match
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor

from sassid.adaptive import alpha_map, local_std
from sassid.losses import bnn_loss, denoiser_loss, lan_loss
from sassid.nets import BNN, LAN, UNet, load_reference_weights

TOLERANCE = 1e-5


def relative_error(ours: Tensor, ref: Tensor) -> float:
    return float((ours - ref).norm() / ref.norm())


def _cases(ref: dict, lan_path: Path) -> dict[str, Callable[[], tuple[Tensor, Tensor]]]:
    def net(ctor: Callable[[], torch.nn.Module], state: object) -> torch.nn.Module:
        return load_reference_weights(ctor(), state).eval()  # type: ignore[arg-type]

    def run(ctor, state, inp: str, out: str):  # noqa: ANN001, ANN202
        return lambda: (net(ctor, ref[state] if state in ref else state)(ref[inp]), ref[out])

    def stage_losses() -> dict[str, tuple[Tensor, Tensor]]:
        x = ref["input_64"]
        bnn_out = net(lambda: BNN(9), ref["bnn9_state"])(x)
        lan_out = net(lambda: LAN(3), lan_path)(x)
        unet_out = net(UNet, ref["unet_state"])(x)
        return {
            "loss_stage1_64": (bnn_loss(bnn_out, x), ref["loss_stage1_64"]),
            "loss_stage2_64": (lan_loss(lan_out, bnn_out), ref["loss_stage2_64"]),
            "loss_stage3_64": (
                denoiser_loss(unet_out, bnn_out, lan_out, alpha_map(bnn_out)),
                ref["loss_stage3_64"],
            ),
        }

    cases = {
        "bnn9_out_64": run(lambda: BNN(9), "bnn9_state", "input_64", "bnn9_out_64"),
        "bnn9_out_96": run(lambda: BNN(9), "bnn9_state", "input_96", "bnn9_out_96"),
        "bnn1_out_64": run(lambda: BNN(1), "bnn1_state", "input_64", "bnn1_out_64"),
        "bnn13_out_64": run(lambda: BNN(13), "bnn13_state", "input_64", "bnn13_out_64"),
        "unet_out_64": run(UNet, "unet_state", "input_64", "unet_out_64"),
        "unet_out_64x96": run(UNet, "unet_state", "input_64x96", "unet_out_64x96"),
        "lan3_random_out_64": run(
            lambda: LAN(3), "lan3_random_state", "input_64", "lan3_random_out_64"
        ),
        "lan5_random_out_64": run(
            lambda: LAN(5), "lan5_random_state", "input_64", "lan5_random_out_64"
        ),
        "lan3_official_out_64": run(lambda: LAN(3), lan_path, "input_64", "lan3_official_out_64"),
        "lan3_official_out_structured_64": run(
            lambda: LAN(3), lan_path, "structured_64", "lan3_official_out_structured_64"
        ),
        "std_structured_64": lambda: (local_std(ref["structured_64"]), ref["std_structured_64"]),
        "alpha_structured_64": lambda: (
            alpha_map(ref["structured_64"]),
            ref["alpha_structured_64"],
        ),
    }
    for name in ("loss_stage1_64", "loss_stage2_64", "loss_stage3_64"):
        cases[name] = lambda name=name: stage_losses()[name]
    return cases


CASE_NAMES = [
    "bnn9_out_64",
    "bnn9_out_96",
    "bnn1_out_64",
    "bnn13_out_64",
    "unet_out_64",
    "unet_out_64x96",
    "lan3_random_out_64",
    "lan5_random_out_64",
    "lan3_official_out_64",
    "lan3_official_out_structured_64",
    "std_structured_64",
    "alpha_structured_64",
    "loss_stage1_64",
    "loss_stage2_64",
    "loss_stage3_64",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_matches_reference(case: str, reference: dict, official_lan_path: Path) -> None:
    with torch.no_grad():
        ours, ref = _cases(reference, official_lan_path)[case]()
    assert ours.shape == ref.shape
    assert relative_error(ours, ref) < TOLERANCE


def test_every_reference_output_is_covered(reference: dict) -> None:
    outputs = {k for k in reference if not k.endswith("_state") and not k.startswith("input")}
    outputs -= {"structured_64"}
    assert outputs == set(CASE_NAMES)


if __name__ == "__main__":
    from tests.conftest import OFFICIAL_LAN, REFERENCE_FILE

    reference_tensors = torch.load(REFERENCE_FILE, weights_only=True)
    print(f"| reference tensor | relative error (tolerance {TOLERANCE:g}) |\n|---|---|")
    with torch.no_grad():
        for case_name, make in _cases(reference_tensors, OFFICIAL_LAN).items():
            print(f"| {case_name} | {relative_error(*make()):.2e} |")
