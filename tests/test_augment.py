"""DiffAugment: shape and dtype kept, translation a zero-filled shift, cutout one square, seeded, differentiable."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gan_core.training.augment import (
    POLICIES,
    color,
    cutout,
    diff_augment,
    parse_policy,
    translation,
)


def positive_images(n: int = 16, ch: int = 3, size: int = 16, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Images with no zero pixel, so a zeroed pixel can only come from the augmentation."""
    return (torch.rand(n, ch, size, size, generator=torch.Generator().manual_seed(0)) + 0.5).to(dtype)


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """out[..., i, j] = x[..., i + dy, j + dx], zero where that falls outside the image."""
    s = max(abs(dy), abs(dx))
    h, w = x.shape[-2:]
    return F.pad(x, [s] * 4)[..., s + dy: s + dy + h, s + dx: s + dx + w]


@pytest.mark.parametrize("policy", [[name] for name in POLICIES] + [list(POLICIES)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_shape_and_dtype_kept(policy, dtype):
    x = positive_images(4, 3, 8, dtype)
    out = diff_augment(x, policy)
    assert out.shape == x.shape and out.dtype == dtype and out.is_contiguous()
    assert torch.isfinite(out.float()).all()


def test_translation_is_an_integer_shift_with_zero_fill():
    torch.manual_seed(0)
    x = positive_images(32)
    out = translation(x, ratio=0.125)  # 16 px: shifts of -2..2
    seen = set()
    for img, src in zip(out, x):
        shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(img, shifted(src, dy, dx))]
        assert len(shifts) == 1, shifts
        seen.add(shifts[0])
    assert len(seen) > 5  # each sample draws its own shift


def test_translation_moves_a_single_bright_pixel():
    torch.manual_seed(1)
    x = torch.zeros(16, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    for img in translation(x):
        ys, xs = torch.nonzero(img[0], as_tuple=True)
        assert img.sum() == 1 and len(ys) == 1 and abs(int(ys) - 8) <= 2 and abs(int(xs) - 8) <= 2


def test_cutout_zeros_one_square_and_keeps_the_rest():
    torch.manual_seed(0)
    x = positive_images(64)
    out = cutout(x, ratio=0.5)  # 16 px: an 8x8 square, clipped where its centre is near a border
    full = 0
    for img, src in zip(out, x):
        zero = img == 0
        assert torch.equal(zero, zero[:1].expand_as(zero))  # the same pixels in every channel
        rows, cols = zero[0].any(1).nonzero()[:, 0], zero[0].any(0).nonzero()[:, 0]
        assert 4 <= len(rows) <= 8 and 4 <= len(cols) <= 8
        box = torch.zeros_like(zero[0])
        box[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1] = True
        assert torch.equal(zero[0], box)  # one solid rectangle
        for side, lo, hi in ((len(rows), rows[0], rows[-1]), (len(cols), cols[0], cols[-1])):
            assert side == 8 or lo == 0 or hi == 15  # shorter only where clipped by the border
        assert torch.equal(img[~zero], src[~zero])
        full += len(rows) == len(cols) == 8
    assert full > 10


def test_color_changes_values_and_keeps_them_finite():
    torch.manual_seed(0)
    x = positive_images(8) * 2 - 1.5
    out = color(x)
    assert torch.isfinite(out).all() and (out - x).abs().amax(dim=(1, 2, 3)).min() > 1e-3
    grey = torch.full((8, 1, 4, 4), 0.25)
    shifted_grey = color(grey)  # one channel: no saturation, contrast keeps a flat image flat
    offsets = shifted_grey.flatten(1) - 0.25
    assert torch.allclose(offsets, offsets[:, :1].expand_as(offsets), atol=1e-6)
    assert offsets.abs().max() <= 0.5 and offsets[:, 0].std() > 0


def test_same_seed_same_result_other_seed_other_result():
    x = positive_images(4)

    def run(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return diff_augment(x, list(POLICIES))

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


@pytest.mark.parametrize("policy", [[name] for name in POLICIES])
def test_gradients_flow_to_the_input(policy):
    torch.manual_seed(0)
    x = positive_images(4).requires_grad_(True)
    diff_augment(x, policy).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_parse_policy():
    assert parse_policy("color, translation") == ["color", "translation"]
    assert parse_policy("") == [] and parse_policy("none") == []
    with pytest.raises(ValueError, match="bogus.*choose from color, translation, cutout"):
        parse_policy("color,bogus")
