"""Server-level reliability: schema limits, the same prompt queued twice at once, interrupt mid-sampling."""

from __future__ import annotations

import time

import numpy as np
import pytest
from api_graphs import decode, inpainter_graph, upload_inputs
from comfy_host import ExecutionError


@pytest.fixture(scope="module")
def uploaded(comfy_server):
    return upload_inputs(comfy_server.client())


# steps 0 is the automatic value (the family's template steps); -1 is below the schema's range
@pytest.mark.parametrize(("name", "value"), [("batch_size", 0), ("batch_size", 17), ("steps", -1)])
def test_schema_rejects_out_of_range_widgets(comfy_client, uploaded, name, value):
    graph = inpainter_graph(comfy_client, uploaded["image_name"], uploaded["mask_name"])
    graph["inpaint"]["inputs"][name] = value
    with pytest.raises(ExecutionError) as err:
        comfy_client.queue(graph)
    errors = err.value.details["node_errors"]["inpaint"]["errors"]
    assert any(e["extra_info"].get("input_name") == name for e in errors)
    assert {e["type"] for e in errors} <= {"value_smaller_than_min", "value_bigger_than_max"}


def test_same_prompt_queued_twice_concurrently_both_complete(comfy_client, uploaded):
    graph = inpainter_graph(comfy_client, uploaded["image_name"], uploaded["mask_name"], seed=31)
    ids = [comfy_client.queue(graph), comfy_client.queue(graph)]
    results = []
    for prompt_id in ids:
        entry = comfy_client.wait(prompt_id, timeout=600)
        assert entry["status"]["status_str"] == "success"
        (png,) = comfy_client.images(entry, "save")
        results.append(decode(png))
    image, mask = uploaded["image"], uploaded["mask"][..., 0] > 0
    assert np.array_equal(results[0], results[1])
    assert results[0].shape == image.shape and not np.array_equal(results[0][mask], image[mask])


def test_interrupt_during_sampling_then_the_next_prompt_runs_correctly(comfy_client, uploaded):
    normal = inpainter_graph(comfy_client, uploaded["image_name"], uploaded["mask_name"], seed=42)
    reference = decode(comfy_client.images(comfy_client.run(normal), "save")[0])

    slow = inpainter_graph(comfy_client, uploaded["image_name"], uploaded["mask_name"], seed=43)
    slow["inpaint"]["inputs"]["steps"] = 5000
    prompt_id = comfy_client.queue(slow)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not comfy_client.queue_state()["queue_running"]:
        time.sleep(0.2)
    assert comfy_client.queue_state()["queue_running"], "the slow prompt never started"
    time.sleep(3.0)  # let it reach the sampler
    comfy_client.interrupt()
    with pytest.raises(ExecutionError) as err:
        comfy_client.wait(prompt_id, timeout=300)
    kinds = [kind for kind, _ in err.value.details["status"]["messages"]]
    assert "execution_interrupted" in kinds

    # The server keeps the loaded model: a re-run must match the run before the interrupt exactly.
    # An unused option (fixed_width in area mode) changes so the cache cannot answer for the node.
    normal["options"]["inputs"]["fixed_width"] = 640
    after = decode(comfy_client.images(comfy_client.run(normal), "save")[0])
    assert np.array_equal(after, reference)
