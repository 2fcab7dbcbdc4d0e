"""The page's parts, one builder each: the controls above the tabs, the Reproduce box, and the six tabs. A builder
lays out its part, wires its events and returns the fields that links (gan_app.links) fill in."""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace

import gradio as gr

from gan_app import handlers as h
from gan_core.latent.directions import SPAN
from gan_core.latent.named import STRENGTH_RANGE
from gan_core.studio.media import SHOWN_SIDE
from gan_core.studio.requests import INTERPOLATION_MODES, STRIP_FRAMES, TOP_K
from gan_core.studio.studio import Studio
from gan_core.studio.validation import FRAMES_RANGE, MAX_GRID_SIDE, MAX_IMAGES, PSI_RANGE

# Concurrency lanes (Gradio's concurrency_id): the quick requests (a second or two each on 2 CPU cores) share the
# queue's default limit (gan_app.demo.QUICK_LIMIT); projections (about 10 s each) have a lane of their own, so a queue
# of them never holds up a seed. Generating events take raw payloads (preprocess=False): gan_core.studio.validation's
# messages name the field and its range, unlike Gradio's own checks.
QUICK = dict(preprocess=False, concurrency_id="quick", concurrency_limit="default")
PROJECT_LIMIT = 1  # projections running at once; the rest wait in the queue
PROJECT = dict(preprocess=False, concurrency_id="project", concurrency_limit=PROJECT_LIMIT)
EDIT_SLIDER = 5.0  # latent-direction sliders span -5..+5 sigma
NAMED_SLIDER = STRENGTH_RANGE[1]  # named edits: -5..+5, each direction scaled so that +5 is clear
MAX_NAMED = 8  # named-edit sliders on the page; a model's edits take the first ones
SHOWN = dict(columns=4, format="png", elem_classes=["pixels"])  # 4 per row: >= 256 px each on a laptop screen


@dataclass
class Shared:
    """The controls above the tabs, read by every tab's requests."""

    model: gr.Dropdown
    label: gr.Dropdown
    psi: gr.Slider
    info: gr.Markdown
    use_photo: gr.Checkbox
    active_w: gr.Textbox  # the projected w the tabs use ("" when the box is unticked): an API argument of /mix, ...


def api_view(fn: Callable, returns: int) -> Callable:
    """fn as its API endpoint answers: its first `returns` values (one value as itself), the same parameters."""

    @functools.wraps(fn)
    def api(*args):
        values = fn(*args)
        return values[0] if returns == 1 else values[:returns]

    return api


def generate(name: str, fn: Callable, inputs: list, shown: list, returns: int, triggers: Sequence,
             lane: dict = QUICK) -> gr.events.Dependency:
    """One kind of result, two ways in: the page's `triggers` fill all of `shown` (the API's values, then the recipe
    box and what else only the page shows); API endpoint `name` returns the first `returns` values."""
    gr.on([], api_view(fn, returns), inputs, shown[:returns], api_name=name, **lane)
    return gr.on(triggers, fn, inputs, shown, api_name=f"{name}_page", api_visibility="private", **lane)


def recipe_box() -> gr.Textbox:
    return gr.Textbox(label="Recipe: copy to share or to reproduce later (it is also in every PNG's metadata)",
                      buttons=["copy"], interactive=False, max_lines=3)


def shared_controls(studio: Studio) -> Shared:
    labels = studio.labels()
    with gr.Row():
        model = gr.Dropdown([(label, name) for name, label in labels.items()], value=next(iter(labels), None),
                            label="Model", allow_custom_value=True, scale=2)
        label = gr.Dropdown([], value="0", label="Class (digit)", allow_custom_value=True, visible=False,
                            scale=1)  # choices: the model's classes (on_model_change)
        psi = gr.Slider(*PSI_RANGE, value=1.0, step=0.05, label="Truncation ψ (1 = none, 0 = average image)", scale=2)
    info = gr.Markdown()
    use_photo = gr.Checkbox(False, visible=False, label="Use your image (Your image tab) in style mixing, "
                            "interpolation and latent directions")
    active_w = gr.Textbox("", visible=False, label="w: a projected image's latent from /project (or empty)")
    return Shared(model, label, psi, info, use_photo, active_w)


def reproduce_box(studio: Studio) -> SimpleNamespace:
    with gr.Accordion("Reproduce from a recipe", open=False) as box:
        text = gr.Textbox(label="Recipe: paste a result's recipe (or open a link ending in ?recipe=...)", lines=2,
                          max_lines=6)
        button = gr.Button("Reproduce", variant="primary")
        note = gr.Markdown(label="Note")
        out = gr.Gallery(label="Reproduced", **SHOWN)
        files = gr.File(label="Downloads", file_count="multiple")
    button.click(functools.partial(h.on_reproduce, studio), text, [out, files, note], api_name="reproduce", **QUICK)
    return SimpleNamespace(box=box, text=text, note=note, out=out, files=files)


