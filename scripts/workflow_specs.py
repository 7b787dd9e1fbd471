"""Specs of the basic example workflows (Flux Fill inpaint, object removal, ...) and what every spec shares:
the example image's name, the Flux loaders, the Inpainter's widgets and the mask note.

scripts/build_workflows.py writes them (with scripts/mode_workflow_specs.py's); this module imports
neither, so the two spec modules and the builder form no import circle.
"""

from __future__ import annotations

EXAMPLE_IMAGE = "ffi_example.png"  # scripts/demo.py uploads an image of this name

FLUX_LOADERS = {
    "unet": ("UNETLoader", (40, 80), {"unet_name": "flux1-fill-dev.safetensors", "weight_dtype": "default"}),
    "clip": ("DualCLIPLoader", (40, 230), {"clip_name1": "clip_l.safetensors",
                                           "clip_name2": "t5xxl_fp16.safetensors", "type": "flux",
                                           "device": "default"}),
    "vae": ("VAELoader", (40, 420), {"vae_name": "ae.safetensors"}),
    "load": ("LoadImage", (40, 540), {"image": EXAMPLE_IMAGE, "upload": "image"}),
}

INPAINTER_WIDGETS = {
    "text": "a weathered wooden bench in a sunny park", "seed": 42, "steps": 28, "cfg": 1.0,
    "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0, "noise_mask": True, "batch_size": 1,
    "differential_attention": True, "guidance": 30.0, "dd_strength": 1.0, "context": 1.0, "grow": 8,
    "feather": 16, "target_megapixels": 1.0,
}

MASK_NOTE = ("Paint the mask on the Load Image node (right click > Open in MaskEditor): white = inpaint. "
             "Several separate areas are cropped and inpainted on their own.")

