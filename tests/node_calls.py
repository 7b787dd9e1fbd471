"""Calling the pack's nodes in-process the way tests need (ComfyUI must be booted first)."""

from __future__ import annotations

from types import SimpleNamespace

from comfy_host import run_node


def node_classes():
    from fluxfill_inpainter.nodes.crop_nodes import InpaintCrop, InpaintStitch
    from fluxfill_inpainter.nodes.inpainter import FluxFillInpainter
    from fluxfill_inpainter.nodes.options import build_options

    return FluxFillInpainter, InpaintCrop, InpaintStitch, build_options


def small_options(**kw):
    """Options that keep crops small enough for CPU tests (64-256 px sides)."""
    build_options = node_classes()[3]
    return build_options(**({"min_side": 64, "max_side": 256, "min_crop": 32, "min_context": 8} | kw))


def inpaint(models, image, mask, *, options=None, clip=True, **overrides):
    """Run FluxFill Inpainter with small-model defaults; `models` = (model, vae, clip)."""
    FluxFillInpainter = node_classes()[0]
    model, vae, text_encoder = models
    inputs = dict(model=model, text="a red apple", vae=vae, image=image, mask=mask, seed=5, steps=3, cfg=1.0,
                  sampler_name="euler", scheduler="simple", denoise=1.0, noise_mask=True, batch_size=1,
                  differential_attention=True, guidance=30.0, dd_strength=1.0, context=1.0, grow=0, feather=4,
                  target_megapixels=0.02)
    inputs.update(overrides)
    if clip:
        inputs["clip"] = text_encoder
    if options is not None:
        inputs["options"] = options
    return run_node(FluxFillInpainter, **inputs)


def prepare(vae, pixels, mask, positive, negative, **options) -> SimpleNamespace:
    """diff_attention.prepare_inpaint_latent, its concat values put on the conditioning with the host's
    own `conditioning_set_values`, as nodes/prepare.py does."""
    import node_helpers
    from fluxfill_inpainter.diff_attention import prepare_inpaint_latent

    out = prepare_inpaint_latent(vae, pixels, mask, **options)
    values = out.concat or {}
    return SimpleNamespace(latent=out.latent, concat=out.concat,
                           positive=node_helpers.conditioning_set_values(positive, values),
                           negative=node_helpers.conditioning_set_values(negative, values))


class SamplerSpy:
    """Wraps comfy.sample.sample: records what every sampler call got and returned."""

    def __init__(self, monkeypatch):
        import comfy.sample

        self.calls: list[dict] = []
        self.real = real = comfy.sample.sample

        def spy(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, **kw):
            out = real(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, **kw)
            self.calls.append(dict(positive=positive, negative=negative, latent_image=latent_image.clone(),
                                   noise_mask=kw.get("noise_mask"), samples=out.clone(), noise=noise,
                                   seed=kw.get("seed"), model=model, sampler_name=sampler_name,
                                   denoise=kw.get("denoise")))
            return out

        monkeypatch.setattr(comfy.sample, "sample", spy)


def outside_band(mask, reach: int, threshold: float = 0.1, image_shape=None):
    """Oracle for "outside the mask and its feather band", computed from the user's mask alone.

    True where a pixel is farther than `reach` (= grow + feather, Euclidean) from every mask pixel at
    or above `threshold` (the pack's default mask threshold). `mask` [B|1,H,W] is broadcast to the
    image batch of `image_shape` ([B,H,W,C]) when given. The node's own outputs are never consulted.
    """
    import torch
    import torch.nn.functional as F

    m = (mask.float().nan_to_num(0.0, posinf=1.0, neginf=0.0).clamp(0, 1) >= threshold).float()
    m = m.unsqueeze(0) if m.dim() == 2 else m
    if image_shape is not None and m.shape[0] != image_shape[0]:
        m = m.expand(image_shape[0], -1, -1)
    r = max(0, int(reach))
    ys, xs = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    disk = ((ys * ys + xs * xs) <= r * r).float()[None, None]
    near = F.conv2d(m[:, None], disk, padding=r)[:, 0] > 0.5
    return ~near


def assert_untouched_outside(result, image, mask, reach: int, variants: int = 1, threshold: float = 0.1) -> None:
    """Bit-identical to the input outside the mask grown by `reach`; that outside must not be empty."""
    import torch

    keep = outside_band(mask, reach, threshold, image.shape).repeat_interleave(variants, dim=0)
    assert bool(keep.any()), "the test has no outside region: it would prove nothing"
    originals = image.repeat_interleave(variants, dim=0)
    assert result.shape == originals.shape
    assert torch.equal(result[keep], originals[keep])
