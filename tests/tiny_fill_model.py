"""A random-weight LaMa built from spandrel's own architecture class (no download), for prefill
'fill_model' tests: the default LaMa structure (spandrel's loader pins it), 51 M parameters, stored as
float16 safetensors (~100 MB) in the tiny-model cache and linked into models/inpaint."""

from __future__ import annotations

import math

import torch


def lama_state_dict(seed: int = 21, dtype: torch.dtype = torch.float16) -> dict[str, torch.Tensor]:
    """Seeded random values for spandrel's LaMa(in_nc=4, out_nc=3): unit batch-norm statistics and gains
    (so activations stay finite), fan-in scaled conv weights, small biases."""
    from spandrel.architectures.LaMa import LaMa

    with torch.device("meta"):
        model = LaMa(in_nc=4, out_nc=3)
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in model.state_dict().items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "num_batches_tracked":
            out[name] = torch.zeros((), dtype=torch.int64)
            continue
        if leaf == "running_mean":
            value = torch.zeros(tensor.shape)
        elif leaf == "running_var" or (leaf == "weight" and tensor.dim() == 1):
            value = torch.ones(tensor.shape)
        elif leaf == "bias":
            value = torch.randn(tensor.shape, generator=generator) * 0.02
        else:
            fan_in = math.prod(tensor.shape[1:]) if tensor.dim() > 1 else tensor.shape[0]
            value = torch.randn(tensor.shape, generator=generator) / math.sqrt(max(fan_in, 1))
        out[name] = value.to(dtype).contiguous()
    return out
