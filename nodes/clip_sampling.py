"""The clip sampler, for video models (Wan 2.1 / 2.2, VACE): each region's crops of a clip sampled together
as ONE video latent [1, C, T, h, w] per window and variant.

A region's frames (its span in crop_stitch/clip_plan.py, one box for the clip) are padded with their last
frame, unmasked, to the frame count the temporal VAE encodes whole (Wan: 4k + 1). Up to the model's frame
window that is one window; a longer clip is sampled in overlapping windows whose decoded frames crossfade
over the overlap (crop_stitch/clip_frames.py). Per window: one encode; the noise mask per latent frame is the
largest mask of the frames it covers (any masked frame is repainted); a VACE model also gets core
WanVaceToVideo's control video (the crop, masked pixels grey) and mask. Variant j of window w starts from
noise of seed + j: the (w + 1)-th draw of a generator seeded seed + j (diff_attention region_variant_noise),
so a clip in one window gets, per variant, exactly the noise core KSampler draws for it with seed + j.
"""

from __future__ import annotations

from dataclasses import dataclass

import comfy.model_management
import comfy.sample
import comfy.utils
import torch
import torch.nn.functional as F

from ..crop_stitch import GREY, ClipRegion, blend_windows, frame_windows, variant_major, whole_length
from ..diff_attention import WrappingSeed, apply_differential_diffusion, region_variant_noise
from .crop_stage import CropStage, crop_images
from .inputs import InputError
from .option_values import InpaintOptions, VideoSettings
from .sampling import Progress, progress_callback
from .types import INPAINT, REPAINT, Connected, PerRegion, SamplerSettings
from .vae_io import decode_images


def check_clip_inputs(options: InpaintOptions, connected: Connected, node: str) -> None:
    """InputError for what the clip sampler does not do: edit modes, pre-fills, refine, control inputs."""
    unsupported = [
        (options.mode not in (INPAINT, REPAINT), f"Inpaint Options mode '{options.mode}'"),
        (options.prefill != GREY, f"Inpaint Options prefill '{options.prefill}'"),
        (options.refine.enabled, "Inpaint Options refine"),
        (connected.control_net is not None, "input 'control_net'"),
        (connected.model_patch is not None, "input 'model_patch'"),
    ]
    used = [name for bad, name in unsupported if bad]
    if used:
        raise InputError(f"{node}: a video model samples each region's frames as one clip (Inpaint Options video "
                         f"'{options.video.box}'), which does not take {', '.join(used)}. Use mode inpaint "
                         f"(the VACE control video comes from the model), or set video 'off' to sample every "
                         f"frame as an image.")


@dataclass(frozen=True)
class ClipFrames:
    """One region's crops over its span, padded to a whole length: pixels [T,h,w,3], masks [T,h,w]."""

    pixels: torch.Tensor
    inpaint: torch.Tensor
    denoise: torch.Tensor
    real: int  # frames of the span (the rest is padding)

    def window(self, frames: range) -> ClipFrames:
        """The frames of one sampling window."""
        part = slice(frames.start, frames.stop)
        return ClipFrames(self.pixels[part], self.inpaint[part], self.denoise[part], len(frames))


def _padded(tensor: torch.Tensor, total: int, value: float | None) -> torch.Tensor:
    """`tensor` [T,...] to `total` frames: its last frame repeated (value None) or `value`."""
    extra = total - tensor.shape[0]
    if extra <= 0:
        return tensor
    tail = tensor[-1:].expand(extra, *tensor.shape[1:]) if value is None else tensor.new_full(
        (extra, *tensor.shape[1:]), value)
    return torch.cat([tensor, tail])


def clip_frames(stage: CropStage, clip: ClipRegion, step: int) -> ClipFrames:
    """The region's crops, resized, on the compute device, padded to a length the VAE encodes whole."""
    batch = crop_images(stage, list(clip.region_indices))
    total = whole_length(len(clip.frames), step)
    return ClipFrames(_padded(batch.images[..., :3], total, None), _padded(batch.inpaint, total, 0.0),
                      _padded(batch.denoise, total, 0.0), len(clip.frames))


def latent_frame_mask(mask: torch.Tensor, step: int) -> torch.Tensor:
    """[1,1,T',h,w] from per-frame masks [T,h,w]: latent frame 0 is frame 0, latent frame k the largest of frames
    step*(k-1)+1 .. step*k (the frames a Wan-style temporal VAE folds into it)."""
    if step <= 1 or mask.shape[0] == 1:
        return mask[None, None]
    rest = mask[1:].reshape(-1, step, *mask.shape[1:]).amax(dim=1)
    return torch.cat([mask[:1], rest])[None, None]


