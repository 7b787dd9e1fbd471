"""The sampler stage: per-variant noise, the differential-diffusion patch, sampler calls split to fit
memory, progress and interrupt.

Rows of a group are laid out r * variants + j (region r, variant j). Variant j always starts from
the noise of seed + j; samplers proven deterministic given that noise sample many rows per call,
every other sampler gets one call per row seeded seed + j, so variant j of a batch equals a
batch_size 1 run with seed + j for every sampler the host lists.
"""

from __future__ import annotations

import comfy.model_management
import comfy.sample
import comfy.utils
import latent_preview
import torch

from ..diff_attention import WrappingSeed, apply_differential_diffusion, region_variant_noise
from .control import control_rows
from .model_patch import with_patch_rows
from .types import PreparedGroup, SamplerSettings

# Samplers whose result depends on the initial noise only (no step noise drawn from the call's seed,
# no batch-wide step-size control), proven row by row in tests/integration/test_sampler_seeds.py.
# Any other sampler (ancestral, SDE, lcm, ddpm, seeds_*, sa_solver*, ddim with its random inpaint
# noise, dpm_adaptive's batch-wide error control, and samplers added by newer hosts) gets one row per call.
BATCHABLE_SAMPLERS = frozenset({
    "euler", "euler_cfg_pp", "heun", "heunpp2", "dpm_2", "lms", "dpm_fast", "dpmpp_2m", "dpmpp_2m_cfg_pp",
    "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp", "gradient_estimation",
    "gradient_estimation_cfg_pp", "uni_pc", "uni_pc_bh2",
})
# Upper bound on rows (crops x variants) per sampler call, whatever memory the host reports.
MAX_ROWS_PER_CALL = 16
MEMORY_HEADROOM = 0.8  # use at most this share of the free memory for the rows of one call


def rows_per_call(model, latent_shape: tuple[int, ...], cfg: float) -> int:
    """How many rows one call may take: what the host's free memory allows once the model is loaded, at most
    MAX_ROWS_PER_CALL. Free memory is read before the sampler loads the model, so the part of the model not
    yet on its load device is subtracted (none where it is offloaded to the same device, as on the CPU)."""
    base = model.model
    passes = 2 if cfg != 1.0 else 1  # CFG evaluates the negative too
    per_row = base.memory_required([passes, *latent_shape[1:]])
    free = comfy.model_management.get_free_memory(model.load_device)
    if model.load_device != model.offload_device:
        free -= max(0, model.model_size() - model.loaded_size())
    fits = int(max(free, 0) * MEMORY_HEADROOM // max(per_row, 1))
    return max(1, min(MAX_ROWS_PER_CALL, fits))


def sampler_calls(regions: int, variants: int, sampler_name: str, max_rows: int) -> list[tuple[torch.Tensor, int]]:
    """(rows, seed offset) of each sampler call for a group of `regions` x `variants` rows."""
    if sampler_name not in BATCHABLE_SAMPLERS:
        return [(torch.tensor([r * variants + j]), j) for r in range(regions) for j in range(variants)]
    rows = torch.arange(regions * variants)
    return [(chunk, 0) for chunk in rows.split(max_rows)]


def _select_rows(conditioning: list, rows: torch.Tensor, batch: int) -> list:
    """The conditioning of some rows of a group: per-row concat and reference tensors are sliced."""
    def rows_of(key: str, value):
        if isinstance(value, torch.Tensor) and key.startswith("concat") and value.shape[0] == batch:
            return value[rows]
        if key == "control":
            return control_rows(value, rows, batch)
        if key == "reference_latents":
            return [v[rows] if isinstance(v, torch.Tensor) and v.shape[0] == batch else v for v in value]
        return value

    return [[tokens, {k: rows_of(k, v) for k, v in extras.items()}] for tokens, extras in conditioning]


class Progress:
    """One progress bar over several sample_groups calls (the refine pass continues the first pass's bar)."""

    def __init__(self, total: int = 0):
        self.total, self.done = total, 0
        self.bar = comfy.utils.ProgressBar(max(total, 1))

    def reserve(self, steps: int, later: int = 0) -> None:
        """Make room for `steps` now and an estimated `later` steps of a following pass."""
        self.total = max(self.total, self.done + steps + later)


def progress_callback(model, progress: Progress):
    """A sampler callback advancing `progress` (from where it is now) with the host's latent previews."""
    previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)
    offset = progress.done

    def callback(step, x0, x, total_steps):
        preview = previewer.decode_latent_to_preview_image("JPEG", x0) if previewer else None
        progress.bar.update_absolute(offset + step + 1, progress.total, preview)

    return callback


def _group_noise(groups: list[PreparedGroup], settings: SamplerSettings) -> dict[int, torch.Tensor]:
    """Initial noise [variants,C,h,w] per region: variant j from seed + j, regions drawn in plan order."""
    shapes = {}
    for g in groups:
        for k, idx in enumerate(g.region_indices):
            shapes[idx] = tuple(g.latent["samples"][k * settings.variants:k * settings.variants + 1].shape)
    order = sorted(shapes)
    noise = region_variant_noise([shapes[i] for i in order], settings.seed, settings.variants)
    return dict(zip(order, noise, strict=True))


def sample_groups(model, groups: list[PreparedGroup], settings: SamplerSettings, noise_masked: bool,
                  progress: Progress | None = None, later_steps: int = 0) -> list[torch.Tensor]:
    """Sample every group; returns the sampled latents per group (rows as the group's).

    `noise_masked`: the groups carry a noise mask; differential diffusion applies only then.
    `progress`: a bar shared with another pass; `later_steps` the steps that pass is expected to add.
    """
    noise_by_region = _group_noise(groups, settings)
    if settings.differential_diffusion and noise_masked:
        model = apply_differential_diffusion(model, settings.differential_strength)
    plans = []
    for g in groups:
        shape = tuple(g.latent["samples"].shape)
        plans.append(sampler_calls(len(g.region_indices), settings.variants, settings.sampler_name,
                                   rows_per_call(model, shape, settings.cfg)))
    progress = progress or Progress()
    progress.reserve(settings.steps * sum(len(p) for p in plans), later_steps)
    out = []
    for g, calls in zip(groups, plans, strict=True):
        latent_image = comfy.sample.fix_empty_latent_channels(model, g.latent["samples"])
        noise = torch.cat([noise_by_region[i] for i in g.region_indices])
        noise_mask = g.latent.get("noise_mask")
        batch = latent_image.shape[0]
        samples = torch.empty_like(latent_image)
        for rows, offset in calls:
            comfy.model_management.throw_exception_if_processing_interrupted()
            samples[rows] = comfy.sample.sample(
                with_patch_rows(model, g.model_patch, rows), noise[rows], settings.steps, settings.cfg,
                settings.sampler_name, settings.scheduler,
                _select_rows(g.positive, rows, batch), _select_rows(g.negative, rows, batch), latent_image[rows],
                denoise=settings.denoise, noise_mask=None if noise_mask is None else noise_mask[rows],
                seed=WrappingSeed(settings.seed + offset), callback=progress_callback(model, progress),
                disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED).to(samples.dtype)
            progress.done += settings.steps
        out.append(samples)
    return out