def random_sampling(studio: Studio, s: Shared, demo: gr.Blocks) -> None:
    with gr.Tab("Random sampling"):
        n = gr.Slider(1, MAX_IMAGES, value=16, step=1, label="Number of images")
        new_batch = gr.Button("New batch", variant="primary")
        out = gr.Gallery(label="Samples (caption = seed)", **SHOWN)
        recipe = recipe_box()
    generate("sample", functools.partial(h.on_sample, studio), [s.model, n, s.psi, s.label], [out, recipe], 1,
             [new_batch.click, demo.load])  # a first batch on opening the page


def seed_control(studio: Studio, s: Shared) -> SimpleNamespace:
    with gr.Tab("Seed control"):
        spec = gr.Textbox("42, 1-7", label=f"Seeds (e.g. 42 or 1,5,10-20; at most {MAX_IMAGES})")
        button = gr.Button("Generate", variant="primary")
        out = gr.Gallery(label="Images", **SHOWN)
        files = gr.File(label="PNG downloads", file_count="multiple")
        archive = gr.File(label="All PNGs as one ZIP")
        upscaled = gr.File(label=f"All PNGs enlarged to {SHOWN_SIDE} px (Lanczos), as one ZIP")
        with gr.Group(visible=False) as all_group:
            all_button = gr.Button("All digits: one column per class, one row per seed above (at most 6 seeds)")
            all_out = gr.Image(label="All classes", type="pil", format="png", elem_classes=["pixels"])
        recipe = recipe_box()
    generate("seeds", functools.partial(h.on_seeds, studio), [s.model, spec, s.psi, s.label],
             [out, files, archive, upscaled, recipe], 2, [button.click])
    generate("all_classes", functools.partial(h.on_all_classes, studio), [s.model, spec, s.psi], [all_out, recipe],
             1, [all_button.click])
    return SimpleNamespace(spec=spec, all_group=all_group)


def interpolation(studio: Studio, s: Shared) -> SimpleNamespace:
    with gr.Tab("Interpolation"):
        with gr.Row():
            spec = gr.Textbox("3, 7", label="Seeds to walk through (two or more)")
            frames = gr.Slider(*FRAMES_RANGE, value=32, step=1, label="Frames")
        with gr.Row():
            mode = gr.Radio(list(INTERPOLATION_MODES), value="z-slerp", label="Path")
            loop = gr.Checkbox(False, label="Loop back to the first seed")
        button = gr.Button("Interpolate", variant="primary")
        strip = gr.Gallery(label="Frames (the animation below is shown large)", columns=8, format="png",
                           elem_classes=["pixels"])
        gif = gr.Image(label="Animation (GIF)", type="filepath", elem_classes=["pixels", "image-box"])
        files = gr.File(label="GIF and MP4 downloads", file_count="multiple")
        recipe = recipe_box()
    generate("interpolate", functools.partial(h.on_interpolate, studio),
             [s.model, spec, frames, mode, s.psi, s.label, loop, s.active_w], [strip, gif, files, recipe], 3,
             [button.click])
    return SimpleNamespace(spec=spec, frames=frames, mode=mode, loop=loop)


def style_mixing(studio: Studio, s: Shared) -> SimpleNamespace:
    with gr.Tab("Style mixing"):
        with gr.Row():
            rows = gr.Textbox("1, 2, 3", label=f"Row seeds (at most {MAX_GRID_SIDE})")
            cols = gr.Textbox("10, 11, 12, 13", label=f"Column seeds (at most {MAX_GRID_SIDE})")
        with gr.Row():
            layers = gr.Radio(list(studio.mix_layers()), value="coarse",
                              label="Layers taken from the column (coarse = pose/shape, fine = colour/texture)")
            custom = gr.Textbox("", label="Custom w indices (e.g. 0-3, 6)")
        button = gr.Button("Mix", variant="primary")
        out = gr.Image(label="Style mixing (rows take the column's styles)", type="pil", format="png",
                       elem_classes=["pixels"])
        note = gr.Markdown(label="Note")
        recipe = recipe_box()
    generate("mix", functools.partial(h.on_mix, studio), [s.model, rows, cols, layers, custom, s.psi, s.label,
                                                          s.active_w], [out, note, recipe], 2, [button.click])
    return SimpleNamespace(rows=rows, cols=cols, layers=layers, custom=custom)


