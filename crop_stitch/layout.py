"""Row orders of a batch of crops with several variations, and the two conversions between them.

- region-major, row r * V + j (region r, variant j): the pipeline's one order. A group's rows are
  sampled, decoded and stitched in it; per region it is a tensor [V, ...].
- variant-major, row j * R + r: how ComfyUI's Repeat*Batch nodes lay out R crops repeated V times. The
  main node's `latent` output and the FluxFill Stitch node's `inpainted_image` input use it.
- image-major, row b * V + j (image b, variant j): the stitched full-size images (Stitcher.stitch).

`crops_by_region` reads a variant-major batch into region-major tensors (the Stitch node's input);
`variant_major` writes region-major tensors as one variant-major batch (the `latent` output).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def crops_by_region(batch: Tensor, regions: int) -> list[Tensor]:
    """A variant-major batch [V*R,...] (row j*R + r) as R tensors [V,...], one per region."""
    if regions < 1 or batch.shape[0] % regions:
        raise ValueError(f"a batch of {batch.shape[0]} is not a whole number of variants of {regions} region(s)")
    return [batch[r::regions] for r in range(regions)]


def variant_major(per_region: Sequence[Tensor]) -> Tensor:
    """R tensors [V,...] as one batch [V*R,...] with row j*R + r = variant j of region r."""
    return torch.stack(list(per_region), dim=1).flatten(0, 1)