SPECS: dict[str, dict] = {
    "flux_fill_inpaint": {
        "nodes": FLUX_LOADERS | {
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS),
            "save": ("SaveImage", (880, 80), {"filename_prefix": "FluxFill"}),
            "note": ("Note", (880, 420), {"text": (
                "FLUX.1 Fill inpaint in one node.\n\n" + MASK_NOTE + "\n\nFlux Fill: guidance ~30, cfg 1.0, "
                "20-50 steps, denoise 1.0, target_megapixels ~1.0.\nModels: flux1-fill-dev in "
                "models/diffusion_models, clip_l + t5xxl in models/text_encoders, ae in models/vae.")}),
        },
        "links": [("unet", "MODEL", "inpaint", "model"), ("clip", "CLIP", "inpaint", "clip"),
                  ("vae", "VAE", "inpaint", "vae"), ("load", "IMAGE", "inpaint", "image"),
                  ("load", "MASK", "inpaint", "mask"), ("inpaint", "image", "save", "images")],
    },
    "flux_fill_crop_sample_stitch": {
        "nodes": FLUX_LOADERS | {
            "dd": ("DifferentialDiffusion", (420, 80), {"strength": 1.0}),
            "text": ("CLIPTextEncode", (420, 200), {"text": "a weathered wooden bench in a sunny park"}),
            "crop": ("FFI_InpaintCrop", (420, 540), {"context": 1.0, "grow": 8, "feather": 16,
                                                     "target_megapixels": 1.0, "snap": 16}),
            "guidance": ("FluxGuidance", (880, 80), {"guidance": 30.0}),
            "negative": ("ConditioningZeroOut", (880, 200), {}),
            "cond": ("InpaintModelConditioning", (880, 300), {"noise_mask": True}),
            "sampler": ("KSampler", (1260, 80), {"seed": 42, "steps": 28, "cfg": 1.0, "sampler_name": "euler",
                                                 "scheduler": "simple", "denoise": 1.0}),
            "decode": ("VAEDecode", (1640, 80), {}),
            "stitch": ("FFI_InpaintStitch", (1640, 200), {}),
            "save": ("SaveImage", (1640, 320), {"filename_prefix": "FluxFill_stitched"}),
            "note": ("Note", (880, 540), {"text": (
                "FluxFill Crop -> any sampling graph -> FluxFill Stitch.\n\n" + MASK_NOTE + "\n\nThe crops "
                "of all regions come out as one batch of equal size; Stitch puts each back with a "
                "feathered blend. For variations repeat the latent batch: Stitch expects all regions, "
                "then all regions again.")}),
        },
        "links": [("unet", "MODEL", "dd", "model"), ("dd", "MODEL", "sampler", "model"),
                  ("clip", "CLIP", "text", "clip"), ("text", "CONDITIONING", "guidance", "conditioning"),
                  ("guidance", "CONDITIONING", "cond", "positive"),
                  ("text", "CONDITIONING", "negative", "conditioning"),
                  ("negative", "CONDITIONING", "cond", "negative"), ("vae", "VAE", "cond", "vae"),
                  ("load", "IMAGE", "crop", "image"), ("load", "MASK", "crop", "mask"),
                  ("crop", "IMAGE", "cond", "pixels"), ("crop", "MASK", "cond", "mask"),
                  ("cond", "positive", "sampler", "positive"), ("cond", "negative", "sampler", "negative"),
                  ("cond", "latent", "sampler", "latent_image"), ("sampler", "LATENT", "decode", "samples"),
                  ("vae", "VAE", "decode", "vae"), ("crop", "FFI_STITCHER", "stitch", "stitcher"),
                  ("decode", "IMAGE", "stitch", "inpainted_image"), ("stitch", "image", "save", "images")],
    },
    "sd15_inpaint": {
        "nodes": {
            "ckpt": ("CheckpointLoaderSimple", (40, 80), {"ckpt_name": "sd-v1-5-inpainting.ckpt"}),
            "load": ("LoadImage", (40, 260), {"image": EXAMPLE_IMAGE, "upload": "image"}),
            "options": ("FFI_InpaintOptions", (40, 620), {"min_side": 384, "max_side": 768, "min_crop": 384}),
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS | {
                "text": "a red brick wall with ivy, photo, detailed", "steps": 30, "cfg": 7.0,
                "sampler_name": "dpmpp_2m", "scheduler": "karras", "target_megapixels": 0.35,
                "grow": 6, "feather": 12}),
            "save": ("SaveImage", (880, 80), {"filename_prefix": "FluxFill_sd15"}),
            "note": ("Note", (880, 420), {"text": (
                "SD 1.5 inpainting checkpoint (sd-v1-5-inpainting.ckpt; pick your file's name in Load "
                "Checkpoint).\n\n" + MASK_NOTE + "\n\nSD settings: cfg ~7, guidance is ignored, "
                "target_megapixels ~0.25-0.4 (SD 1.5 is trained at 512x512). Crop sides snap to multiples "
                "of 8 automatically. The negative prompt is the empty text encoded with the checkpoint's "
                "CLIP.")}),
        },
        "links": [("ckpt", "MODEL", "inpaint", "model"), ("ckpt", "CLIP", "inpaint", "clip"),
                  ("ckpt", "VAE", "inpaint", "vae"), ("load", "IMAGE", "inpaint", "image"),
                  ("load", "MASK", "inpaint", "mask"), ("options", "FFI_OPTIONS", "inpaint", "options"),
                  ("inpaint", "image", "save", "images")],
    },
    "flux_fill_object_removal": {
        "nodes": FLUX_LOADERS | {
            "options": ("FFI_InpaintOptions", (40, 900), {"fill_holes": True}),
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS | {
                "text": "empty background, nothing", "steps": 30, "grow": 24, "feather": 24,
                "context": 2.0}),
            "save": ("SaveImage", (880, 80), {"filename_prefix": "FluxFill_removed"}),
            "note": ("Note", (880, 420), {"text": (
                "Object removal with FLUX.1 Fill.\n\nMask the object generously (shadow and reflections "
                "too): white = remove. grow 24 covers its edges, context 2.0 shows the model more of "
                "the surroundings to continue, fill_holes closes gaps in a rough mask. Keep the prompt "
                "neutral (\"empty background, nothing\") so nothing new is painted in.")}),
        },
        "links": [("unet", "MODEL", "inpaint", "model"), ("clip", "CLIP", "inpaint", "clip"),
                  ("vae", "VAE", "inpaint", "vae"), ("load", "IMAGE", "inpaint", "image"),
                  ("load", "MASK", "inpaint", "mask"), ("options", "FFI_OPTIONS", "inpaint", "options"),
                  ("inpaint", "image", "save", "images")],
    },
    "wan_video_inpaint": {
        "nodes": {
            "unet": ("UNETLoader", (40, 80), {"unet_name": "wan2.1_vace_1.3B_fp16.safetensors",
                                              "weight_dtype": "default"}),
            "clip": ("CLIPLoader", (40, 230), {"clip_name": "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "type": "wan",
                                               "device": "default"}),
            "vae": ("VAELoader", (40, 400), {"vae_name": "wan_2.1_vae.safetensors"}),
            "video": ("LoadVideo", (40, 500), {"file": "input_clip.mp4"}),
            "frames": ("GetVideoComponents", (40, 830), {}),
            "load": ("LoadImage", (40, 960), {"image": EXAMPLE_IMAGE, "upload": "image"}),
            "options": ("FFI_InpaintOptions", (420, 760), {"video": "auto", "track_speed": 8.0, "frame_window": 0,
                                                          "frame_overlap": 8}),
            "inpaint": ("FFI_FluxFillInpainter", (420, 80), INPAINTER_WIDGETS | {
                "text": "a red kite flying in the sky", "steps": 0, "cfg": 0.0, "sampler_name": "auto",
                "scheduler": "auto", "guidance": 0.0, "target_megapixels": 0.0}),
            "create": ("CreateVideo", (880, 80), {"fps": 16.0}),
            "save": ("SaveVideo", (880, 240), {"filename_prefix": "video/FluxFill_wan", "format": "auto",
                                               "codec": "auto"}),
            "note": ("Note", (880, 480), {"text": (
                "Video inpaint with Wan 2.1 VACE in one node.\n\nThe clip's frames go to 'image'; the mask is "
                "painted on the Load Image node (one mask for every frame, resized to the video), or connect a "
                "MASK batch with one mask per frame (e.g. from a segmentation node).\n\nWith a Wan model, "
                "Inpaint Options video 'auto' gives each masked region ONE crop for the whole clip (its union "
                "box; 'tracked box' follows a moving mask at most track_speed px per frame) and samples its "
                "frames together as one video latent, with VACE's control video and mask. Clips longer than "
                "81 frames (frame_window 0 = the model's) are sampled in windows that crossfade over "
                "frame_overlap frames. Frames without mask come back untouched.\n\nsteps / cfg / sampler 0 / "
                "auto = the Wan template's (30 / 6 / uni_pc). Models: wan2.1_vace_1.3B in "
                "models/diffusion_models, umt5_xxl in models/text_encoders, wan_2.1_vae in models/vae.")}),
        },
        "links": [("unet", "MODEL", "inpaint", "model"), ("clip", "CLIP", "inpaint", "clip"),
                  ("vae", "VAE", "inpaint", "vae"), ("video", "VIDEO", "frames", "video"),
                  ("frames", "images", "inpaint", "image"), ("load", "MASK", "inpaint", "mask"),
                  ("options", "FFI_OPTIONS", "inpaint", "options"), ("inpaint", "image", "create", "images"),
                  ("create", "VIDEO", "save", "video")],
    },
}
