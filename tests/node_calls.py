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
        real = comfy.sample.sample

        def spy(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, **kw):
            out = real(model, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image, **kw)
            self.calls.append(dict(positive=positive, negative=negative, latent_image=latent_image.clone(),
                                   noise_mask=kw.get("noise_mask"), samples=out.clone(), noise=noise,
                                   seed=kw.get("seed"), model=model, sampler_name=sampler_name))
            return out

        monkeypatch.setattr(comfy.sample, "sample", spy)
