"""Natural photographs for tests (scikit-image's bundled data, read from the installed wheel: no network) and
what an edit model that drifts would return for a box of one (shift, zoom), made by the test's own resampling."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image


def photo(name: str) -> torch.Tensor:
    """[1,H,W,3] float image from scikit-image's bundled data (read from the installed wheel, no network)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-image is not installed (tests/requirements.txt)")
    path = Path(spec.submodule_search_locations[0]) / "data" / name
    pixels = np.array(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels)[None]


def drifted_box(full: torch.Tensor, box: tuple[int, int, int, int], zoom: float, shift: tuple[float, float]
                ) -> torch.Tensor:
    """[1,h,w,3]: the box of `full` as a model that drifted would return it: the content at image point q shows
    at p = c + zoom (q - c) + shift (c: the box centre), read bicubically at q for every box pixel p."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1 - 1) / 2.0, (y0 + y1 - 1) / 2.0
    ys, xs = torch.meshgrid(torch.arange(y0, y1, dtype=torch.float64), torch.arange(x0, x1, dtype=torch.float64),
                            indexing="ij")
    qx, qy = cx + (xs - cx - shift[0]) / zoom, cy + (ys - cy - shift[1]) / zoom
    h, w = full.shape[1:3]
    grid = torch.stack(((qx + 0.5) / w * 2 - 1, (qy + 0.5) / h * 2 - 1), dim=-1)[None].float()
    out = F.grid_sample(full.permute(0, 3, 1, 2), grid, mode="bicubic", padding_mode="border", align_corners=False)
    return out.permute(0, 2, 3, 1).clamp(0, 1)
