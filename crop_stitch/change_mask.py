"""Where an aligned, colour-corrected sample differs from the original: a perceptual colour difference
(CIE76 delta E in CIELAB) or a change of local structure (SSIM's contrast-structure term), cleaned and
feathered, inside the area the stitch may blend. Pixels outside the result keep the original's bytes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .filters import gaussian_blur
from .masks import feather_ramps, fill_holes
from .morphology import dilate_disk, erode_disk

# sRGB (D65) primaries to CIE XYZ, and the D65 white point
RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375),
              (0.2126729, 0.7151522, 0.0721750),
              (0.0193339, 0.1191920, 0.9503041))
WHITE = (0.95047, 1.0, 1.08883)
SSIM_C2 = 0.03 ** 2  # SSIM's contrast constant for a 0..1 range


@dataclass(frozen=True)
class ChangeSettings:
    """A pixel changed when its delta E (both images blurred by blur_sigma, which keeps resampling and VAE
    grain out) exceeds `delta_e`, or when 1 - SSIM's contrast-structure term exceeds `structure`.
    The changed set is opened (specks go), closed and hole-filled (an edit stays whole), grown by grow_px,
    then feathered outward over feather_px."""

    delta_e: float = 8.0
    structure: float = 0.5
    blur_sigma: float = 1.0
    ssim_sigma: float = 1.5
    open_px: int = 2
    close_px: int = 4
    grow_px: int = 3
    feather_px: int = 8


def srgb_to_lab(rgb: Tensor) -> Tensor:
    """[N,3,H,W] sRGB in 0..1 -> CIELAB (L in 0..100), D65."""
    x = rgb.clamp(0.0, 1.0)
    linear = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    m = torch.tensor(RGB_TO_XYZ, device=rgb.device, dtype=rgb.dtype)
    xyz = torch.einsum("ij,njhw->nihw", m, linear)
    xyz = xyz / torch.tensor(WHITE, device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    eps = (6.0 / 29.0) ** 3
    f = torch.where(xyz > eps, xyz.clamp_min(eps) ** (1.0 / 3.0), xyz / (3 * (6.0 / 29.0) ** 2) + 4.0 / 29.0)
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def _rgb(x: Tensor) -> Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]


def delta_e(a: Tensor, b: Tensor) -> Tensor:
    """CIE76 colour difference [N,H,W] of two [N,C,H,W] images (C = 1 is grey, C >= 3 reads RGB)."""
    return (srgb_to_lab(_rgb(a)) - srgb_to_lab(_rgb(b))).square().sum(dim=1).sqrt()


def structure_change(a: Tensor, b: Tensor, sigma: float) -> Tensor:
    """1 - SSIM's contrast-structure term [N,H,W] of two [N,1,H,W] luminances over Gaussian windows:
    0 where local patterns agree (whatever their brightness), up to 2 where they are opposite."""
    mu_a, mu_b = gaussian_blur(a, sigma), gaussian_blur(b, sigma)
    var_a = (gaussian_blur(a * a, sigma) - mu_a * mu_a).clamp_min(0.0)
    var_b = (gaussian_blur(b * b, sigma) - mu_b * mu_b).clamp_min(0.0)
    cov = gaussian_blur(a * b, sigma) - mu_a * mu_b
    return (1.0 - (2.0 * cov + SSIM_C2) / (var_a + var_b + SSIM_C2))[:, 0]


def _luma(x: Tensor) -> Tensor:
    if x.shape[1] == 1:
        return x
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])[:, None]


def changed_pixels(sample: Tensor, original: Tensor, settings: ChangeSettings | None = None) -> Tensor:
    """[V,h,w] bool: where sample [V,h,w,C] differs from original [h,w,C] (before cleaning)."""
    st = settings or ChangeSettings()
    a = sample.float().permute(0, 3, 1, 2)
    b = original.float().to(a.device).permute(2, 0, 1)[None].expand_as(a)
    de = delta_e(gaussian_blur(a, st.blur_sigma), gaussian_blur(b, st.blur_sigma))
    sc = structure_change(_luma(a), _luma(b), st.ssim_sigma)
    return (de > st.delta_e) | (sc > st.structure)


def clean(changed: Tensor, support: Tensor, settings: ChangeSettings | None = None) -> Tensor:
    """[V,h,w] float 0/1: `changed` inside `support` [h,w] opened, closed, hole-filled and grown (in support)."""
    st = settings or ChangeSettings()
    m = (changed & support).float()
    if st.open_px > 0:
        m = dilate_disk(erode_disk(m, st.open_px), st.open_px)
    if st.close_px > 0:
        m = erode_disk(dilate_disk(m, st.close_px), st.close_px)
    if bool(m.any()):
        m = fill_holes(m)
    if st.grow_px > 0:
        m = dilate_disk(m, st.grow_px)
    return m * support.float()


def change_mask(sample: Tensor, original: Tensor, composite: Tensor, settings: ChangeSettings | None = None
                ) -> Tensor:
    """[V,h,w] composite of only what changed: `composite` [h,w] (the user's mask and feather band) times the
    cleaned change set feathered outward. Exactly 0 where composite is 0 and away from every change."""
    st = settings or ChangeSettings()
    support = composite > 0
    hard = clean(changed_pixels(sample, original, st), support, st)
    _, soft = feather_ramps(hard, max(0, int(st.feather_px)))
    return soft * composite.to(soft.dtype)
