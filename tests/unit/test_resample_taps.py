"""Resampling taps equal the weights torch's own F.interpolate applies (read off unit impulses)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from fluxfill_inpainter.crop_stitch.resample_taps import axis_taps

SIZES = [(512, 985), (985, 512), (1267, 512), (848, 1149), (7, 3), (3, 7), (1, 5), (5, 1), (64, 63), (63, 64),
         (100, 100), (13, 2)]
MODES = [("bicubic", False), ("bicubic", True), ("bilinear", False), ("bilinear", True), ("area", False),
         ("nearest-exact", False)]


def _interpolate_weights(n_in: int, n_out: int, mode: str, antialias: bool) -> torch.Tensor:
    """[n_out, n_in]: column j is F.interpolate of the unit impulse at j (the oracle), in float32 as
    IMAGE tensors are (torch computes the source coordinates in the tensor's precision)."""
    eye = torch.eye(n_in, dtype=torch.float32)[None, :, None, :]
    kwargs = {"align_corners": False, "antialias": antialias} if mode in ("bicubic", "bilinear") else {}
    return F.interpolate(eye, size=(1, n_out), mode=mode, **kwargs)[0, :, 0, :].transpose(0, 1)


@pytest.mark.parametrize("mode,antialias", MODES)
@pytest.mark.parametrize("n_in,n_out", SIZES)
def test_taps_equal_the_weights_interpolate_applies(n_in, n_out, mode, antialias) -> None:
    out = range(n_out // 4, n_out)  # a window of the output, not only the whole axis
    index, weight = axis_taps(n_in, n_out, mode, antialias, out)
    assert index.shape == weight.shape and index.shape[0] == len(out)
    assert int(index.min()) >= 0 and int(index.max()) < n_in
    dense = torch.zeros(len(out), n_in, dtype=torch.float64).scatter_add_(1, index, weight.double())
    expected = _interpolate_weights(n_in, n_out, mode, antialias)[n_out // 4:].double()
    assert expected.abs().sum() > 0
    torch.testing.assert_close(dense, expected, atol=2e-6, rtol=0)