def latent_directions(studio: Studio, s: Shared) -> SimpleNamespace:
    with gr.Tab("Latent directions"):
        gr.Markdown("**Named edits** (smile, age, glasses, hair, ...): release a slider to edit the seed's image, or "
                    "your own once *Use your image* is ticked. Strengths run from -5 (takes the property away) to "
                    "+5 (gives it clearly); 0 is the seed's image.")
        seed = gr.Number(42, label="Seed", precision=0)
        first = next(iter(studio.names()), None)
        labels = list(studio.edit_names(first).values()) if first else []
        named = [gr.Slider(-NAMED_SLIDER, NAMED_SLIDER, value=0, step=0.25, label=labels[i] if i < len(labels) else
                           f"Edit {i + 1}", visible=i < len(labels)) for i in range(MAX_NAMED)]
        with gr.Row():
            named_button = gr.Button("Edit", variant="primary")
            named_reset = gr.Button("Reset")
        named_out = gr.Image(label="Edited image", type="pil", format="png", elem_classes=["pixels", "image-box"])
        named_note = gr.Markdown()
        edits_text = gr.Textbox("", visible=False, label="edits: NAME=STRENGTH, ... (e.g. Smiling=2, Young=-1.5)")
        with gr.Accordion("Explore: unnamed directions (SeFa)", open=False):
            gr.Markdown("Closed-form directions (SeFa): the top eigenvectors of the model's first style weights, "
                        "strongest first, found without training. Strengths are in standard deviations (σ) of the "
                        "latent along each direction.")
            layers = gr.Radio(list(studio.layer_groups()), value="all", label="Style layers the directions act on")
            sliders = [gr.Slider(-EDIT_SLIDER, EDIT_SLIDER, value=0, step=0.25, label=f"Direction {i + 1} (σ)")
                       for i in range(TOP_K)]
            with gr.Row():
                button = gr.Button("Generate", variant="primary")
                reset = gr.Button("Reset sliders")
            out = gr.Image(label="Edited image", type="pil", format="png", elem_classes=["pixels", "image-box"])
            strip_button = gr.Button(f"Preview the top {TOP_K} directions, -{SPAN:g}σ … +{SPAN:g}σ")
            strip = gr.Gallery(label="One row per direction", columns=STRIP_FRAMES, format="png",
                               elem_classes=["pixels"])
        recipe = recipe_box()
    gr.on([], api_view(functools.partial(h.on_edit, studio), 2), [s.model, seed, s.psi, s.label, edits_text,
                                                                   s.active_w], [named_out, named_note],
          api_name="edit", **QUICK)
    by_sliders = dict(fn=functools.partial(h.on_named, studio), inputs=[s.model, seed, s.psi, s.label, *named,
                                                                        s.active_w],
                      outputs=[named_out, named_note, recipe])
    gr.on([named_button.click, seed.submit] + [slider.release for slider in named], api_name="edit_page",
          api_visibility="private", **by_sliders, **QUICK)
    named_reset.click(lambda: [0] * len(named), None, named, api_visibility="private").success(
        api_name="edit_reset", api_visibility="private", **by_sliders, **QUICK)
    s.model.change(lambda model: h.named_sliders(studio, model, len(named)), s.model, named,
                   api_visibility="private")
    edit = dict(fn=h.directions_handler(studio, len(sliders)),
                inputs=[s.model, seed, s.psi, s.label, layers, *sliders, s.active_w], outputs=[out, recipe])
    generate("directions", edit["fn"], edit["inputs"], edit["outputs"], 1,
             [button.click, layers.input] + [slider.release for slider in sliders])
    reset.click(lambda: [0] * len(sliders), None, sliders, api_visibility="private").success(
        api_name="directions_reset", api_visibility="private", **edit, **QUICK)
    generate("direction_strip", functools.partial(h.on_direction_strip, studio),
             [s.model, seed, s.psi, s.label, layers, s.active_w], [strip, recipe], 1, [strip_button.click])
    return SimpleNamespace(seed=seed, layers=layers, sliders=sliders, named=named)


def your_image(studio: Studio, s: Shared) -> SimpleNamespace:
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
                button = gr.Button("Project", variant="primary")
        out = gr.Gallery(label="Original | framed as the training images | reconstruction", **{**SHOWN, "columns": 3})
        note = gr.Markdown(label="Note")
        with gr.Accordion("Its latent (for the API: pass it as w)", open=False):
            projected_w = gr.Textbox(label="Projected w (W+, float16, base64)", interactive=False, max_lines=2,
                                     buttons=["copy"])
        recipe = recipe_box()
    project = functools.partial(h.on_project, studio)

    @functools.wraps(project)
    def page(*args):
        """The projection, then "Use your image" ticked and its w in use (also when the box was ticked already)."""
        views, note_text, w, recipe_json = project(*args)
        return views, note_text, w, recipe_json, gr.update(visible=True, value=True), w

    generate("project", page, [s.model, upload, centre_crop, s.label],
             [out, note, projected_w, recipe, s.use_photo, s.active_w], 3, [button.click], PROJECT)
    return SimpleNamespace(projected_w=projected_w)
