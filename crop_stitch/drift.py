"""Global drift of a re-rendered crop against the original: a similarity warp (sub-pixel shift, uniform
zoom, small rotation) estimated only where the user did not mask, judged for confidence, and undone.

Edit models re-render the whole crop, so its unmasked part comes back a few pixels shifted or zoomed.
The estimate is coarse-to-fine Gauss-Newton (Lucas-Kanade) on the luminance, with a gain and an offset
fitted alongside so a colour cast does not pull the geometry, and Huber weights so a few re-drawn
pixels outside the mask do not either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from .filters import central_gradients, gaussian_blur

LUMA = (0.299, 0.587, 0.114)
HUBER = 1.5  # Huber threshold in robust standard deviations of the residual
NEGLIGIBLE_PX = 0.02  # a drift moving no pixel of the window by more than this is left alone


@dataclass(frozen=True)
class DriftSettings:
    """When an estimate is trusted. Texture: the smallest eigenvalue of the warp's information per pixel with
    gain and offset marginalised out, in pixels of the level the fit ends on (the window brought to at most
    finest_side px, so the figure does not fall as resolution rises); residual: RMS luminance mismatch left."""

    min_texture: float = 2e-5
    max_residual: float = 0.08
    max_shift_fraction: float = 0.05  # of the window's shorter side (at least 4 px)
    max_zoom: float = 0.08
    max_angle_deg: float = 5.0
    min_pixels: int = 1024
    blur_sigma: float = 1.0
    iterations: int = 12
    coarsest_side: int = 24
    finest_side: int = 512  # the fit stops at the first pyramid level this small (0.5 px there is 1 px at 2x)


@dataclass(frozen=True)
class Drift:
    """p = center + scale * R(angle) (q - center) + shift: the sample shows the original's point q at p.

    Pixel centres sit at integer (x, y) of the coordinates the estimate was made in (see `moved`).
    """

    scale: float = 1.0
    angle: float = 0.0  # radians, counter-clockwise in (x right, y down) pixels
    shift: tuple[float, float] = (0.0, 0.0)
    center: tuple[float, float] = (0.0, 0.0)
    accepted: bool = False
    reason: str = "not estimated"
    texture: float = 0.0
    residual: float = 0.0
    residual_identity: float = 0.0

    def apply(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Where the sample shows the original's points (x, y)."""
        cx, cy = self.center
        c, s = self.scale * math.cos(self.angle), self.scale * math.sin(self.angle)
        dx, dy = x - cx, y - cy
        return cx + c * dx - s * dy + self.shift[0], cy + s * dx + c * dy + self.shift[1]

    def moved(self, dx: float, dy: float) -> Drift:
        """The same drift in coordinates whose origin lies at (-dx, -dy) of these (a window at (dx, dy))."""
        return replace(self, center=(self.center[0] + dx, self.center[1] + dy))

    def max_displacement(self, width: int, height: int) -> float:
        """Largest |p - q| over a width x height window at the origin (reached at a corner)."""
        xs = torch.tensor([0.0, width - 1.0, 0.0, width - 1.0], dtype=torch.float64)
        ys = torch.tensor([0.0, 0.0, height - 1.0, height - 1.0], dtype=torch.float64)
        px, py = self.apply(xs, ys)
        return float(torch.hypot(px - xs, py - ys).max())


def _luma(image: Tensor) -> Tensor:
    """[h,w,C] -> [1,1,h,w] float32 luminance (grey images as they are)."""
    x = image.float()
    if x.shape[-1] >= 3:
        x = x[..., 0] * LUMA[0] + x[..., 1] * LUMA[1] + x[..., 2] * LUMA[2]
    else:
        x = x[..., 0]
    return x[None, None]


