"""The app's event handlers: plain functions of the Studio (always the first argument; the tabs bind it) and of the
values Gradio passes in. Each returns what its API endpoint returns, then what only the page shows (the recipe)."""
from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable

import gradio as gr
from gradio.utils import get_upload_folder

from gan_core.errors import InvalidInput
from gan_core.photos.uploads import upload_source
from gan_core.storage.checkpoint import CheckpointError
from gan_core.studio.requests import STRIP_FRAMES, TOP_K
from gan_core.studio.studio import Result, Studio

log = logging.getLogger("gan_studio")


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


def gallery(result: Result) -> list[tuple]:
    return list(zip(result.images, result.captions))


def recipe_text(result: Result) -> str:
    """The result's recipe for the tab's "Recipe" box (the page shows it; the API leaves it out)."""
    return result.recipe.to_json()


@friendly
def on_sample(studio: Studio, model, n, psi, label):
    result = studio.sample(model, n, psi, label)
    return gallery(result), recipe_text(result)


@friendly
def on_seeds(studio: Studio, model, spec, psi, label):
    result = studio.seeds(model, spec, psi, label)
    return (gallery(result), [str(p) for p in result.files], str(result.archive), str(result.upscaled),
            recipe_text(result))


@friendly
def on_all_classes(studio: Studio, model, spec, psi):
    result = studio.all_classes(model, spec, psi)
    return result.images[0], recipe_text(result)


@friendly
def on_interpolate(studio: Studio, model, spec, frames, mode, psi, label, loop, w=""):
    result = studio.interpolate(model, spec, frames, mode, psi, label, loop, w)
    gif, mp4 = (str(p) for p in result.files)
    return gallery(result), gif, [gif, mp4], recipe_text(result)


@friendly
def on_mix(studio: Studio, model, rows, cols, layers, custom, psi, label, w=""):
    result = studio.mix(model, rows, cols, layers, custom, psi, label, w)
    return result.images[0], result.note, recipe_text(result)


@friendly
def on_directions(studio: Studio, model, seed, psi, label, layers, *strengths_then_w):
    """The sliders' strengths (as many as there are sliders), then the projected w."""
    *strengths, w = strengths_then_w
    result = studio.directions(model, seed, psi, label, strengths, layers, w)
    return result.images[0], recipe_text(result)


def directions_handler(studio: Studio, sliders: int = TOP_K) -> Callable:
    """on_directions for `sliders` sliders, its parameters named for the API: model, seed, psi, label, layers,
    d1..dN, w."""
    fn = functools.partial(on_directions, studio)
    P = inspect.Parameter
    fn.__signature__ = inspect.Signature(
        [P(name, P.POSITIONAL_OR_KEYWORD) for name in ("model", "seed", "psi", "label", "layers")]
        + [P(f"d{i + 1}", P.POSITIONAL_OR_KEYWORD, default=0) for i in range(sliders)]
        + [P("w", P.POSITIONAL_OR_KEYWORD, default="")])
    return fn


@friendly
def on_edit(studio: Studio, model, seed, psi, label, edits="", w=""):
    """Named edits as text, e.g. 'Smiling=2, Young=-1.5': the edited image and a note naming the edits."""
    result = studio.edit(model, seed, psi, label, edits, w)
    return result.images[0], result.note, recipe_text(result)


def named_text(studio: Studio, model: object, strengths: list[float]) -> str:
    """The named sliders' values as edit text: the i-th slider is the model's i-th named edit; zeros left out."""
    try:
        names = list(studio.edit_names(model))
    except (InvalidInput, CheckpointError):  # studio.edit says what is wrong with the model
        names = []
    return ", ".join(f"{n}={float(x):g}" for n, x in zip(names, strengths) if x)


def on_named(studio: Studio, model, seed, psi, label, *strengths_then_w):
    """The named sliders (as many as there are), then the projected w: the page's way to /edit."""
    *strengths, w = strengths_then_w
    return on_edit(studio, model, seed, psi, label, named_text(studio, model, strengths), w)


def named_sliders(studio: Studio, model, count: int) -> list:
    """The named sliders for a model: its edits' labels on the first ones, the rest hidden (values kept)."""
    try:
        labels = list(studio.edit_names(model).values())
    except (InvalidInput, CheckpointError):
        labels = []
    return [gr.update(visible=i < len(labels), label=labels[i] if i < len(labels) else None) for i in range(count)]


@friendly
def on_direction_strip(studio: Studio, model, seed, psi, label, layers, w=""):
    result = studio.direction_strip(model, seed, psi, label, TOP_K, STRIP_FRAMES, layers, w=w)
    return gallery(result), recipe_text(result)


@friendly
def on_project(studio: Studio, model, image, centre_crop, label, progress=gr.Progress()):
    def report(step: int, steps: int, loss: float) -> None:
        progress((step, steps), desc=f"Projecting (loss {loss:.3f})")

    # the event skips Gradio's decoding, so our own checks see the raw upload: a file Gradio received, or a data: URL
    source = upload_source(image, get_upload_folder())
    result = studio.project(model, source, centre_crop, label=label, progress=report)
    return gallery(result), result.note, result.recipe.w, recipe_text(result)


def reproduced(result: Result) -> tuple[list[tuple], list[str], str]:
    """Gallery, downloads and note (warnings, link) of a reproduced recipe."""
    files = [str(p) for p in result.files] + ([str(result.archive)] if result.archive else [])
    link = f"[Link to this result]({result.recipe.query()})"
    return gallery(result), files, f"{result.note}\n\n{link}".strip()


@friendly
def on_reproduce(studio: Studio, text):
    return reproduced(studio.reproduce(text))


def on_model_change(studio: Studio, model):
    """Model info line; the class picker (with the model's classes) and the all-classes grid for conditional models;
    the style layers its directions can act on."""
    try:
        m, classes, groups = studio.model(model), studio.classes(model), studio.layer_groups(model)
    except (InvalidInput, CheckpointError) as exc:
        return f"⚠️ {exc}", gr.update(visible=False), gr.update(visible=False), gr.update()
    note = "" if m.is_style else " · style mixing and w-lerp need a style-based model"
    return (m.summary() + note, gr.update(visible=bool(classes), choices=classes), gr.update(visible=bool(classes)),
            gr.update(choices=groups))
