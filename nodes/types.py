"""Value types shared by the pipeline's stages. Imports nothing of the pack (no import circles)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Edit modes of Inpaint Options (the one list; nodes/option_schema.py, options.py and modes.py read it).
INPAINT, CHANNEL_EDIT, SPATIAL_CONCAT, KONTEXT, REPAINT, REFERENCE = (
    "inpaint", "channel_edit", "spatial_concat", "kontext", "repaint", "reference")
# 'kontext' stays in the list (saved workflows store the combo's value positionally); it means 'reference'.
EDIT_MODES = (INPAINT, CHANNEL_EDIT, SPATIAL_CONCAT, KONTEXT, REPAINT, REFERENCE)

# Inpaint Options `changed_only` (the changed-only stitch, crop_stitch/changed_only.py): auto = on in the
# modes whose models re-render the whole crop.
CHANGED_ONLY_AUTO, CHANGED_ONLY_OFF, CHANGED_ONLY_ON = "auto", "off", "on"
CHANGED_ONLY_CHOICES = (CHANGED_ONLY_AUTO, CHANGED_ONLY_OFF, CHANGED_ONLY_ON)
RERENDERING_MODES = (REFERENCE, KONTEXT)

# Inpaint Options `video`: how a batch of frames is cropped (crop_stitch/clip_plan.py). auto = one union box
# per region for the clip when a video model (Wan) is connected, else every image on its own (off).
VIDEO_AUTO, VIDEO_OFF, VIDEO_UNION, VIDEO_TRACK = "auto", "off", "union box", "tracked box"
VIDEO_CHOICES = (VIDEO_AUTO, VIDEO_OFF, VIDEO_UNION, VIDEO_TRACK)

# How a model takes the inpaint image (nodes/family.py decides).
FLUX_FILL = "flux_fill"  # Flux concat: masked-image latent + 8x8-unshuffled mask (Flux Fill)
CONCAT = "concat"  # concat channels read through concat_keys (SD/SDXL inpaint)
NO_CONCAT = "none"  # no concat inputs: the noise mask alone drives the inpaint


@dataclass(frozen=True)
class SamplerSettings:
    """The main node's sampling widgets, as the sampler stage reads them."""

    seed: int
    steps: int
    cfg: float
    sampler_name: str
    scheduler: str
    denoise: float
    noise_mask: bool
    variants: int  # the `batch_size` widget: variations per image
    guidance: float  # the `guidance` widget; 0 = automatic (see nodes/prompts.py)
    differential_diffusion: bool  # the `differential_attention` widget
    differential_strength: float  # the `dd_strength` widget


@dataclass(frozen=True)
class ModelTraits:
    """What the pipeline needs to know about the connected MODEL + VAE (see nodes/family.py)."""

    family: str  # a row of nodes/family.py FAMILIES
    inpaint_kind: str  # FLUX_FILL | CONCAT | NO_CONCAT
    concat_inputs: bool  # the model has concat input channels (Flux depth/canny too, though kind is none)
    multiple: int  # crop sides snap to this: VAE downscale x transformer patch size
    guidance_embed: bool  # the model reads a `guidance` value (guidance-distilled Flux)
    default_guidance: float | None  # what `guidance` 0 (automatic) means for this family
    reads_reference_latents: bool  # the model consumes `reference_latents` (Kontext-style editing)
    latent_channels: int
    latent_dimensions: int  # 2 for images; 3 for video-style latents [N,C,T,H,W]
    path: str  # "concat" | "reference" | "noise_mask": the family's own inpaint path (nodes/family.py)
    reference_guidance: float | None  # what `guidance` 0 means in reference mode (Kontext 2.5)
    real_negative: bool  # the family samples with CFG and an empty-prompt negative (its template)
    temporal_vae: bool  # the VAE reads a batch of images as video frames: encode one crop per call
    reference_sizes: tuple[tuple[int, int], ...] = ()  # trained sizes crops snap to in reference mode (Kontext)
    frame_window: int = 0  # a video model's frames per sampler call (its template's length); 0: an image model
    vace: bool = False  # the model has VACE layers: it reads a control video + mask (core WanVaceToVideo)


@dataclass(frozen=True)
class ModePlan:
    """What one edit mode changes in the shared pipeline (nodes/modes.py builds it)."""

    name: str
    concat: bool  # set concat_latent_image / concat_mask in the conditioning
    noise_mask: bool  # the latent carries a noise mask (the sampler keeps unmasked latents)
    grey_masked: bool  # grey the masked pixels of the concat image (core InpaintModelConditioning)
    concat_all_ones: bool  # concat mask = 1 everywhere (channel_edit)
    side_by_side: bool  # sample [reference | crop], stitch the right half (spatial_concat)
    reference_latent: bool  # append the encoded reference to the positive's reference_latents
    prefill: str  # GREY = core behaviour; else the masked pixels are filled before encoding


@dataclass(frozen=True)
class Connected:
    """The models connected to the main node: what samples, encodes and conditions each crop."""

    model: object  # MODEL (a ModelPatcher)
    vae: object  # VAE
    control_net: object | None = None  # CONTROL_NET: an inpaint ControlNet (nodes/control.py)
    model_patch: object | None = None  # MODEL_PATCH: an inpaint ControlNet patch (nodes/model_patch.py)


# The pipeline's one row order is region-major: a group's rows are r * variants + j (region r, variant j),
# and per-region results map plan index r -> its variants [variants, ...]. Outputs that need another
# layout convert once: the `latent` output to variant-major (nodes/decode.py latent_output), the stitch
# writes image-major (crop_stitch/stitch.py). crop_stitch/layout.py describes the three.
PerRegion = dict[int, torch.Tensor]


@dataclass
class PreparedGroup:
    """Crops of one target size, ready to sample: rows r * variants + j = region r, variant j."""

    region_indices: list[int]
    positive: list
    negative: list
    latent: dict
    split: int = 0  # spatial_concat: first pixel column of the part that is stitched back
    model_patch: object | None = None  # nodes/model_patch.CropRowsPatch: the MODEL_PATCH of these rows