def vace_conditioning(conditioning: tuple[list, list], vae, pixels: torch.Tensor, inpaint: torch.Tensor
                      ) -> tuple[list, list]:
    """positive, negative with core WanVaceToVideo's vace_frames / vace_mask / vace_strength for this window:
    control video = the crop with its masked pixels grey, control masks = the binary inpaint mask."""
    from comfy_extras.nodes_wan import WanVaceToVideo

    masked = (inpaint > 0).to(pixels.dtype)
    control = (pixels - 0.5) * (1.0 - masked)[..., None] + 0.5
    out = WanVaceToVideo.execute(conditioning[0], conditioning[1], vae, pixels.shape[2], pixels.shape[1],
                                 pixels.shape[0], 1, 1.0, control_video=control, control_masks=masked)
    return out.result[0], out.result[1]


def _window_latent(vae, part: ClipFrames, step: int) -> dict:
    samples = vae.encode(part.pixels)
    return {"samples": samples, "noise_mask": latent_frame_mask(part.denoise, step).to(samples.device)}


def _clip_latents(latents: list[torch.Tensor]) -> dict:
    """Per region [V,C,T',h',w'] as one variant-major LATENT; regions of other sizes are resized (trilinear)
    to the first region's latent size so they fit in one batch."""
    size = latents[0].shape[-3:]
    same = [t if t.shape[-3:] == size else F.interpolate(t, size=tuple(size), mode="trilinear") for t in latents]
    return {"samples": variant_major(same).to(comfy.model_management.intermediate_device())}


def sample_clips(stage: CropStage, connected: Connected, conditioning: tuple[list, list],
                 settings: SamplerSettings, video: VideoSettings, window: int, vace: bool) -> tuple[PerRegion, dict]:
    """Sample every clip region of the stage; returns the decoded crops per plan region ([variants,h,w,3] on the
    intermediate device) and the LATENT output (each region's clip latent; re-encoded from the blended frames
    when it was sampled in several windows). `window`: the model's frames per call (video.frame_window wins)."""
    model, vae = connected.model, connected.vae
    step = int(vae.temporal_compression_decode() or 1)
    if settings.differential_diffusion and settings.noise_mask:
        model = apply_differential_diffusion(model, settings.differential_strength)
    home = comfy.model_management.intermediate_device()
    variants = settings.variants
    spans = [frame_windows(whole_length(len(c.frames), step), video.frame_window or window, video.frame_overlap,
                           step) for c in stage.clips]
    progress = Progress()
    progress.reserve(settings.steps * variants * sum(len(s) for s in spans))
    crops: PerRegion = {}
    latents = []
    for clip, windows in zip(stage.clips, spans, strict=True):
        frames = clip_frames(stage, clip, step)
        decoded: list[list[torch.Tensor]] = [[] for _ in range(variants)]
        sampled = []
        noise = None  # every window of a region has one length: its noise is drawn once, window w = draw w + 1
        for w_index, window_frames in enumerate(windows):
            part = frames.window(window_frames)
            latent = _window_latent(vae, part, step)
            positive, negative = conditioning
            if vace:
                positive, negative = vace_conditioning(conditioning, vae, part.pixels, part.inpaint)
            if noise is None:
                noise = region_variant_noise([tuple(latent["samples"].shape)] * len(windows), settings.seed, variants)
            for j in range(variants):
                comfy.model_management.throw_exception_if_processing_interrupted()
                start = noise[w_index][j:j + 1]
                samples = comfy.sample.sample(
                    model, start, settings.steps, settings.cfg, settings.sampler_name, settings.scheduler,
                    positive, negative, latent["samples"], denoise=settings.denoise,
                    noise_mask=latent["noise_mask"] if settings.noise_mask else None,
                    seed=WrappingSeed(settings.seed + j), callback=progress_callback(model, progress),
                    disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED)
                progress.done += settings.steps
                decoded[j].append(decode_images(vae, samples)[:len(window_frames)].to(home))
                if len(windows) == 1:
                    sampled.append(samples)
        clips = [blend_windows(parts, windows)[:frames.real] for parts in decoded]
        for position, index in enumerate(clip.region_indices):
            crops[index] = torch.stack([c[position] for c in clips])
        if len(windows) > 1:  # the windows' latents overlap in time: the LATENT is the blended clip, encoded
            sampled = [vae.encode(_padded(c, len(frames.pixels), None)) for c in clips]
        latents.append(torch.cat(sampled))
        del frames
        comfy.model_management.soft_empty_cache()
    return crops, _clip_latents(latents)
