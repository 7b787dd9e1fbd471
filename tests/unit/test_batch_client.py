"""The batch client's pure parts: CSV parsing, path confinement, resume keys, template handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_client.comfy_api import describe_rejection
from batch_client.rows import CsvFormatError, RowError, confine, read_csv, row_key
from batch_client.runner import State
from batch_client.workflow import (
    DEFAULT_TEMPLATE,
    TemplateError,
    apply_overrides,
    build_graph,
    check_template,
    load_template,
)

OBJECT_INFO = {
    "FFI_FluxFillInpainter": {"input": {"required": {
        "seed": ["INT", {"default": 0, "min": 0}], "steps": ["INT", {"default": 20, "min": 1, "max": 10000}],
        "guidance": ["FLOAT", {"default": 30.0, "min": 0.0, "max": 100.0}], "cfg": ["FLOAT", {"default": 1.0}],
        "denoise": ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0}],
        "batch_size": ["INT", {"default": 1, "max": 16}],
        "feather": ["INT", {"default": 16}], "image": ["IMAGE", {}],
    }}},
    "FFI_InpaintOptions": {"input": {"required": {
        "target_mode": ["COMBO", {"default": "area", "options": ["area", "fixed", "none"]}],
        "fixed_width": ["INT", {"default": 1024, "min": 64, "max": 8192}],
        "fixed_height": ["INT", {"default": 1024, "min": 64, "max": 8192}],
        "min_side": ["INT", {"default": 512, "min": 64}],
    }}},
    "LoadImageMask": {"input": {"required": {"channel": [["alpha", "red"], {}]}}},
}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"image-a")
    (tmp_path / "img" / "m.png").write_bytes(b"mask-m")
    (tmp_path.parent / f"{tmp_path.name}_outside.png").write_bytes(b"secret")
    return tmp_path


def test_rows_parse_with_numbers_and_alpha(data):
    parsed = read_csv(write(data / "e.csv", "image,mask,prompt,seed,steps,guidance,width,height,notes\n"
                                            "img/a.png,img/m.png,a cat,7,4,3.5,,,x\n"
                                            "\n"
                                            "img/a.png,ALPHA,a dog,,,,512,768,y\n"))
    assert parsed.errors == [] and parsed.total == 2 and parsed.ignored_columns == ["notes"]
    first, second = parsed.rows
    assert first.number == 1 and first.image == (data / "img" / "a.png").resolve()
    assert first.settings == {"seed": 7, "steps": 4, "guidance": 3.5} and first.prompt == "a cat"
    assert second.number == 2 and second.mask is None and second.settings == {"width": 512, "height": 768}
    assert first.label == "row0001_a"


@pytest.mark.parametrize("cells, column, words", [
    ("img/a.png,img/none.png,p,", "mask", "does not exist"),
    ("../{outside},img/m.png,p,", "image", "outside"),
    ("img/a.png,img/m.png,p,1.5", "seed", "not an integer"),
    ("img/a.png,img/m.png,p,-3", "seed", "below the minimum"),
    ("img/a.png,img,p,", "mask", "not a file"),
])
def test_a_bad_cell_is_an_error_naming_row_and_column(data, cells, column, words):
    cells = cells.format(outside=f"{data.name}_outside.png")
    parsed = read_csv(write(data / "e.csv", f"image,mask,prompt,seed\nimg/a.png,img/m.png,ok,1\n{cells}\n"))
    assert [r.number for r in parsed.rows] == [1]
    (err,) = parsed.errors
    assert err.row == 2 and err.column == column and words in str(err)
    assert str(err).startswith(f"row 2, column '{column}'")


def test_width_without_height_is_refused(data):
    parsed = read_csv(write(data / "e.csv", "image,mask,prompt,width\nimg/a.png,img/m.png,p,512\n"))
    assert parsed.rows == [] and parsed.errors[0].column == "height"


def test_missing_required_column_fails_the_whole_csv(data):
    with pytest.raises(CsvFormatError, match="prompt"):
        read_csv(write(data / "e.csv", "image,mask\nimg/a.png,img/m.png\n"))


def test_confinement_rejects_absolute_paths_and_symlinks_leaving_the_folder(data):
    outside = data.parent / f"{data.name}_outside.png"
    with pytest.raises(RowError, match="outside"):
        confine(data, str(outside), 3, "image")
    (data / "img" / "link.png").symlink_to(outside)
    with pytest.raises(RowError, match="outside"):
        confine(data, "img/link.png", 3, "image")
    (data / "img" / "inner.png").symlink_to(data / "img" / "a.png")
    assert confine(data, "img/inner.png", 3, "image") == (data / "img" / "a.png").resolve()
    assert confine(data, str(data / "img" / "a.png"), 3, "image") == (data / "img" / "a.png").resolve()


def test_row_key_changes_with_bytes_settings_and_template():
    base = row_key(b"img", b"mask", "p", {"seed": 1}, {"n": 1})
    assert base == row_key(b"img", b"mask", "p", {"seed": 1}, {"n": 1})
    variants = [row_key(b"img2", b"mask", "p", {"seed": 1}, {"n": 1}),
                row_key(b"img", None, "p", {"seed": 1}, {"n": 1}),
                row_key(b"img", b"mask", "q", {"seed": 1}, {"n": 1}),
                row_key(b"img", b"mask", "p", {"seed": 2}, {"n": 1}),
                row_key(b"img", b"mask", "p", {"seed": 1}, {"n": 2})]
    assert len({base, *variants}) == 6


def test_state_redoes_a_row_whose_output_is_missing(data):
    state = State(data)
    (data / "out.png").write_bytes(b"x")
    row = read_csv(write(data / "e.csv", "image,mask,prompt\nimg/a.png,img/m.png,p\n")).rows[0]
    state.record("k", row, ["out.png"])
    assert State(data).done_outputs("k") == ["out.png"]
    (data / "out.png").unlink()
    assert State(data).done_outputs("k") is None and State(data).done_outputs("other") is None


def test_bundled_template_is_valid_and_overrides_apply():
    template = load_template(DEFAULT_TEMPLATE)
    check_template(template)
    out = apply_overrides(template, ["UNETLoader.unet_name=tiny.safetensors", "options.min_side=64",
                                     "inpaint.noise_mask=false"])
    assert out["unet"]["inputs"]["unet_name"] == "tiny.safetensors"
    assert out["options"]["inputs"]["min_side"] == 64 and out["inpaint"]["inputs"]["noise_mask"] is False
    assert template["options"]["inputs"].get("min_side") is None  # the original is untouched
    with pytest.raises(TemplateError, match="no node"):
        apply_overrides(template, ["nothing.x=1"])
    with pytest.raises(TemplateError, match="node.input=value"):
        apply_overrides(template, ["noequals"])


def test_ui_format_workflow_is_refused(tmp_path):
    with pytest.raises(TemplateError, match="API-format"):
        load_template(write(tmp_path / "ui.json", json.dumps({"nodes": [], "links": []})))


def test_build_graph_substitutes_row_values_and_defaults(data):
    template = load_template(DEFAULT_TEMPLATE)
    rows = read_csv(write(data / "e.csv", "image,mask,prompt,seed,width,height\n"
                                          "img/a.png,img/m.png,a cat,9,256,128\nimg/a.png,alpha,a dog,,,\n")).rows
    graph = build_graph(template, rows[0], OBJECT_INFO, "ffi_batch/a.png", "ffi_batch/m.png", "ffi_batch/row1")
    assert graph["load_image"]["inputs"]["image"] == "ffi_batch/a.png"
    assert graph["load_mask"]["inputs"]["image"] == "ffi_batch/m.png"
    assert graph["inpaint"]["inputs"]["text"] == "a cat" and graph["inpaint"]["inputs"]["seed"] == 9
    expected = {"target_mode": "fixed", "fixed_width": 256, "fixed_height": 128}
    assert expected.items() <= graph["options"]["inputs"].items()
    assert graph["options"]["inputs"]["min_side"] == 512  # filled from object_info defaults
    assert graph["save"]["inputs"]["filename_prefix"] == "ffi_batch/row1_save"
    alpha = build_graph(template, rows[1], OBJECT_INFO, "ffi_batch/a.png", None, "p")
    assert alpha["inpaint"]["inputs"]["mask"] == ["load_image", 1] and "load_mask" not in alpha
    assert template["load_image"]["inputs"]["image"] == "example.png"


@pytest.mark.parametrize("extra, column, words", [
    ("width,height\n512,32", "height", "below the minimum 64"),
    ("mode\nremove", "mode", "no 'mode' input"),
    ("steps\n20000", "steps", "above the maximum"),
])
def test_build_graph_checks_values_against_the_server(data, extra, column, words):
    header, values = extra.split("\n")
    row = read_csv(write(data / "e.csv", f"image,mask,prompt,{header}\nimg/a.png,img/m.png,p,{values}\n")).rows[0]
    with pytest.raises(RowError) as err:
        build_graph(load_template(DEFAULT_TEMPLATE), row, OBJECT_INFO, "a.png", "m.png", "p")
    assert err.value.column == column and words in str(err.value)


def test_mode_passes_through_when_the_server_has_it(data):
    info = json.loads(json.dumps(OBJECT_INFO))
    info["FFI_InpaintOptions"]["input"]["optional"] = {"mode": [["inpaint", "remove"], {"default": "inpaint"}]}
    row = read_csv(write(data / "e.csv", "image,mask,prompt,mode\nimg/a.png,img/m.png,p,remove\n")).rows[0]
    graph = build_graph(load_template(DEFAULT_TEMPLATE), row, info, "a.png", "m.png", "p")
    assert graph["options"]["inputs"]["mode"] == "remove"


def test_prompt_rejection_is_described_per_node():
    body = {"error": {"message": "Prompt outputs failed validation", "details": ""},
            "node_errors": {"unet": {"class_type": "UNETLoader",
                                     "errors": [{"message": "Value not in list", "details": "unet_name: x"}]}}}
    text = describe_rejection(body)
    assert "Prompt outputs failed validation" in text and "UNETLoader (node unet): Value not in list" in text


def test_launcher_command_owns_its_folders_and_adds_cpu_once(tmp_path):
    from batch_client.launcher import LaunchSpec, LocalComfy

    spec = LaunchSpec(comfyui=str(tmp_path / "comfy"), base_dir=str(tmp_path / "base"),
                      work_dir=str(tmp_path / "w"), extra_args=("--lowvram",))
    cmd = LocalComfy(spec, "worker-3").command(port=8190, cpu=True)
    folder = tmp_path / "w" / "worker-3"
    assert cmd[1] == "main.py" and cmd[cmd.index("--base-directory") + 1] == str(tmp_path / "base")
    for flag, sub in [("--output-directory", "output"), ("--input-directory", "input"),
                      ("--temp-directory", "temp"), ("--user-directory", "user")]:
        assert cmd[cmd.index(flag) + 1] == str(folder / sub)
    assert cmd[cmd.index("--listen") + 1] == "127.0.0.1" and cmd[cmd.index("--port") + 1] == "8190"
    assert cmd.count("--cpu") == 1 and cmd[-1] == "--lowvram"
    assert "--cpu" not in LocalComfy(spec, "w").command(8190, cpu=False)
    gpu_cpu = LaunchSpec(spec.comfyui, spec.base_dir, spec.work_dir, extra_args=("--cpu",))
    assert LocalComfy(gpu_cpu, "w").command(8190, cpu=True).count("--cpu") == 1


def test_launcher_refuses_a_tree_without_main_py_or_a_base_without_custom_nodes(tmp_path):
    from batch_client.launcher import LaunchError, LaunchSpec, LocalComfy

    (tmp_path / "comfy").mkdir()
    spec = LaunchSpec(str(tmp_path / "comfy"), str(tmp_path / "base"), str(tmp_path / "w"))
    with pytest.raises(LaunchError, match="main.py"):
        LocalComfy(spec, "w0").start(cpu=True)
    (tmp_path / "comfy" / "main.py").write_text("")
    with pytest.raises(LaunchError, match="custom_nodes"):
        LocalComfy(spec, "w0").start(cpu=True)


def test_ray_without_a_server_or_comfyui_is_a_usage_error(data, capsys, monkeypatch):
    from batch_client.__main__ import main

    monkeypatch.delenv("COMFYUI_PATH", raising=False)
    csv_path = write(data / "e.csv", "image,mask,prompt\nimg/a.png,img/m.png,p\n")
    code = main(["--input", str(csv_path), "--output_dir", str(data / "out"), "--ray"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--comfyui" in err or "needs Ray" in err


def test_row_error_survives_pickling_as_a_ray_actor_sends_it():
    import pickle

    err = RowError(3, "mode", "'outpaint' is not one of inpaint")
    err.image = "photo.png"
    back = pickle.loads(pickle.dumps(err))
    assert (back.row, back.column, back.image, str(back)) == (3, "mode", "photo.png", str(err))
