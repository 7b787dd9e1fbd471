"""The node's full-size work: a small mask on a large image makes exactly two full-size tensors, the
result image and the `mask` output. Every other tensor the node creates (masks, plan, crops, stitch
record, preview) is sized by the mask's windows, not by the image. Counted with a torch dispatch mode
that sees every tensor any op creates."""

from __future__ import annotations

import torch
from comfy_host import run_node
from node_calls import inpaint, node_classes, small_options
from torch.utils._python_dispatch import TorchDispatchMode

SIDE = 1024


def _storages(values) -> set[int]:
    found = set()
    for v in values:
        if isinstance(v, torch.Tensor):
            found.add(v.untyped_storage().data_ptr())
        elif isinstance(v, (tuple, list)):
            found |= _storages(v)
    return found


class FullSizeTensors(TorchDispatchMode):
    """Records (op, shape) of every NEW tensor (not a view of an op's inputs) with the image's height and
    width among its dimensions."""

    def __init__(self, side: int) -> None:
        super().__init__()
        self.side, self.seen = side, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = _storages(list(args) + list((kwargs or {}).values()))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if (isinstance(t, torch.Tensor) and list(t.shape).count(self.side) >= 2
                    and t.untyped_storage().data_ptr() not in inputs):
                self.seen.append((str(func), tuple(t.shape)))
        return out


def scene() -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.rand(1, SIDE, SIDE, 3, generator=torch.Generator().manual_seed(2))
    mask = torch.zeros(1, SIDE, SIDE)
    mask[0, 400:440, 600:660] = 1.0
    return image, mask


def test_a_small_mask_costs_two_full_size_tensors_the_result_and_the_mask_output(comfy, small_models):
    image, mask = scene()
    options = small_options()
    inpaint(small_models, image, mask, options=options, steps=1)  # warm-up: models loaded, caches built
    with FullSizeTensors(SIDE) as large:
        out = inpaint(small_models, image, mask, options=options, steps=1).result
    assert out[0].shape == (1, SIDE, SIDE, 3) and out[2].shape == (1, SIDE, SIDE)
    assert sorted(shape for _, shape in large.seen) == [(1, SIDE, SIDE), (1, SIDE, SIDE, 3)], large.seen


def test_the_crop_node_makes_no_full_size_tensor(comfy):
    image, mask = scene()
    crop = node_classes()[1]
    widgets = dict(context=1.0, grow=0, feather=16, target_megapixels=0.02, snap=16)
    run_node(crop, image=image, mask=mask, **widgets)
    with FullSizeTensors(SIDE) as large:
        stitcher = run_node(crop, image=image, mask=mask, **widgets).result[0]
    assert large.seen == []
    assert stitcher.originals.data_ptr() == image.data_ptr()  # the record holds the input, not a copy


def test_one_mask_on_a_batch_of_four_stays_one_mask(comfy, small_models):
    """A batch-1 mask on 4 images is one mask all the way: the only full-size tensors are the 4 results and
    one [1,H,W] composite mask (the `mask` output is a broadcast view of it, 4 rows, no copies)."""
    image, mask = scene()
    images = torch.cat([image, image.flip(1), image.flip(2), 1 - image])
    options = small_options()
    inpaint(small_models, images, mask, options=options, steps=1)  # warm-up
    with FullSizeTensors(SIDE) as large:
        out = inpaint(small_models, images, mask, options=options, steps=1).result
    assert out[0].shape == (4, SIDE, SIDE, 3) and out[2].shape == (4, SIDE, SIDE)
    assert sorted(shape for _, shape in large.seen) == [(1, SIDE, SIDE), (4, SIDE, SIDE, 3)], large.seen
    assert out[2].untyped_storage().nbytes() == SIDE * SIDE * out[2].element_size(), "one mask's storage"
