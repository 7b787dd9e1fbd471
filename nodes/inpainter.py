"""FluxFill Inpainter: crop each masked region, inpaint it at the model's size, stitch it back."""

from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from .auto_settings import AUTO
from .option_schema import OptionsType, crop_widgets
from .option_values import InpaintOptions
from .pipeline import Prompt, inpaint
from .types import Connected, SamplerSettings

NODE = "FluxFill Inpainter"
ModelPatch = io.Custom("MODEL_PATCH")  # core ModelPatchLoader's type
MAX_SEED = 0xFFFFFFFFFFFFFFFF


class FluxFillInpainter(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FFI_FluxFillInpainter",
            display_name="FluxFill Inpainter",
            category="inpaint/FluxFill",
            description="Finds each masked region, crops it with context at the model's native size, "
                        "inpaints it (Flux Fill, SD inpaint, or any model via the noise mask) with "
                        "differential diffusion, and stitches it back: pixels outside the mask and "
                        "its feather band are never altered.",
            inputs=[
                io.Model.Input("model", tooltip="Flux Fill, an SD inpainting model, or any model "
                                                "(then the noise mask alone drives the inpaint)."),
                io.String.Input("text", multiline=True, default="",
                                tooltip="What to paint in the masked area (encoded with 'clip')."),
                io.Vae.Input("vae", tooltip="The VAE of the model (ae.safetensors for Flux)."),
                io.Image.Input("image", tooltip="The image(s) to inpaint; with a video model (Wan), the frames of "
                                                "one clip (Inpaint Options video)."),
                io.Mask.Input("mask", tooltip="White (1) = inpaint. Several separate areas are "
                                              "cropped and sampled on their own. One mask per image (frame), "
                                              "or one for all."),
                io.Int.Input("seed", default=0, min=0, max=MAX_SEED, control_after_generate=True,
                             tooltip="Noise seed; variation j uses seed + j (modulo 2^64), for every sampler."),
                io.Int.Input("steps", default=0, min=0, max=10000,
                             tooltip="Sampling steps. 0 = automatic: the connected model family's template value "
                                     "(Flux 20, Chroma 26, SDXL 25, Z-Image Turbo 8; README, Model families)."),
                io.Float.Input("cfg", default=0.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance. 0 = automatic: the model family's template value "
                                       "(1 for Flux, Flux Fill and Z-Image Turbo, 3.5 Chroma, 4 Qwen-Image, 7 SDXL, "
                                       "8 SD 1.5). Above 1 the negative is the empty prompt encoded with 'clip'."),
                io.Combo.Input("sampler_name", options=[AUTO, *comfy.samplers.KSampler.SAMPLERS], default=AUTO,
                               tooltip="Sampling algorithm. auto: the model family's template sampler (euler; "
                                       "dpmpp_2m for SDXL, res_multistep for Z-Image Turbo)."),
                io.Combo.Input("scheduler", options=[AUTO, *comfy.samplers.KSampler.SCHEDULERS], default=AUTO,
                               tooltip="Noise schedule. auto: the model family's template scheduler (simple; "
                                       "normal for Flux Fill and SD 1.5, beta for Chroma, karras for SDXL)."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="1.0 repaints the masked area fully; 0 returns the input."),
                io.Boolean.Input("noise_mask", default=True,
                                 tooltip="Only let the sampler change the masked area of each crop."),
                io.Int.Input("batch_size", default=1, min=1, max=16,
                             tooltip="Number of variations per image, sampled together."),
                io.Boolean.Input("differential_attention", default=True,
                                 tooltip="Differential diffusion: the denoise mask's gradient over the feather "
                                         "band is followed step by step, for seamless edges."),
                io.Float.Input("guidance", default=0.0, min=0.0, max=100.0, step=0.1,
                               tooltip="Flux guidance. 0 = automatic: guidance already set on 'condition' "
                                       "(e.g. FluxGuidance) is kept, else the model's default (30 for Flux "
                                       "Fill, 3.5 for other guidance-distilled Flux). Above 0: used as set. "
                                       "Ignored by models without a guidance input (SD, Chroma)."),
                io.Float.Input("dd_strength", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Differential diffusion strength; 0 = the soft mask alone."),
                *crop_widgets(automatic_size=True),
                io.Clip.Input("clip", optional=True, tooltip="Text encoder for 'text'."),
                io.Conditioning.Input("condition", optional=True,
                                      tooltip="Pre-computed positive conditioning; used instead of "
                                              "clip + text when connected."),
                OptionsType.Input("options", optional=True,
                                  tooltip="Advanced settings from an Inpaint Options node."),
                io.ControlNet.Input("control_net", optional=True,
                                    tooltip="An inpaint ControlNet (Alimama Flux inpaint, SD 1.5 inpaint): applied to "
                                            "each crop with its own image and mask, as core "
                                            "ControlNetInpaintingAliMamaApply does (SD 1.5: the crop with masked "
                                            "pixels at -1), for models without a Fill checkpoint."),
                ModelPatch.Input("model_patch", optional=True,
                                 tooltip="An inpaint ControlNet loaded by ModelPatchLoader: the Qwen-Image DiffSynth "
                                         "inpaint ControlNet, or Z-Image Fun ControlNet Union (on a ComfyUI that "
                                         "can apply it). Applied to each crop with its own image and mask on a copy "
                                         "of the model; Z-Image Fun crops are sampled without the noise mask."),
            ],
            outputs=[
                io.Image.Output("inpainted", display_name="image",
                                tooltip="Full-size results, batch = images x batch_size (image-major)."),
                io.Latent.Output("latent", display_name="latent",
                                 tooltip="Sampled crop latents, rows variant j * regions + region r (the "
                                         "layout FluxFill Stitch reads). Nothing sampled: one zero row."),
                io.Mask.Output("composite_mask", display_name="mask",
                               tooltip="The blend mask used by the stitch, full size."),
                io.Clip.Output("clip_out", display_name="clip"),
                io.Vae.Output("vae_out", display_name="vae"),
                io.Int.Output("seed_out", display_name="seed"),
                io.String.Output("seeds", display_name="seeds", tooltip="The seed of each variation, comma-separated."),
                io.String.Output("regions", display_name="regions",
                                 tooltip="The crop plan as JSON (boxes, sizes, scales)."),
            ],
        )

    @classmethod
    def execute(cls, model, vae, image, mask, options=None, **widgets) -> io.NodeOutput:
        """`widgets`: the schema's other inputs by name (the sampler's, the crop's, the optional clip,
        condition, control_net and model_patch)."""
        w = widgets
        settings = SamplerSettings(w["seed"], w["steps"], w["cfg"], w["sampler_name"], w["scheduler"], w["denoise"],
                                   w["noise_mask"], w["batch_size"], w["guidance"], w["differential_attention"],
                                   w["dd_strength"])
        options = (options or InpaintOptions()).with_main_widgets(
            context=w["context"], grow=w["grow"], feather=w["feather"], target_mp=w["target_megapixels"])
        connected = Connected(model, vae, w.get("control_net"), w.get("model_patch"))
        prompt = Prompt(w["text"], w.get("clip"), w.get("condition"))
        return inpaint(cls, NODE, connected, image, mask, prompt, settings, options)
