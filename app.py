"""GAN Studio: explore pretrained GANs in the browser (Gradio Blocks). Run: python app.py"""
from __future__ import annotations

import functools
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: runs offline

import gradio as gr  # noqa: E402

from gan_core.checkpoint import CheckpointError  # noqa: E402
from gan_core.studio import INTERPOLATION_MODES, LAYER_PRESETS, Studio  # noqa: E402
from gan_core.validation import FRAMES_RANGE, MAX_GRID_SIDE, MAX_IMAGES, PSI_RANGE, InvalidInput  # noqa: E402

log = logging.getLogger("gan_studio")
studio = Studio(os.environ.get("GAN_STUDIO_CHECKPOINTS"))
DIGITS = [str(d) for d in range(10)]
# Generating events: raw payloads go to gan_core.validation (whose messages name the field and its range, unlike
# gradio's own checks), and all share one limit of 2 running at once on the CPU; the rest wait in the queue.
GENERATE = dict(preprocess=False, concurrency_id="generate", concurrency_limit=2)


def friendly(fn):
    """Turn bad input and bad checkpoints into a gr.Error message; never leak a traceback."""

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except (InvalidInput, CheckpointError) as exc:
            raise gr.Error(str(exc)) from None
        except Exception:
            log.exception("request failed")
            raise gr.Error("internal error while generating; the request was not completed") from None

    return wrapper


def gallery(result) -> list[tuple]:
    return list(zip(result.images, result.captions))


@friendly
def on_sample(model, n, psi, label):
    return gallery(studio.sample(model, n, psi, label))


@friendly
def on_seeds(model, spec, psi, label):
    result = studio.seeds(model, spec, psi, label)
    return gallery(result), [str(p) for p in result.files]


@friendly
def on_interpolate(model, spec, frames, mode, psi, label, loop):
    result = studio.interpolate(model, spec, frames, mode, psi, label, loop)
    gif, mp4 = (str(p) for p in result.files)
    return gallery(result), gif, [gif, mp4]


@friendly
def on_mix(model, rows, cols, layers, custom, psi, label):
    figure, idx = studio.mix(model, rows, cols, layers, custom, psi, label)
    return figure, f"Column styles on w indices {idx or 'none'} (of {studio.model(model).G.num_ws})."


def on_model_change(model):
    """Model info line; show the class picker only for conditional models."""
    try:
        m = studio.model(model)
    except (InvalidInput, CheckpointError) as exc:
        return f"⚠️ {exc}", gr.update(visible=False)
    note = "" if m.is_style else " · style mixing and w-lerp need a style-based model"
    return m.summary() + note, gr.update(visible=m.num_classes > 0)


def build() -> gr.Blocks:
    labels = studio.labels()
    with gr.Blocks(title="GAN Studio") as demo:
        gr.Markdown("# GAN Studio\nGenerate, explore and share images from pretrained GANs. "
                    "Every image is named by its seed: the same seed always gives the same image.")
        with gr.Row():
            model = gr.Dropdown([(label, name) for name, label in labels.items()], value=next(iter(labels)),
                                label="Model", allow_custom_value=True, scale=2)
            label = gr.Dropdown(DIGITS, value="0", label="Class (digit)", allow_custom_value=True, visible=False,
                                scale=1)
            psi = gr.Slider(*PSI_RANGE, value=1.0, step=0.05, label="Truncation ψ (1 = none, 0 = average image)",
                               scale=2)
        info = gr.Markdown()
        with gr.Tab("Random sampling"):
            n = gr.Slider(1, MAX_IMAGES, value=16, step=1, label="Number of images")
            new_batch = gr.Button("New batch", variant="primary")
            sample_out = gr.Gallery(label="Samples (caption = seed)", columns=8, format="png")
        with gr.Tab("Seed control"):
            spec = gr.Textbox("42, 1-7", label=f"Seeds (e.g. 42 or 1,5,10-20; at most {MAX_IMAGES})")
            seeds_btn = gr.Button("Generate", variant="primary")
            seeds_out = gr.Gallery(label="Images", columns=8, format="png")
            seeds_files = gr.File(label="PNG downloads", file_count="multiple")
        with gr.Tab("Interpolation"):
            with gr.Row():
                interp_spec = gr.Textbox("3, 7", label="Seeds to walk through (two or more)")
                frames = gr.Slider(*FRAMES_RANGE, value=32, step=1, label="Frames")
            with gr.Row():
                mode = gr.Radio(list(INTERPOLATION_MODES), value="z-slerp", label="Path")
                loop = gr.Checkbox(False, label="Loop back to the first seed")
            interp_btn = gr.Button("Interpolate", variant="primary")
            interp_strip = gr.Gallery(label="Frames", columns=8, format="png")
            interp_gif = gr.Image(label="Animation (GIF)", type="filepath")
            interp_files = gr.File(label="GIF and MP4 downloads", file_count="multiple")
        with gr.Tab("Style mixing"):
            with gr.Row():
                rows = gr.Textbox("1, 2, 3", label=f"Row seeds (at most {MAX_GRID_SIDE})")
                cols = gr.Textbox("10, 11, 12, 13", label=f"Column seeds (at most {MAX_GRID_SIDE})")
            with gr.Row():
                layers = gr.Radio(list(LAYER_PRESETS), value="coarse",
                                  label="Layers taken from the column (coarse = pose/shape, fine = colour/texture)")
                custom = gr.Textbox("", label="Custom w indices (e.g. 0-3, 6)")
            mix_btn = gr.Button("Mix", variant="primary")
            mix_out = gr.Image(label="Style mixing (rows take the column's styles)", type="pil", format="png")
            mix_note = gr.Markdown()

        model.change(on_model_change, model, [info, label], api_name=False)
        demo.load(on_model_change, model, [info, label], api_name=False)
        new_batch.click(on_sample, [model, n, psi, label], sample_out, api_name="sample", **GENERATE)
        seeds_btn.click(on_seeds, [model, spec, psi, label], [seeds_out, seeds_files], api_name="seeds", **GENERATE)
        interp_btn.click(on_interpolate, [model, interp_spec, frames, mode, psi, label, loop],
                         [interp_strip, interp_gif, interp_files], api_name="interpolate", **GENERATE)
        mix_btn.click(on_mix, [model, rows, cols, layers, custom, psi, label], [mix_out, mix_note], api_name="mix",
                      **GENERATE)
    return demo


demo = build()

if __name__ == "__main__":
    for name in studio.names():  # load once up front so the first request is fast; bad ones report later
        try:
            studio.model(name)
        except (InvalidInput, CheckpointError) as exc:
            log.warning("%s", exc)
    demo.queue(max_size=64, default_concurrency_limit=2).launch()  # GRADIO_SERVER_NAME / _PORT apply
