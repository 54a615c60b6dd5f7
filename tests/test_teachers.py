"""Teacher cache: a cached crop's targets are the teacher's output on the whole transformed image
at that crop, for every dihedral transform; tiles, memmaps and the restricted sampler."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sassid.data import PatchSampler
from sassid.teachers import TeacherCache, crop_location, transform_image


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [
        rng.integers(0, 256, (40, 56, 3), dtype=np.uint8),
        rng.integers(0, 256, (48, 48, 3), dtype=np.uint8),
    ]


def _teacher() -> nn.Module:
    torch.manual_seed(3)
    return nn.Conv2d(3, 3, 3, padding=1).eval()


def _cache(
    teachers: dict[str, nn.Module],
    images: list[np.ndarray],
    transforms: int,
    directory: Path | None = None,
    memory_limit: int = 2 << 30,
    held_bytes: int = 0,
) -> TeacherCache:
    """A whole-image (untiled) cache on the CPU, fp32."""
    return TeacherCache.build(
        teachers,
        images,
        transforms=transforms,
        tile=0,
        device=torch.device("cpu"),
        autocast=contextlib.nullcontext,
        directory=directory,
        memory_limit=memory_limit,
        held_bytes=held_bytes,
    )


def _whole(net: nn.Module, image: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()[None]
    with torch.no_grad():
        return net(x)[0].permute(1, 2, 0).numpy()


def test_crop_location_maps_a_transformed_crop() -> None:
    image = _images()[0]
    sampler = PatchSampler([image], 16, torch.Generator())
    for t in range(8):
        top, left = crop_location(40, 56, 5, 9, 16, t)
        expected = transform_image(image, t)[top : top + 16, left : left + 16]
        got = sampler.crop(0, 5, 9, t).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(got, expected.astype(np.float32))


def test_cached_targets_equal_the_teacher_on_the_whole_transformed_image() -> None:
    images, net = _images(), _teacher()
    cache = _cache({"bnn": net}, images, 8)
    sampler = PatchSampler(images, 16, torch.Generator().manual_seed(0), cache)
    seen = set()
    for _ in range(12):
        sampler.batch(4)
        targets = sampler.targets(("bnn",))["bnn"]
        for (index, top, left, t), target in zip(sampler._last, targets, strict=True):
            seen.add(t)
            h, w = images[index].shape[:2]
            ct, cl = crop_location(h, w, top, left, 16, t)
            whole = _whole(net, transform_image(images[index], t))
            np.testing.assert_allclose(
                target.permute(1, 2, 0).numpy(), whole[ct : ct + 16, cl : cl + 16], atol=0.15
            )
    assert seen == set(range(8)), "every flip/transpose was drawn and checked"


def test_restricted_transforms_and_memmap(tmp_path: Path) -> None:
    images = _images()
    cache = _cache({"lan": _teacher()}, images, 2, directory=tmp_path / "cache", memory_limit=0)
    assert isinstance(cache.arrays["lan"][1][0], np.memmap)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 4
    assert cache.nbytes() == sum(im.size * 2 for im in images) * 2
    sampler = PatchSampler(images, 16, torch.Generator().manual_seed(0), cache)
    sampler.batch(32)
    assert {t for *_, t in sampler._last} == {0, 1}


def _augmenting_sampler(
    name: str, net: nn.Module, images: list[np.ndarray], transforms: int, seed: int
) -> PatchSampler:
    """A sampler with ``cache_augment`` over a whole-image cache of ``net`` as teacher ``name``."""
    cache = _cache({name: net}, images, transforms)
    return PatchSampler(images, 16, torch.Generator().manual_seed(seed), cache, True)


def test_augmented_cached_targets_turn_with_their_crop() -> None:
    # cache_augment: all 8 transforms drawn from a 1- or 2-transform cache; each target is the
    # cached target of the cached orientation, turned by the rest of the crop's transform
    images, net = _images(), _teacher()
    for transforms in (1, 2):
        sampler = _augmenting_sampler("bnn", net, images, transforms, seed=0)
        seen = set()
        for _ in range(12):
            noisy = sampler.batch(4)
            targets = sampler.targets(("bnn",))["bnn"]
            for (index, top, left, t), crop, target in zip(
                sampler._last, noisy, targets, strict=True
            ):
                seen.add(t)
                cached = t % transforms
                whole = _whole(net, transform_image(images[index], cached))
                h, w = images[index].shape[:2]
                ct, cl = crop_location(h, w, top, left, 16, cached)
                expected = transform_image(whole[ct : ct + 16, cl : cl + 16], t - cached)
                np.testing.assert_allclose(target.permute(1, 2, 0).numpy(), expected, atol=0.15)
                # the crop itself is the fully transformed image's, as without a cache
                ct, cl = crop_location(h, w, top, left, 16, t)
                np.testing.assert_array_equal(
                    crop.permute(1, 2, 0).numpy(),
                    transform_image(images[index], t)[ct : ct + 16, cl : cl + 16],
                )
        assert seen == set(range(8)), f"{transforms} cached: all 8 transforms drawn"


def test_augmented_targets_of_a_pointwise_teacher_are_its_output_on_the_crop() -> None:
    # a 1x1 teacher commutes with every flip/transpose, so a turned target must equal the
    # teacher run on the drawn crop itself: the target covers the crop's pixels, turned alike
    torch.manual_seed(0)
    pointwise = nn.Conv2d(3, 3, 1).eval()
    images = _images()
    for transforms in (1, 2, 4):
        sampler = _augmenting_sampler("lan", pointwise, images, transforms, seed=1)
        noisy = sampler.batch(32)
        assert {t for *_, t in sampler._last} == set(range(8))
        with torch.no_grad():
            expected = pointwise(noisy)
        torch.testing.assert_close(sampler.targets(("lan",))["lan"], expected, atol=0.15, rtol=0)


def test_tiles_of_a_pointwise_teacher_match_the_whole_image() -> None:
    torch.manual_seed(0)
    pointwise = nn.Conv2d(3, 3, 1).eval()
    images = _images()
    kwargs = dict(transforms=1, device=torch.device("cpu"), autocast=contextlib.nullcontext)
    tiled = TeacherCache.build({"bnn": pointwise}, images, tile=32, **kwargs)
    whole = TeacherCache.build({"bnn": pointwise}, images, tile=0, **kwargs)
    for a, b in zip(tiled.arrays["bnn"][0], whole.arrays["bnn"][0], strict=True):
        np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), atol=0.15)


def test_bad_transform_count() -> None:
    with pytest.raises(ValueError, match="transforms"):
        _cache({"bnn": _teacher()}, _images(), 3)


def test_posterior_targets_combine_the_cached_bnn_with_each_transformed_image(
    tmp_path: Path,
) -> None:
    from sassid.corrections import blind_spot_posterior
    from sassid.noise import measure_noise_level
    from sassid.teachers import POSTERIOR

    images = _images()
    for directory, limit in ((None, 2 << 30), (tmp_path / "cache", 0)):
        cache = _cache({"bnn": _teacher()}, images, 2, directory=directory, memory_limit=limit)
        cache.add_posterior(images, directory=directory)
        for i, image in enumerate(images):
            for t in range(2):
                noisy = transform_image(image, t).astype(np.float32).transpose(2, 0, 1)
                prior = np.asarray(cache.arrays["bnn"][t][i], np.float32).transpose(2, 0, 1)
                expected = blind_spot_posterior(noisy, prior, measure_noise_level(image))
                got = np.asarray(cache.arrays[POSTERIOR][t][i], np.float32).transpose(2, 0, 1)
                np.testing.assert_allclose(got, expected, atol=0.15)  # stored as float16
                assert not np.allclose(got, prior, atol=1.0), "the noisy pixels came back"
        on_disk = isinstance(cache.arrays[POSTERIOR][1][0], np.memmap)
        assert on_disk == (directory is not None)


def test_memory_limit_counts_the_targets_already_held(tmp_path: Path) -> None:
    from sassid.teachers import POSTERIOR

    images = _images()
    one_teacher = sum(im.shape[0] * im.shape[1] for im in images) * 6 * 2  # 2 transforms
    directory = tmp_path / "cache"
    cache = _cache({"bnn": _teacher()}, images, 2, directory=directory, memory_limit=one_teacher)
    assert cache.memory_bytes() == cache.nbytes() == one_teacher  # fits: kept in memory
    cache.add_posterior(images, directory=directory, memory_limit=one_teacher)
    assert isinstance(cache.arrays[POSTERIOR][0][0], np.memmap), "past the limit with the BNN's"
    assert cache.memory_bytes() == one_teacher < cache.nbytes()
    held = cache.memory_bytes()
    more = _cache({"lan": _teacher()}, images, 2, directory, one_teacher, held_bytes=held)
    assert isinstance(more.arrays["lan"][1][0], np.memmap)
