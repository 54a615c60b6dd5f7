"""The stages as data: teachers frozen, each supervision and LAN loss what its name says."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sassid.adaptive import alpha_map
from sassid.losses import denoiser_loss, lan_loss
from sassid.stages import stage_specs, teacher_targets
from sassid.tiling import run_tiled
from tests.helpers import tiny_config


def _teachers() -> dict[str, nn.Module]:
    torch.manual_seed(1)
    return {"bnn": nn.Conv2d(3, 3, 3, padding=1), "lan": nn.Conv2d(3, 3, 1)}


def test_teacher_targets_carry_no_gradient_to_the_teachers() -> None:
    teachers, student = _teachers(), nn.Conv2d(3, 3, 1)
    noisy = torch.rand(2, 3, 16, 16) * 255
    spec = stage_specs(tiny_config())[2]
    targets = teacher_targets(spec, noisy, teachers, tiny_config())
    assert set(targets) == {"bnn", "lan", "alpha"}
    assert not any(t.requires_grad for t in targets.values())
    spec.loss(student(noisy), noisy, targets).backward()
    assert all(p.grad is None for t in teachers.values() for p in t.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())


class _GlobalMean(nn.Module):
    """A teacher whose output depends on its input's size: x minus the mean of x."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x.mean(dim=(-2, -1), keepdim=True)


def test_per_crop_teachers_see_tiles_of_their_own_crop() -> None:
    teachers = {"bnn": _GlobalMean(), "lan": _GlobalMean()}
    config = tiny_config(unet={"patch_size": 64, "batch_size": 2})  # the teachers' crop is 32
    spec = stage_specs(config)[2]
    big = torch.rand(2, 3, 64, 64) * 255
    targets = teacher_targets(spec, big, teachers, config)
    assert torch.allclose(targets["bnn"], run_tiled(_GlobalMean(), big, 32, 8), atol=1e-4)
    assert not torch.allclose(targets["bnn"], _GlobalMean()(big), atol=1e-2)
    small = big[..., :32, :32]  # a crop of the teachers' own size goes through whole
    assert torch.equal(teacher_targets(spec, small, teachers, config)["lan"], _GlobalMean()(small))


def _stage3_loss(supervision: str, out: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    config = tiny_config(unet={"supervision": supervision})
    spec = stage_specs(config)[2]
    return spec.loss(out, noisy, teacher_targets(spec, noisy, _teachers(), config))


def test_supervision_ablations_match_their_definitions() -> None:
    noisy = torch.full((1, 3, 24, 24), 100.0)
    noisy[..., 12:] = torch.rand(1, 3, 24, 12) * 255  # flat left half, texture right half
    out = torch.rand(1, 3, 24, 24) * 255
    with torch.no_grad():
        bnn_out, lan_out = (t(noisy) for t in _teachers().values())
    alpha = alpha_map(bnn_out)
    expected = {
        "adaptive": denoiser_loss(out, bnn_out, lan_out, alpha),
        "both": denoiser_loss(out, bnn_out, lan_out, torch.full_like(alpha, 0.5)),
        "bnn": F.l1_loss(out, bnn_out),
        "lan": F.l1_loss(out, lan_out),
        "blend": F.l1_loss(out, (1 - alpha) * bnn_out + alpha * lan_out),
    }
    got = {name: _stage3_loss(name, out, noisy) for name in expected}
    for name in expected:
        torch.testing.assert_close(got[name], expected[name])
    values = sorted(float(v) for v in got.values())
    assert min(b - a for a, b in zip(values[:-1], values[1:], strict=True)) > 1e-4, "all differ"
    assert 0.0 < float(alpha.mean()) < 1.0, "alpha is neither all flat nor all texture here"


def test_lan_alpha_loss_is_the_papers_eq4() -> None:
    noisy, out = torch.rand(1, 3, 24, 24) * 255, torch.rand(1, 3, 24, 24) * 255
    config = tiny_config(lan={"loss": "alpha"})
    spec = stage_specs(config)[1]
    targets = teacher_targets(spec, noisy, _teachers(), config)
    assert spec.teachers == ("bnn",) and "alpha" in targets
    weighted = spec.loss(out, noisy, targets)
    torch.testing.assert_close(weighted, lan_loss(out, targets["bnn"], alpha_map(targets["bnn"])))
    plain_spec = stage_specs(tiny_config())[1]
    plain = plain_spec.loss(out, noisy, teacher_targets(plain_spec, noisy, _teachers(), config))
    assert float(weighted) < float(plain), "(1 - alpha) weights only lower the loss"


def test_one_step_function_in_bf16_and_channels_last() -> None:
    from sassid.models import build_stage_net
    from sassid.stages import prepare_batch, prepare_net, stage_loss, train_step

    fp32 = tiny_config()
    fast = tiny_config(precision="bf16", channels_last=True)
    nhwc = tiny_config(channels_last=True)
    torch.manual_seed(0)
    nets = {n: build_stage_net(fp32, n).eval() for n in ("bnn", "lan", "unet")}
    noisy = torch.rand(2, 3, 32, 32) * 255
    spec = stage_specs(fp32)[2]
    teachers = {"bnn": nets["bnn"], "lan": nets["lan"]}
    reference = stage_loss(spec, nets["unet"], noisy, teachers, fp32)
    for config, tolerance in ((nhwc, 1e-3), (fast, 0.05)):
        for net in nets.values():
            prepare_net(net, config)
        loss = stage_loss(spec, nets["unet"], prepare_batch(noisy, config), teachers, config)
        assert loss.dtype == torch.float32
        assert abs(float(loss) - float(reference)) <= tolerance * float(reference)
    optimizer = torch.optim.Adam(nets["unet"].parameters(), lr=1e-3)
    before = [p.detach().clone() for p in nets["unet"].parameters()]
    loss = train_step(spec, nets["unet"].train(), noisy, teachers, fast, optimizer)
    assert not loss.requires_grad
    after = list(nets["unet"].parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_posterior_supervisions_read_the_posterior_target() -> None:
    from sassid.teachers import POSTERIOR

    out, noisy = torch.rand(1, 3, 16, 16) * 255, torch.rand(1, 3, 16, 16) * 255
    bnn, lan, posterior = (torch.rand(1, 3, 16, 16) * 255 for _ in range(3))
    alpha = torch.rand(1, 1, 16, 16)
    targets = {"bnn": bnn, "lan": lan, "alpha": alpha, POSTERIOR: posterior}
    specs = {
        name: stage_specs(tiny_config(cache_teachers=True, unet={"supervision": name}))[2]
        for name in ("posterior", "blend_posterior")
    }
    assert specs["posterior"].teachers == ("bnn",) and not specs["posterior"].needs_alpha
    assert specs["blend_posterior"].needs_alpha
    assert all(spec.needs_posterior for spec in specs.values())
    torch.testing.assert_close(
        specs["posterior"].loss(out, noisy, targets), F.l1_loss(out, posterior)
    )
    torch.testing.assert_close(
        specs["blend_posterior"].loss(out, noisy, targets),
        F.l1_loss(out, (1 - alpha) * posterior + alpha * lan),
    )
    assert not stage_specs(tiny_config())[2].needs_posterior
