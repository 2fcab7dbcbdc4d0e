"""GAN Studio: explore pretrained GANs in the browser (Gradio Blocks). Run: python app.py"""
from __future__ import annotations

import base64
import binascii
import functools
import logging
import os
from collections.abc import Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home: runs offline

import gradio as gr  # noqa: E402
from gradio.utils import get_upload_folder, is_in_or_equal  # noqa: E402

from gan_core.checkpoint import CheckpointError  # noqa: E402
from gan_core.directions import SPAN  # noqa: E402
from gan_core.media import SHOWN_SIDE  # noqa: E402
from gan_core.outputs import OutputFolder  # noqa: E402
from gan_core.recipe import KIND_TABLE, Recipe  # noqa: E402
from gan_core.studio import INTERPOLATION_MODES, STRIP_FRAMES, TOP_K, Studio  # noqa: E402
from gan_core.uploads import MAX_UPLOAD_BYTES  # noqa: E402
from gan_core.validation import (FRAMES_RANGE, MAX_GRID_SIDE, MAX_IMAGES, PSI_RANGE, InvalidInput,  # noqa: E402
                                 single_seed)

log = logging.getLogger("gan_studio")
# each request's files go into its own folder, the oldest deleted past an hour or GAN_STUDIO_OUTPUT_MB in all
studio = Studio(os.environ.get("GAN_STUDIO_CHECKPOINTS"),
                outputs=OutputFolder(max_bytes=int(float(os.environ.get("GAN_STUDIO_OUTPUT_MB", "256")) * 2 ** 20)))
EDIT_SLIDER = 5.0  # latent-direction sliders span -5..+5 sigma
# Generating events: raw payloads go to gan_core.validation (whose messages name the field and its range, unlike
# gradio's own checks), and all share one limit of 2 running at once on the CPU; the rest wait in the queue.
GENERATE = dict(preprocess=False, concurrency_id="generate", concurrency_limit=2)
# Gradio's copies of served files: every CACHE_SECONDS / 6, those older than CACHE_SECONDS are deleted
CACHE_SECONDS = int(os.environ.get("GAN_STUDIO_CACHE_SECONDS", "3600"))
# results are shown at least media.SHOWN_SIDE px wide, their pixels kept crisp; downloads stay at native size
CSS = f"""
.pixels img {{ image-rendering: pixelated; }}
.pixels.image-box img {{ min-width: {SHOWN_SIDE}px; min-height: {SHOWN_SIDE}px; object-fit: contain; }}
"""
SHOWN = dict(columns=4, format="png", elem_classes=["pixels"])  # 4 per row: >= 256 px each on a laptop screen


def friendly(fn):
    """Turn bad input and bad checkpoints into a gr.Error message; never leak a traceback."""

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except (InvalidInput, CheckpointError) as exc:  # expected: shown to the user, kept out of the server log
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception:
            log.exception("request failed")
            raise gr.Error("internal error while generating; the request was not completed") from None

    return wrapper


def gallery(result) -> list[tuple]:
    return list(zip(result.images, result.captions))


def recipe_text(result) -> str:
    """The result's recipe for the tab's "Recipe" box (kept out of the API's return values via a gr.State)."""
    return result.recipe.to_json()


@friendly
def on_sample(model, n, psi, label):
    result = studio.sample(model, n, psi, label)
    return gallery(result), recipe_text(result)


@friendly
def on_seeds(model, spec, psi, label):
    result = studio.seeds(model, spec, psi, label)
    return gallery(result), [str(p) for p in result.files], [recipe_text(result), str(result.archive),
                                                            str(result.upscaled)]


@friendly
def on_all_classes(model, spec, psi):
    result = studio.all_classes(model, spec, psi)
    return result.images[0], recipe_text(result)


@friendly
def on_interpolate(model, spec, frames, mode, psi, label, loop, w=""):
    result = studio.interpolate(model, spec, frames, mode, psi, label, loop, w)
    gif, mp4 = (str(p) for p in result.files)
    return gallery(result), gif, [gif, mp4], recipe_text(result)


@friendly
def on_mix(model, rows, cols, layers, custom, psi, label, w=""):
    result = studio.mix(model, rows, cols, layers, custom, psi, label, w)
    return result.images[0], result.note, recipe_text(result)


