"""Pre-fill of the masked area (crop_stitch.prefill): replaced under the mask, untouched outside."""

from __future__ import annotations

import pytest
import torch
from fluxfill_inpainter.crop_stitch import prefill
from fluxfill_inpainter.crop_stitch.prefill import PrefillUnavailable, opencv_available, push_pull_fill


def _scene(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 56), indexing="ij")
    image = torch.stack([x, y, 0.5 + 0.3 * torch.sin(4 * x)], dim=-1)[None].repeat(2, 1, 1, 1)
    image[:, 12:28, 20:36] = torch.tensor([1.0, 0.0, 1.0])  # a magenta "object"
    mask = torch.zeros(2, 40, 56)
    mask[:, 10:30, 18:38] = 1.0
    mask[:, 9, 18:38] = 0.4  # soft edge: rounds to 0, must stay untouched
    return image, mask


@pytest.mark.parametrize("method", ["grey", "blur"])
def test_masked_pixels_replaced_unmasked_untouched(method):
    image, mask = _scene()
    before = image.clone()
    out = prefill(image, mask, method)
    assert torch.equal(image, before), "the input is not modified"
    keep = mask.round() == 0
    assert torch.equal(out[keep], image[keep]), "pixels outside round(mask) must be bit-identical"
    hole = mask.round() == 1
    assert (out[hole] - image[hole]).abs().mean() > 0.2, "the object is replaced"


def test_grey_is_core_greying():
    image, mask = _scene()
    keep = (1.0 - mask.round()).unsqueeze(-1)
    torch.testing.assert_close(prefill(image, mask, "grey"), (image - 0.5) * keep + 0.5, atol=1e-7, rtol=0)


def test_blur_continues_the_surroundings():
    image, mask = _scene()
    out = prefill(image, mask, "blur")
    hole = mask[0].round() == 1
    # the fill is bounded by the colours around it and close to the background's smooth gradient
    background = torch.stack(torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 56), indexing="ij")[::-1],
                             dim=-1)
    error = (out[0][hole][:, :2] - background[hole]).abs().mean()
    assert error < 0.08, f"fill drifts from the surrounding gradient by {error:.3f}"
    magenta = torch.tensor([1.0, 0.0, 1.0])
    assert ((out[0][hole] - magenta).abs().sum(-1) > 0.5).all(), "no trace of the object left"


def test_push_pull_without_any_known_pixel_is_grey_and_with_all_known_is_identity():
    image = torch.rand(1, 17, 23, 3)
    torch.testing.assert_close(push_pull_fill(image, torch.zeros(1, 17, 23, 1)), torch.full_like(image, 0.5))
    torch.testing.assert_close(push_pull_fill(image, torch.ones(1, 17, 23, 1)), image, atol=1e-6, rtol=0)


def test_unknown_method_and_bad_mask_are_errors():
    image, mask = _scene()
    with pytest.raises(ValueError, match="prefill must be one of"):
        prefill(image, mask, "smear")
    with pytest.raises(ValueError, match="does not fit"):
        prefill(image, mask[:, :20], "blur")


@pytest.mark.parametrize("method", ["telea", "navier_stokes"])
def test_opencv_methods(method):
    image, mask = _scene()
    if not opencv_available():
        with pytest.raises(PrefillUnavailable) as err:
            prefill(image, mask, method, node="Inpaint Options")
        message = str(err.value)
        assert "Inpaint Options" in message and method in message
        assert "pip install opencv-python-headless" in message
        return
    out = prefill(image, mask, method)
    keep = mask.round() == 0
    assert torch.equal(out[keep], image[keep])
    hole = mask.round() == 1
    assert (out[hole] - image[hole]).abs().mean() > 0.2