def _min_pool(w: Tensor, k: int, stride: int) -> Tensor:
    return -F.max_pool2d(-w, k, stride=stride, padding=k // 2 if stride == 1 else 0)


@dataclass
class _Level:
    """One pyramid level: the sample with its gradients [1,3,h,w], the original and weights [h,w], and each
    level pixel's full-resolution position (level pixel x is full-res factor * x + (factor - 1) / 2)."""

    stack: Tensor
    original: Tensor
    weight: Tensor
    factor: int
    xs: Tensor
    ys: Tensor

    @classmethod
    def of(cls, s: Tensor, o: Tensor, wt: Tensor, factor: int) -> _Level:
        hl, wl = s.shape[-2:]
        off = (factor - 1) / 2.0
        ys = torch.arange(hl, device=s.device, dtype=torch.float32)[:, None].expand(hl, wl) * factor + off
        xs = torch.arange(wl, device=s.device, dtype=torch.float32)[None, :].expand(hl, wl) * factor + off
        return cls(torch.cat([s, *central_gradients(s)], dim=1), o[0, 0], wt[0, 0], factor, xs, ys)


def _pyramid(s: Tensor, o: Tensor, wt: Tensor, coarsest: int) -> list[_Level]:
    levels = [_Level.of(s, o, wt, 1)]
    while min(s.shape[-2:]) // 2 >= coarsest:
        s, o, wt = F.avg_pool2d(s, 2), F.avg_pool2d(o, 2), _min_pool(wt, 2, 2)
        levels.append(_Level.of(s, o, wt, levels[-1].factor * 2))
    return levels


@dataclass
class _Fit:
    theta: Tensor  # float64 [a', b', tx, ty]: a', b' in px of displacement at radius R; shifts in px
    gain: float = 1.0
    bias: float = 0.0


def _params(fit: _Fit, center: tuple[float, float], radius: float) -> Drift:
    a, b, tx, ty = (float(v) for v in fit.theta)
    m, n = 1.0 + a / radius, b / radius
    return Drift(scale=math.hypot(m, n), angle=math.atan2(n, m), shift=(tx, ty), center=center)


def _level_system(lv: _Level, fit: _Fit, center: tuple[float, float], radius: float, robust: bool
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(H [6,6], g [6], weights, residual) of the Gauss-Newton step at one level."""
    hl, wl = lv.weight.shape
    f, off = lv.factor, (lv.factor - 1) / 2.0
    px, py = _params(fit, center, radius).apply(lv.xs, lv.ys)
    plx, ply = (px - off) / f, (py - off) / f
    grid = torch.stack(((plx + 0.5) * (2.0 / wl) - 1, (ply + 0.5) * (2.0 / hl) - 1), dim=-1)[None]
    warped = F.grid_sample(lv.stack, grid, mode="bicubic", padding_mode="border", align_corners=False)[0]
    sw, gx, gy = warped[0], warped[1] * (fit.gain / f), warped[2] * (fit.gain / f)
    inside = (plx >= 0) & (plx <= wl - 1) & (ply >= 0) & (ply <= hl - 1)
    w = lv.weight * inside
    r = fit.gain * sw + fit.bias - lv.original
    if robust and bool((w > 0).any()):
        sigma = 1.4826 * float(r.abs()[w > 0].median())
        k = max(HUBER * sigma, 1e-3)
        w = w * (k / r.abs().clamp_min(1e-12)).clamp(max=1.0)
    nx, ny = (lv.xs - center[0]) / radius, (lv.ys - center[1]) / radius
    jac = torch.stack([gx * nx + gy * ny, gy * nx - gx * ny, gx, gy, sw, torch.ones_like(sw)]).reshape(6, -1)
    jw = jac * w.reshape(1, -1)
    return (jw @ jac.T).double(), (jw @ r.reshape(-1, 1)).double()[:, 0], w, r


def _texture(hess: Tensor, total: float) -> float:
    """Smallest eigenvalue per pixel of the warp's information with gain and offset marginalised out."""
    hgg, hgp, hpp = hess[:4, :4], hess[:4, 4:], hess[4:, 4:]
    schur = hgg - hgp @ torch.linalg.pinv(hpp) @ hgp.T
    return float(torch.linalg.eigvalsh(schur).min()) / max(total, 1.0)


def _identity_residual(s: Tensor, o: Tensor, w: Tensor) -> float:
    """RMS of o - (gain * s + bias) with the best gain and offset, no warp."""
    n = w.sum().clamp_min(1e-12)
    ms, mo = (s * w).sum() / n, (o * w).sum() / n
    vs = ((s - ms) ** 2 * w).sum() / n
    cov = ((s - ms) * (o - mo) * w).sum() / n
    gain = cov / vs.clamp_min(1e-12)
    r = gain * (s - ms) + mo - o
    return float(((r * r * w).sum() / n).sqrt())


def estimate_drift(sample: Tensor, original: Tensor, weight: Tensor, settings: DriftSettings | None = None) -> Drift:
    """The similarity warp taking `original` [h,w,C] to `sample` [h,w,C], fitted where `weight` [h,w] > 0
    (the area the user did not mask). Refused estimates come back with accepted=False and the reason."""
    st = settings or DriftSettings()
    h, w = weight.shape
    center, radius = ((w - 1) / 2.0, (h - 1) / 2.0), 0.5 * math.hypot(w, h)
    s = gaussian_blur(_luma(sample), st.blur_sigma)
    o = gaussian_blur(_luma(original).to(s.device), st.blur_sigma)
    reach = 2 * math.ceil(3.0 * st.blur_sigma) + 1  # the blur's reach (gaussian_kernel): masked pixels leak this far
    wt = _min_pool((weight.to(s.device) > 0).float()[None, None], reach, 1)
    count = int(wt.sum())
    if count < st.min_pixels:
        return Drift(center=center, reason=f"only {count} unmasked pixels to align on (< {st.min_pixels})")
    fit = _Fit(torch.zeros(4, dtype=torch.float64))
    levels = _pyramid(s, o, wt, st.coarsest_side)
    finest = next(i for i, lv in enumerate(levels) if max(lv.weight.shape) <= st.finest_side or i == len(levels) - 1)
    for index in range(len(levels) - 1, finest - 1, -1):
        factor = levels[index].factor
        for it in range(st.iterations):
            hess, grad, _, _ = _level_system(levels[index], fit, center, radius, robust=it > 0)
            damped = hess + 1e-6 * torch.diag(hess.diagonal().clamp_min(1e-12))
            step = -torch.linalg.solve(damped, grad)
            if not bool(torch.isfinite(step).all()):
                return Drift(center=center, reason="the alignment did not converge")
            fit.theta = fit.theta + step[:4].cpu()
            fit.gain, fit.bias = fit.gain + float(step[4]), fit.bias + float(step[5])
            if float(step[:4].abs().max()) < 0.01 * factor:
                break
    lv = levels[finest]
    hess, _, w_robust, r = _level_system(lv, fit, center, radius, robust=True)
    drift = _params(fit, center, radius)
    plain = (w_robust > 0).float() * lv.weight
    residual = float(((r * r * plain).sum() / plain.sum().clamp_min(1.0)).sqrt())
    texture = _texture(hess, float(w_robust.sum())) * lv.factor ** 2  # per level px^2, not full-res px^2
    drift = replace(drift, texture=texture, residual=residual,
                    residual_identity=_identity_residual(lv.stack[0, 0], lv.original, lv.weight))
    return _judge(drift, st, w, h)


def _judge(d: Drift, st: DriftSettings, w: int, h: int) -> Drift:
    max_shift = max(4.0, st.max_shift_fraction * min(w, h))
    if not all(math.isfinite(v) for v in (d.scale, d.angle, *d.shift, d.texture, d.residual)):
        return replace(d, reason="the alignment did not converge")
    if d.texture < st.min_texture:
        return replace(d, reason=f"too little texture outside the mask ({d.texture:.2e} < {st.min_texture:.0e})")
    if math.hypot(*d.shift) > max_shift or abs(d.scale - 1) > st.max_zoom \
            or abs(math.degrees(d.angle)) > st.max_angle_deg:
        return replace(d, reason=f"implausible drift (shift {d.shift[0]:.2f}, {d.shift[1]:.2f} px, "
                                 f"zoom {d.scale:.4f}, angle {math.degrees(d.angle):.2f} deg)")
    if d.residual > st.max_residual:
        return replace(d, reason=f"the unmasked area does not match the original (rms {d.residual:.3f})")
    if d.residual > d.residual_identity + 1e-4:
        return replace(d, reason="the estimate matches no better than no alignment")
    return replace(d, accepted=True, reason="aligned")


def undo_drift(images: Tensor, drifts: Sequence[Drift], window: tuple[int, int, int, int] | None = None
               ) -> tuple[Tensor, Tensor]:
    """(aligned [V,h',w',C], valid [V,h',w']) on `window` (x0, y0, x1, y1) of the images (default: all of them):
    images[v] resampled (bicubic) at drifts[v].apply of each pixel, so the original's content is back in
    place; valid is False where that point fell outside the image. Refused or negligible drifts leave their
    image as it is (bit for bit)."""
    v, h, w, _ = images.shape
    x0, y0, x1, y1 = window or (0, 0, w, h)
    out = images[:, y0:y1, x0:x1].clone()
    valid = torch.ones(v, y1 - y0, x1 - x0, dtype=torch.bool, device=images.device)
    ys = torch.arange(y0, y1, device=images.device, dtype=torch.float32)[:, None].expand(y1 - y0, x1 - x0)
    xs = torch.arange(x0, x1, device=images.device, dtype=torch.float32)[None, :].expand(y1 - y0, x1 - x0)
    for j, d in enumerate(drifts):
        if not d.accepted or d.max_displacement(w, h) < NEGLIGIBLE_PX:
            continue
        px, py = d.apply(xs, ys)
        grid = torch.stack(((px + 0.5) * (2.0 / w) - 1, (py + 0.5) * (2.0 / h) - 1), dim=-1)[None]
        src = images[j:j + 1].float().permute(0, 3, 1, 2)
        res = F.grid_sample(src, grid, mode="bicubic", padding_mode="border", align_corners=False)
        out[j] = res[0].permute(1, 2, 0).clamp(0.0, 1.0).to(images.dtype)
        valid[j] = (px >= -0.5) & (px <= w - 0.5) & (py >= -0.5) & (py <= h - 0.5)
    return out, valid
