"""prefill 'fill_model': a random-weight LaMa written with spandrel's own class, loaded from models/inpaint by
the pack's loader node, fills the masked pixels of each crop before encoding; everything else stays."""

from __future__ import annotations

import pytest
import torch
from comfy_host import run_node
from node_calls import assert_untouched_outside, node_classes, small_options
from tiny_models import LAMA_FILE

NODE = "FluxFill Inpainter"


@pytest.fixture(scope="module")
def fill(comfy):
    from fluxfill_inpainter.nodes.fill_model import FillModelLoader

    return run_node(FillModelLoader, model_name=LAMA_FILE).result[0]


def scene(seed: int = 0, height: int = 64, width: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    image = torch.rand(1, height, width, 3) * 0.2 + 0.4
    image[:, 20:44, 36:60] = torch.tensor([1.0, 0.0, 1.0])  # a magenta "object"
    mask = torch.zeros(1, height, width)
    mask[:, 16:48, 32:64] = 1.0
    return image, mask


def test_loader_lists_models_inpaint_and_loads_lama_through_spandrel(fill, comfy):
    import folder_paths
    from fluxfill_inpainter.nodes.fill_model import FillModelLoader

    options = {i.id: i for i in FillModelLoader.GET_SCHEMA().inputs}["model_name"].options
    assert LAMA_FILE in options and LAMA_FILE in folder_paths.get_filename_list("inpaint")
    assert fill.architecture == "LaMa" and fill.geometry.multiple == 8
    assert all(i.tooltip for i in FillModelLoader.GET_SCHEMA().inputs)


def test_fill_changes_masked_pixels_only(fill):
    from fluxfill_inpainter.nodes.fill_model import fill_with_model

    image, mask = scene(1)
    out = fill_with_model(fill, image, mask)
    hole = mask.round() == 1
    assert torch.equal(out[~hole], image[~hole]), "unmasked pixels of the crop are bit-exact"
    assert (out[hole] - image[hole]).abs().mean() > 0.05, "the object is replaced by the network's fill"


def test_selecting_fill_model_without_one_is_a_clear_error(comfy):
    with pytest.raises(ValueError, match="Load Fill Model"):
        small_options(prefill="fill_model")


def test_inpainter_encodes_the_lama_filled_crop(small_models, fill, spy):
    from fluxfill_inpainter.nodes.fill_model import fill_with_model
    from node_calls import inpaint

    image, mask = scene(2)
    opts = small_options(prefill="fill_model", fill_model=fill, target_mode="none", min_crop=4096)
    result = inpaint(small_models, image, mask, options=opts, feather=4, denoise=0.6).result[0]
    (call,) = spy.calls
    filled = fill_with_model(fill, image, mask)
    vae = small_models[1]
    torch.testing.assert_close(call["latent_image"], vae.encode(filled), atol=1e-5, rtol=0)
    concat = call["positive"][0][1]["concat_latent_image"]
    torch.testing.assert_close(concat, vae.encode(filled), atol=1e-5, rtol=0)  # not greyed: filled
    assert_untouched_outside(result, image, mask, reach=4)


def test_crop_node_outputs_lama_filled_crops(fill):
    _, InpaintCrop, _, _ = node_classes()
    image, mask = scene(3)
    plain = run_node(InpaintCrop, image=image, mask=mask, context=1.0, grow=0, feather=0, target_megapixels=0.02,
                     snap=16, options=small_options()).result
    filled = run_node(InpaintCrop, image=image, mask=mask, context=1.0, grow=0, feather=0, target_megapixels=0.02,
                      snap=16, options=small_options(prefill="fill_model", fill_model=fill)).result
    crop_mask = plain[2].round() == 1
    assert torch.equal(filled[1][~crop_mask], plain[1][~crop_mask])
    assert (filled[1][crop_mask] - plain[1][crop_mask]).abs().mean() > 0.05


def test_torchscript_lama_file_loads(comfy, tmp_path):
    """big-lama.pt, LaMa's usual download, is a TorchScript archive: the loader reads it through torch.jit."""
    from fluxfill_inpainter.nodes.fill_model import is_torchscript, load_fill_model
    from spandrel.architectures.LaMa import LaMa
    from tiny_fill_model import lama_state_dict

    model = LaMa(in_nc=4, out_nc=3).eval()
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in lama_state_dict(6).items()})
    path = tmp_path / "big-lama.pt"
    with torch.no_grad():
        torch.jit.trace(model, (torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32))).save(str(path))
    assert is_torchscript(str(path))
    fill = load_fill_model(str(path))
    assert fill.architecture == "LaMa"
