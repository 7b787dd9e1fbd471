"""Running the FluxFill Inpainter on the small family models of tiny_families.py: a 2-region scene,
batch 2, and spies on what reaches the model."""

from __future__ import annotations

import json

import torch
from node_calls import assert_untouched_outside, inpaint, small_options

FEATHER = 4
VARIANTS = 2


def two_blobs(h: int = 64, w: int = 192, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, h, w, 3, generator=g)
    mask = torch.zeros(1, h, w)
    mask[:, 20:40, 10:34] = 1.0
    mask[:, 24:44, 150:178] = 1.0
    return image, mask


class ConditionSpy:
    """Records what the model's `extra_conds` got and built (model.clone() shares model.model)."""

    def __init__(self, monkeypatch, model):
        base = model.model
        self.calls: list[dict] = []
        real = base.extra_conds

        def spy(**kwargs):
            out = real(**kwargs)
            self.calls.append({"kwargs": kwargs, "out": out})
            return out

        monkeypatch.setattr(base, "extra_conds", spy)

    def out_keys(self) -> set[str]:
        return set().union(*(c["out"].keys() for c in self.calls))

    def guidance(self) -> set[float]:
        """Guidance the model built for the positive (the zeroed negative is never read at cfg 1)."""
        return {float(c["out"]["guidance"].cond.flatten()[0]) for c in self.calls
                if "guidance" in c["out"] and c["kwargs"]["cross_attn"].any()}


def run(model, vae, *, cfg: float = 1.0, clip=None, cond=None, options=None, **kw):
    image, mask = two_blobs()
    inputs = dict(steps=1, cfg=cfg, guidance=0.0, batch_size=VARIANTS, feather=FEATHER, sampler_name="euler",
                  scheduler="simple")
    inputs.update(kw)
    if cond is not None:
        inputs["condition"] = cond
    out = inpaint((model, vae, clip), image, mask, options=options or small_options(merge_gap=0), clip=clip is not None,
                  **inputs).result
    return image, mask, out


def check_outputs(image, mask, out, regions: int = 2) -> None:
    result = out[0]
    assert result.shape == (VARIANTS, *image.shape[1:]) and torch.isfinite(result).all()
    assert_untouched_outside(result, image, mask, reach=FEATHER, variants=VARIANTS)
    assert len(json.loads(out[7])["regions"]) == regions


def user_crops(image: torch.Tensor, mask: torch.Tensor, plan: dict) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(crop, mask) of each region: the user's image and (binary) mask cut at the plan's box and resized to its
    target as the README says (image bicubic, clamped; mask bilinear)."""
    import torch.nn.functional as F

    out = []
    for region in plan["regions"]:
        x0, y0, x1, y1 = region["box"]
        tw, th = region["target"]
        assert x0 >= 0 and y0 >= 0 and x1 <= image.shape[2] and y1 <= image.shape[1], "a padded box"
        crop = F.interpolate(image[:, y0:y1, x0:x1].movedim(-1, 1), size=(th, tw), mode="bicubic",
                             align_corners=False).clamp(0, 1).movedim(1, -1)
        crop_mask = F.interpolate(mask[:, None, y0:y1, x0:x1], size=(th, tw), mode="bilinear",
                                  align_corners=False)[:, 0].clamp(0, 1)
        out.append((crop, crop_mask))
    return out


def sampled_negatives(spy) -> list:
    return [call["negative"][0][0] for call in spy.calls]