@friendly
def on_directions(model, seed, psi, label, layers, d1=0, d2=0, d3=0, d4=0, d5=0, w=""):  # named for the API
    result = studio.directions(model, seed, psi, label, [d1, d2, d3, d4, d5], layers, w)
    return result.images[0], recipe_text(result)


@friendly
def on_direction_strip(model, seed, psi, label, layers, w=""):
    result = studio.direction_strip(model, seed, psi, label, TOP_K, STRIP_FRAMES, layers, w=w)
    return gallery(result), recipe_text(result)


def upload_source(payload: object) -> str | bytes:
    """The file an upload names (the event skips Gradio's decoding, so our own checks see the raw file): a path
    inside Gradio's upload folder, or a data: URL's bytes."""
    if isinstance(payload, str):
        payload = {"path": payload}
    if not isinstance(payload, dict) or not (payload.get("path") or payload.get("url")):
        raise InvalidInput("image: upload an image file (PNG, JPEG, WebP, GIF, ...) or take one with the webcam")
    url = payload.get("url") or ""
    if not payload.get("path") and url.startswith("data:"):
        head, _, data = url.partition(",")
        if len(data) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
            raise InvalidInput(f"image: the upload is larger than {MAX_UPLOAD_BYTES // 2 ** 20} MB")
        try:
            return base64.b64decode(data, validate=True) if head.endswith(";base64") else data.encode()
        except binascii.Error:
            raise InvalidInput("image: the upload's data is not valid base64") from None
    path = str(payload.get("path"))
    if not is_in_or_equal(path, get_upload_folder()):
        raise InvalidInput("image: upload the file through the app (or gradio_client's handle_file)")
    return path


@friendly
def on_project(model, image, centre_crop, label, progress=gr.Progress()):
    def report(step: int, steps: int, loss: float) -> None:
        progress((step, steps), desc=f"Projecting (loss {loss:.3f})")

    result = studio.project(model, upload_source(image), centre_crop, label=label, progress=report)
    return gallery(result), result.note, result.recipe.w, recipe_text(result)


def reproduced(result) -> tuple[list[tuple], list[str], str]:
    """Gallery, downloads and note (warnings, link) of a reproduced recipe."""
    files = [str(p) for p in result.files] + ([str(result.archive)] if result.archive else [])
    link = f"[Link to this result]({result.recipe.query()})"
    return gallery(result), files, f"{result.note}\n\n{link}".strip()


@friendly
def on_reproduce(text):
    return reproduced(studio.reproduce(text))


def on_model_change(model):
    """Model info line; the class picker (with the model's classes) and the all-classes grid for conditional models;
    the style layers its directions can act on."""
    try:
        m, classes, groups = studio.model(model), studio.classes(model), studio.layer_groups(model)
    except (InvalidInput, CheckpointError) as exc:
        return f"⚠️ {exc}", gr.update(visible=False), gr.update(visible=False), gr.update()
    note = "" if m.is_style else " · style mixing and w-lerp need a style-based model"
    return (m.summary() + note, gr.update(visible=bool(classes), choices=classes), gr.update(visible=bool(classes)),
            gr.update(choices=groups))


Fill = Callable[[object], dict]  # an argument's value -> the fields that show it, with their values
Form = dict[str, Fill]  # a Studio method's arguments -> how a tab shows each


def field(component: gr.components.Component, shown: Callable[[object], object] = lambda v: v) -> Fill:
    """An argument shown in one component, as `shown` makes it fit there."""
    return lambda value: {component: shown(value)}


def sliders(components: list[gr.Slider]) -> Fill:
    """A list of strengths spread over the sliders, zero past its end."""
    return lambda values: dict(zip(components, [*values, *[0.0] * len(components)]))


def no_field(value: object) -> dict:
    """An argument that no tab field shows."""
    return {}


def link_fields(r: Recipe, shared: Form, forms: dict[str, Form]) -> dict:
    """The fields a recipe's link fills in: each argument of its kind (recipe.KIND_TABLE) in its tab's form."""
    kind = KIND_TABLE[r.kind]
    form = {**shared, **forms[kind.method]}
    return {c: v for name, value in kind.arguments(r).items() for c, v in form[name](value).items()}


