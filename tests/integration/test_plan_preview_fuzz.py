"""The crop-preview route under hostile input: ranges from the node schemas, bounded cost per request (the
image decoded once per file version, 8-bit), and a property-based fuzz of the handler: never a 5xx, never more
than a few seconds, server memory bounded. The fuzz prints its figures (examples, slowest request, RSS growth)."""

from __future__ import annotations

import asyncio
import json
import resource
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image


def route():
    from fluxfill_inpainter.nodes import plan_preview_route

    return plan_preview_route


def request_module():
    from fluxfill_inpainter.nodes import preview_request

    return preview_request


@pytest.fixture(scope="module")
def input_dir(comfy) -> Path:
    import folder_paths

    root = Path(folder_paths.get_input_directory())
    rng = np.random.default_rng(5)
    for name, (w, h) in {"ffi_fuzz_small.png": (160, 96), "ffi_fuzz_512.png": (512, 512)}.items():
        alpha = np.full((h, w), 255, np.uint8)
        alpha[h // 4:h // 3, w // 5:w // 2] = 0
        alpha[h // 2:h // 2 + 3, :] = 100
        Image.fromarray(np.dstack([rng.integers(0, 255, (h, w, 3), dtype=np.uint8), alpha]), "RGBA").save(root / name)
    return root


class Request:
    def __init__(self, body):
        self.body = body

    async def json(self):
        return self.body


def call(payload) -> tuple[int, dict]:
    response = asyncio.run(route().handle_plan_preview(Request(payload)))
    return response.status, json.loads(response.text)


def test_every_number_outside_its_schema_range_is_refused(input_dir):
    ranges = request_module().schema_ranges()
    assert ranges["merge_gap"] == (int, 0, 4096) and ranges["min_side"][2] == 8192  # the Inpaint Options widgets
    main = {"context", "grow", "feather", "target_megapixels"}
    for name, (kind, low, high) in ranges.items():
        for value in (high + 1, low - 1) if kind is int else (high + 0.5, low - 0.5):
            payload = {"image": "ffi_fuzz_512.png"}
            payload.update({name: value} if name in main else {"options": {name: value}})
            status, body = call(payload)
            assert status == 400 and name in body["error"], (name, value, status, body)


def test_the_issue_requests_are_refused_at_once(input_dir):
    for options in ({"merge_gap": 40000}, {"merge_gap": 300000}, {"min_side": 10_000_000, "max_side": 10_000_000}):
        status, _ = call({"image": "ffi_fuzz_512.png", "multiple": 1, "options": options})
        assert status == 400


def test_a_resent_preview_decodes_the_file_once(input_dir, monkeypatch):
    module = request_module()
    decoded = []
    real = module._decode
    monkeypatch.setattr(module, "_decode", lambda path: decoded.append(path) or real(path))
    module._cache.clear()
    plans = [call({"image": "ffi_fuzz_512.png", "grow": g}) for g in (0, 4, 8)]
    assert all(status == 200 for status, _ in plans) and len(decoded) == 1
    path = input_dir / "ffi_fuzz_512.png"
    Image.open(path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path)  # a new version of the file
    assert call({"image": "ffi_fuzz_512.png"})[0] == 200 and len(decoded) == 2


def test_the_plan_reads_alpha_as_core_loadimage_does(input_dir):
    import nodes

    image, mask = nodes.LoadImage().load_image("ffi_fuzz_small.png")
    path = str(input_dir / "ffi_fuzz_small.png")
    stat = Path(path).stat()
    ours_image, ours_mask = request_module().image_and_mask(path, stat.st_mtime_ns, stat.st_size)
    assert ours_image.shape == image.shape and ours_image.untyped_storage().nbytes() == 12
    assert mask.dtype == ours_mask.dtype and mask.shape[-2:] == ours_mask.shape[-2:]
    assert (mask.reshape(ours_mask.shape) == ours_mask).all()


def test_concurrent_previews_beyond_the_limit_are_answered_429(input_dir, monkeypatch):
    module = request_module()
    monkeypatch.setattr(module, "QUEUE_WAIT_S", 0.0)
    slots = [module.plan_slot() for _ in range(module.CONCURRENT_PLANS)]
    for slot in slots:
        slot.__enter__()
    try:
        assert call({"image": "ffi_fuzz_small.png"})[0] == 429
    finally:
        for slot in slots:
            slot.__exit__(None, None, None)
    assert call({"image": "ffi_fuzz_small.png"})[0] == 200


NAMES = st.sampled_from(["ffi_fuzz_small.png", "ffi_fuzz_512.png", "../x.png", "/etc/passwd", "", "a\x00b",
                         "clipspace/ffi_fuzz_small.png [input]", "ffi_fuzz_512.png [output]", "nope.png"]) | st.text()
NUMBERS = (st.integers(-10**12, 10**12) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([0, 1, 8, 16, 64, 4096, 8192, 40000, 300000, 10**7]))
JSONS = st.recursive(st.none() | st.booleans() | NUMBERS | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=8)


def option_names() -> list[str]:
    return sorted(route().OPTION_DEFAULTS)


@st.composite
def payloads(draw):
    if draw(st.integers(0, 9)) == 0:
        return draw(JSONS)
    payload = {"image": draw(NAMES)}
    for key in ("context", "grow", "feather", "target_megapixels", "multiple", "subfolder", "type"):
        if draw(st.booleans()):
            payload[key] = draw(NUMBERS | JSONS)
    if draw(st.booleans()):
        keys = st.sampled_from(option_names()) | st.text(max_size=10)
        payload["options"] = draw(st.dictionaries(keys, NUMBERS | JSONS, max_size=6) | JSONS)
    return payload


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


FIGURES = {"examples": 0, "slowest_s": 0.0, "rss_growth_mib": 0.0, "statuses": {}}


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=payloads())
def run_fuzz(payload):
    start_rss = FIGURES.setdefault("start_rss", rss_kib())
    start = time.monotonic()
    status, body = call(payload)
    took = time.monotonic() - start
    FIGURES["examples"] += 1
    FIGURES["slowest_s"] = max(FIGURES["slowest_s"], took)
    FIGURES["rss_growth_mib"] = max(FIGURES["rss_growth_mib"], (rss_kib() - start_rss) / 1024)
    FIGURES["statuses"][status] = FIGURES["statuses"].get(status, 0) + 1
    assert status < 500 and (status != 200 or "regions" in body) and (status == 200 or "error" in body)
    assert took < 10.0, f"{took:.1f}s for {payload!r}"  # a generous cap, not a timing test


def test_fuzz_the_route_never_5xx_fast_and_bounded_memory(input_dir):
    call({"image": "ffi_fuzz_512.png"})  # warm: imports, the cache
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run_fuzz()
    peak_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    FIGURES["peak_rss_growth_mib"] = peak_growth
    print("\nplan preview fuzz:", json.dumps({k: v for k, v in FIGURES.items() if k != "start_rss"}))
    assert FIGURES["examples"] >= 100
    assert FIGURES["rss_growth_mib"] < 256 and peak_growth < 256, FIGURES
