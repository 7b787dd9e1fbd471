"""Building blocks of the changed-only stitch against oracles made here: CIELAB reference values, harmonic
functions a membrane must reproduce, exact integer shifts, and a change confined to a known square."""

from __future__ import annotations

import torch
from fluxfill_inpainter.crop_stitch.change_mask import ChangeSettings, change_mask, srgb_to_lab
from fluxfill_inpainter.crop_stitch.drift import Drift, undo_drift
from fluxfill_inpainter.crop_stitch.seamless import membrane, seamless_blend


def test_lab_matches_published_reference_values() -> None:
    rgb = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.5]])
    lab = srgb_to_lab(rgb.T[None, :, :, None])[0, :, :, 0].T
    expected = torch.tensor([[100.0, 0.0, 0.0], [0.0, 0.0, 0.0], [53.24, 80.09, 67.20], [32.30, 79.19, -107.86],
                             [53.39, 0.0, 0.0]])
    torch.testing.assert_close(lab, expected, atol=0.06, rtol=0)


def irregular_hole(n: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(n).float(), torch.arange(n).float(), indexing="ij")
    hole = ((ys - n / 2) / (0.4 * n)) ** 2 + ((xs - n / 2) / (0.3 * n)) ** 2 < 1
    hole[n // 2 - 3:n // 2 + 3, : n // 2] = False  # a known bar reaching into it
    return hole


def test_membrane_reproduces_harmonic_functions_and_keeps_known_pixels() -> None:
    n = 150
    hole = irregular_hole(n)
    ys, xs = torch.meshgrid(torch.arange(n).float(), torch.arange(n).float(), indexing="ij")
    harmonic = torch.stack([0.3 + 0.002 * xs - 0.001 * ys, 0.5 + 1e-5 * (xs * xs - ys * ys)])[None]  # both: Laplacian 0
    values = torch.where(hole, torch.rand(1, 2, n, n, generator=torch.Generator().manual_seed(1)), harmonic)
    out = membrane(values, ~hole[None, None])
    assert torch.equal(out[:, :, ~hole], values[:, :, ~hole])
    assert float((out - harmonic).abs().max()) < 2e-3


def test_seamless_blend_removes_an_offset_and_writes_only_inside_the_mask() -> None:
    n = 120
    hole = irregular_hole(n)
    current = torch.rand(1, n, n, 3, generator=torch.Generator().manual_seed(2)) * 0.5 + 0.2
    target = current + 0.15  # same gradients, another level: the seamless result is the current image again
    mask = hole.float()[None]
    out = seamless_blend(target, current, mask)
    assert torch.equal(out[0][~hole], current[0][~hole])
    assert float((out - current).abs().max()) < 2e-3
    pasted = torch.where(hole[None, ..., None], target, current)
    assert float((pasted - current).abs().max()) > 0.14  # a plain paste would keep the step


def test_undo_drift_puts_shifted_content_back_and_leaves_refusals_alone() -> None:
    image = torch.rand(1, 64, 80, 3, generator=torch.Generator().manual_seed(3))
    shifted = torch.roll(image, shifts=(1, 2), dims=(1, 2))  # content of q now shows at q + (2, 1)
    accepted = Drift(shift=(2.0, 1.0), center=(39.5, 31.5), accepted=True, reason="test")
    refused = Drift(shift=(2.0, 1.0), center=(39.5, 31.5), accepted=False, reason="test")
    aligned, valid = undo_drift(torch.cat([shifted, shifted]), [accepted, refused])
    torch.testing.assert_close(aligned[0, :-2, :-3], image[0, :-2, :-3], atol=1e-5, rtol=0)
    assert not bool(valid[0, :, -1].any()) and bool(valid[0, :-2, :-3].all())
    assert torch.equal(aligned[1], shifted[0]) and bool(valid[1].all())


def test_change_mask_covers_the_change_and_stays_inside_the_composite() -> None:
    g = torch.Generator().manual_seed(4)
    original = torch.rand(96, 96, 3, generator=g) * 0.2 + 0.4
    sample = (original + 0.004 * torch.randn(96, 96, 3, generator=g))[None]
    sample[0, 40:56, 30:46] = torch.tensor([0.9, 0.2, 0.1])
    composite = torch.zeros(96, 96)
    composite[20:76, 10:86] = 1.0
    composite[20:76, 10:14] = 0.5  # part of a feather band
    st = ChangeSettings()
    m = change_mask(sample, original, composite, st)[0]
    assert torch.all(m[42:54, 32:44] == 1)
    assert torch.all(m[composite == 0] == 0)
    reach = st.grow_px + st.feather_px + st.close_px + 2
    far = torch.ones(96, 96, dtype=torch.bool)
    far[40 - reach:56 + reach, 30 - reach:46 + reach] = False
    assert bool((far & (composite > 0)).any()) and torch.all(m[far] == 0)