def build() -> gr.Blocks:
    labels = studio.labels()
    with gr.Blocks(title="GAN Studio", delete_cache=(max(CACHE_SECONDS // 6, 1), CACHE_SECONDS)) as demo:
        gr.Markdown("# GAN Studio\nGenerate, explore and share images from pretrained GANs. "
                    "Every image is named by its seed: the same seed always gives the same image.")
        with gr.Row():
            model = gr.Dropdown([(label, name) for name, label in labels.items()], value=next(iter(labels)),
                                label="Model", allow_custom_value=True, scale=2)
            label = gr.Dropdown([], value="0", label="Class (digit)", allow_custom_value=True, visible=False,
                                scale=1)  # choices: the model's classes (on_model_change)
            psi = gr.Slider(*PSI_RANGE, value=1.0, step=0.05, label="Truncation ψ (1 = none, 0 = average image)",
                               scale=2)
        info = gr.Markdown()
        use_photo = gr.Checkbox(False, visible=False, label="Use your image (Your image tab) in style mixing, "
                                "interpolation and latent directions")
        # the projected w those tabs use ("" when the box is unticked): an API argument of /mix, /interpolate, ...
        active_w = gr.Textbox("", visible=False, label="w: a projected image's latent from /project (or empty)")
        with gr.Accordion("Reproduce from a recipe", open=False) as repro_box:
            repro_text = gr.Textbox(label="Recipe: paste a result's recipe (or open a link ending in ?recipe=...)",
                                    lines=2, max_lines=6)
            repro_btn = gr.Button("Reproduce", variant="primary")
            repro_note = gr.Markdown(label="Note")
            repro_out = gr.Gallery(label="Reproduced", **SHOWN)
            repro_files = gr.File(label="Downloads", file_count="multiple")
        with gr.Tab("Random sampling"):
            n = gr.Slider(1, MAX_IMAGES, value=16, step=1, label="Number of images")
            new_batch = gr.Button("New batch", variant="primary")
            sample_out = gr.Gallery(label="Samples (caption = seed)", **SHOWN)
            sample_recipe = recipe_box()
        with gr.Tab("Seed control"):
            spec = gr.Textbox("42, 1-7", label=f"Seeds (e.g. 42 or 1,5,10-20; at most {MAX_IMAGES})")
            seeds_btn = gr.Button("Generate", variant="primary")
            seeds_out = gr.Gallery(label="Images", **SHOWN)
            seeds_files = gr.File(label="PNG downloads", file_count="multiple")
            seeds_zip = gr.File(label="All PNGs as one ZIP")
            seeds_big = gr.File(label=f"All PNGs enlarged to {SHOWN_SIDE} px (Lanczos), as one ZIP")
            with gr.Group(visible=False) as all_group:
                all_btn = gr.Button("All digits: one column per class, one row per seed above (at most 6 seeds)")
                all_out = gr.Image(label="All classes", type="pil", format="png", elem_classes=["pixels"])
            seeds_recipe = recipe_box()
        with gr.Tab("Interpolation"):
            with gr.Row():
                interp_spec = gr.Textbox("3, 7", label="Seeds to walk through (two or more)")
                frames = gr.Slider(*FRAMES_RANGE, value=32, step=1, label="Frames")
            with gr.Row():
                mode = gr.Radio(list(INTERPOLATION_MODES), value="z-slerp", label="Path")
                loop = gr.Checkbox(False, label="Loop back to the first seed")
            interp_btn = gr.Button("Interpolate", variant="primary")
            interp_strip = gr.Gallery(label="Frames (the animation below is shown large)", columns=8, format="png",
                                      elem_classes=["pixels"])
            interp_gif = gr.Image(label="Animation (GIF)", type="filepath", elem_classes=["pixels", "image-box"])
            interp_files = gr.File(label="GIF and MP4 downloads", file_count="multiple")
            interp_recipe = recipe_box()
        with gr.Tab("Style mixing"):
            with gr.Row():
                rows = gr.Textbox("1, 2, 3", label=f"Row seeds (at most {MAX_GRID_SIDE})")
                cols = gr.Textbox("10, 11, 12, 13", label=f"Column seeds (at most {MAX_GRID_SIDE})")
            with gr.Row():
                layers = gr.Radio(list(studio.mix_layers()), value="coarse",
                                  label="Layers taken from the column (coarse = pose/shape, fine = colour/texture)")
                custom = gr.Textbox("", label="Custom w indices (e.g. 0-3, 6)")
            mix_btn = gr.Button("Mix", variant="primary")
            mix_out = gr.Image(label="Style mixing (rows take the column's styles)", type="pil", format="png",
                               elem_classes=["pixels"])
            mix_note = gr.Markdown(label="Note")
            mix_recipe = recipe_box()
        with gr.Tab("Latent directions"):
            gr.Markdown("Closed-form directions (SeFa): the top eigenvectors of the model's first style weights, "
                        "strongest first, found without training. Release a slider to edit the seed's image; "
                        "strengths are in standard deviations (σ) of the latent along each direction.")
            with gr.Row():
                dir_seed = gr.Number(42, label="Seed", precision=0)
                dir_layers = gr.Radio(list(studio.layer_groups()), value="all",
                                      label="Style layers the directions act on")
            edits = [gr.Slider(-EDIT_SLIDER, EDIT_SLIDER, value=0, step=0.25, label=f"Direction {i + 1} (σ)")
                     for i in range(TOP_K)]
            with gr.Row():
                dir_btn = gr.Button("Generate", variant="primary")
                dir_reset = gr.Button("Reset sliders")
            dir_out = gr.Image(label="Edited image", type="pil", format="png", elem_classes=["pixels", "image-box"])
            strip_btn = gr.Button(f"Preview the top {TOP_K} directions, -{SPAN:g}σ … +{SPAN:g}σ")
            strip_out = gr.Gallery(label="One row per direction", columns=STRIP_FRAMES, format="png",
                                   elem_classes=["pixels"])
            dir_recipe = recipe_box()
        with gr.Tab("Your image"):
            gr.Markdown("Put your own picture in: it is framed the way the model's training images are (CelebA: "
                        "the face found and aligned by its eyes; anime: the centre square; MNIST: a centred, "
                        "light-on-dark digit), then the model's latent that draws it best is searched for "
                        "(about 10 s on 2 CPU cores). Then tick *Use your image* above to mix its styles with seeds, "
                        "walk from it to seeds, or edit it with the latent directions.")
            with gr.Row():
                upload = gr.Image(label="Your image", type="filepath", sources=["upload", "webcam", "clipboard"],
                                  format="png")
                with gr.Column():
                    centre_crop = gr.Checkbox(False, label="No face found? Use the centre square instead")
                    project_btn = gr.Button("Project", variant="primary")
            project_out = gr.Gallery(label="Original | framed as the training images | reconstruction",
                                     **{**SHOWN, "columns": 3})
            project_note = gr.Markdown(label="Note")
            with gr.Accordion("Its latent (for the API: pass it as w)", open=False):
                projected_w = gr.Textbox(label="Projected w (W+, float16, base64)", interactive=False, max_lines=2,
                                         buttons=["copy"])
            project_recipe = recipe_box()

        for event in (model.change, demo.load):
            event(on_model_change, model, [info, label, all_group, dir_layers], api_name=False)
        # a result's recipe goes through a gr.State, which the API leaves out, so the endpoints return what they did
        sample_s, seeds_s, all_s, interp_s, mix_s, dir_s, strip_s, project_s = (gr.State() for _ in range(8))

        def then_show(event, state: gr.State, *boxes) -> None:
            event.success(lambda r: r, state, list(boxes), api_name=False)

        for trigger, name in ((new_batch.click, "sample"), (demo.load, False)):  # a first batch on opening the page
            then_show(trigger(on_sample, [model, n, psi, label], [sample_out, sample_s], api_name=name, **GENERATE),
                      sample_s, sample_recipe)
        then_show(seeds_btn.click(on_seeds, [model, spec, psi, label], [seeds_out, seeds_files, seeds_s],
                                  api_name="seeds", **GENERATE), seeds_s, seeds_recipe, seeds_zip, seeds_big)
        then_show(all_btn.click(on_all_classes, [model, spec, psi], [all_out, all_s], api_name="all_classes",
                                **GENERATE), all_s, seeds_recipe)
        then_show(interp_btn.click(on_interpolate, [model, interp_spec, frames, mode, psi, label, loop, active_w],
                                   [interp_strip, interp_gif, interp_files, interp_s], api_name="interpolate",
                                   **GENERATE), interp_s, interp_recipe)
        then_show(mix_btn.click(on_mix, [model, rows, cols, layers, custom, psi, label, active_w], [mix_out, mix_note, mix_s],
                                api_name="mix", **GENERATE), mix_s, mix_recipe)
        edit = dict(fn=on_directions, inputs=[model, dir_seed, psi, label, dir_layers, *edits, active_w],
                    outputs=[dir_out, dir_s], **GENERATE)
        then_show(gr.on([dir_btn.click, dir_seed.submit, dir_layers.input] + [s.release for s in edits],
                        api_name="directions", **edit), dir_s, dir_recipe)
        then_show(dir_reset.click(lambda: [0] * TOP_K, None, edits, api_name=False).success(api_name=False, **edit),
                  dir_s, dir_recipe)
        then_show(strip_btn.click(on_direction_strip, [model, dir_seed, psi, label, dir_layers, active_w],
                                  [strip_out, strip_s],
                                  api_name="direction_strip", **GENERATE), strip_s, dir_recipe)
        projected = project_btn.click(on_project, [model, upload, centre_crop, label],
                                      [project_out, project_note, projected_w, project_s], api_name="project",
                                      **GENERATE)
        then_show(projected, project_s, project_recipe)
        projected.success(lambda: gr.Checkbox(visible=True, value=True), None, use_photo, api_name=False)
        # a projection belongs to its model: another model forgets it
        model.change(lambda: ("", gr.Checkbox(visible=False, value=False)), None, [projected_w, use_photo],
                     api_name=False)
        use_photo.change(lambda use, w, m: (w if use else "", "w-lerp" if use else m), [use_photo, projected_w, mode],
                         [active_w, mode], api_name=False)
        repro_btn.click(on_reproduce, repro_text, [repro_out, repro_files, repro_note], api_name="reproduce",
                        **GENERATE)

        shared, seed_field = {"psi": field(psi), "label": field(label, str)}, field(dir_seed, single_seed)

        def photo(w: object) -> dict:
            """A recipe's projected w: the Your image tab's latent, in use."""
            return {projected_w: w, active_w: w, use_photo: gr.Checkbox(visible=True, value=True)}

        forms = {  # each Studio method's arguments (besides psi and class) in its tab's fields
            "seeds": {"spec": field(spec)},
            "all_classes": {"spec": field(spec)},
            "interpolate": {"spec": field(interp_spec), "frames": field(frames), "mode": field(mode),
                            "loop": field(loop), "w": photo},
            "mix": {"row_spec": field(rows), "col_spec": field(cols), "layers": field(layers), "custom": field(custom),
                    "w": photo},
            "directions": {"seed": seed_field, "layers": field(dir_layers), "edits": sliders(edits), "w": photo},
            "direction_strip": {"seed": seed_field, "layers": field(dir_layers), "k": no_field, "frames": no_field,
                                "w": photo},
            "projected": {"w": photo},
        }

        def on_link(request: gr.Request) -> dict:
            """A link's ?recipe=... (or ?model=anime&seeds=1-4&psi=0.7): fill in its fields, reproduce its result."""
            try:
                r = Recipe.from_query(dict(request.query_params))
            except InvalidInput as exc:
                return {repro_box: gr.Accordion(open=True), repro_note: f"⚠️ {exc}"}
            if r is None:  # gradio reads an empty dict as one value for all 24 outputs: name one, unchanged
                return {repro_note: gr.update()}
            fields = {model: r.model, repro_box: gr.Accordion(open=True), repro_text: r.to_json(),
                      **link_fields(r, shared, forms)}
            try:
                out, files, note = reproduced(studio.reproduce(r))
                return {**fields, repro_out: out, repro_files: files, repro_note: note}
            except (InvalidInput, CheckpointError) as exc:
                return {**fields, repro_note: f"⚠️ {exc}"}

        demo.load(on_link, None, {model, psi, label, repro_box, repro_text, repro_out, repro_files, repro_note, spec,
                                  interp_spec, frames, mode, loop, rows, cols, layers, custom, dir_seed, dir_layers,
                                  *edits, projected_w, active_w, use_photo}, api_name=False, **GENERATE)
    return demo


def recipe_box() -> gr.Textbox:
    return gr.Textbox(label="Recipe: copy to share or to reproduce later (it is also in every PNG's metadata)",
                      buttons=["copy"], interactive=False, max_lines=3)


demo = build()

if __name__ == "__main__":
    for name in studio.names():  # load once up front so the first request is fast; bad ones report later
        try:
            studio.model(name)
        except (InvalidInput, CheckpointError) as exc:
            log.warning("%s", exc)
    demo.queue(max_size=64, default_concurrency_limit=2).launch(css=CSS)  # GRADIO_SERVER_NAME / _PORT apply
