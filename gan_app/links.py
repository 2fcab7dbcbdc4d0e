"""Links that open on a result: `?recipe=<JSON>` (or `?model=anime&seeds=1-4&psi=0.7`) fills in the fields of its
kind's tab and reproduces the result when the page loads."""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import gradio as gr

from gan_app.handlers import reproduced
from gan_app.tabs import QUICK, Shared
from gan_core.errors import InvalidInput
from gan_core.storage.checkpoint import CheckpointError
from gan_core.studio import validation
from gan_core.studio.recipe import Recipe, unset
from gan_core.studio.studio import Studio
from gan_core.studio.validation import single_seed, split_mix_spec

Fill = Callable[[object, Recipe], dict]  # a recipe field's value (and its recipe) -> the components that show it
Form = dict[str, Fill]  # a recipe kind's fields (gan_core.studio.recipe.Recipe's names) -> how its tab shows each


def field(component: gr.components.Component, shown: Callable[[object], object] = lambda v: v) -> Fill:
    """A recipe field shown in one component, as `shown` makes it fit there; left alone when the recipe leaves the
    field unset."""
    return lambda value, r: {} if unset(value) else {component: shown(value)}


def sliders(components: list[gr.Slider]) -> Fill:
    """A list of strengths spread over the sliders, zero past its end."""
    return lambda values, r: {} if unset(values) else dict(zip(components, [*values, *[0.0] * len(components)]))


def no_field(value: object, r: Recipe) -> dict:
    """A recipe field that no tab field shows."""
    return {}


def link_fields(r: Recipe, shared: Form, forms: dict[str, Form]) -> dict:
    """The fields a recipe's link fills in: each field of its kind in its tab's form (with the shared controls')."""
    form = {**shared, **forms[r.kind]}
    return {c: v for name, fill in form.items() for c, v in fill(getattr(r, name), r).items()}


def forms(studio: Studio, s: Shared, seeds: SimpleNamespace, walk: SimpleNamespace, mix: SimpleNamespace,
          edit: SimpleNamespace, image: SimpleNamespace) -> tuple[Form, dict[str, Form]]:
    """The shared controls' form, and each recipe kind's form in its tab."""

    def photo(w: object, r: Recipe) -> dict:
        """A recipe's projected w: the Your image tab's latent, in use."""
        return {} if unset(w) else {image.projected_w: w, s.active_w: w, s.use_photo: gr.Checkbox(visible=True,
                                                                                                     value=True)}

    def mix_layers(spec: object, r: Recipe) -> dict:
        """A mixing layer spec as the tab's preset and custom w indices (coarse when unset, as it is made)."""
        return dict(zip((mix.layers, mix.custom), split_mix_spec(spec)))

    def named(text: object, r: Recipe) -> dict:
        """Named edits as the model's named sliders (in its order), zero where the recipe leaves one out."""
        try:
            strengths = validation.named_edits(text, list(studio.edit_names(r.model)))
        except (InvalidInput, CheckpointError):
            return {}
        return dict(zip(edit.named, [strengths.get(n, 0.0) for n in studio.edit_names(r.model)]))

    seed = field(edit.seed, single_seed)
    seed_form = {"seeds": field(seeds.spec)}
    return {"psi": field(s.psi), "label": field(s.label, str)}, {
        "sample": seed_form,
        "seeds": seed_form,
        "all_classes": seed_form,
        "interpolate": {"seeds": field(walk.spec), "frames": field(walk.frames), "mode": field(walk.mode),
                        "loop": field(walk.loop), "w": photo},
        "mix": {"rows": field(mix.rows), "cols": field(mix.cols), "layers": mix_layers, "w": photo},
        "directions": {"seeds": seed, "layers": field(edit.layers), "edits": sliders(edit.sliders), "w": photo},
        "direction_strip": {"seeds": seed, "layers": field(edit.layers), "k": no_field, "frames": no_field,
                            "w": photo},
        "edit": {"seeds": seed, "edit": named, "w": photo},
        "projection": {"w": photo},
    }


def install(demo: gr.Blocks, studio: Studio, s: Shared, repro: SimpleNamespace, tabs: dict[str, SimpleNamespace]) \
        -> None:
    """On page load, a link's recipe fills in its tab's fields and its result shows in the Reproduce box (the
    load event, API name "link", is kept out of the API)."""
    shared, kinds = forms(studio, s, **tabs)
    outputs = {s.model, s.psi, s.label, s.active_w, s.use_photo, repro.box, repro.text, repro.out, repro.files,
               repro.note, tabs["seeds"].spec, *vars(tabs["walk"]).values(), *vars(tabs["mix"]).values(),
               tabs["edit"].seed, tabs["edit"].layers, *tabs["edit"].sliders, *tabs["edit"].named,
               tabs["image"].projected_w}

    def on_link(request: gr.Request) -> dict:
        """A link's ?recipe=... (or ?model=anime&seeds=1-4&psi=0.7): fill in its fields, reproduce its result."""
        try:
            r = Recipe.from_query(dict(request.query_params))
        except InvalidInput as exc:
            return {repro.box: gr.Accordion(open=True), repro.note: f"⚠️ {exc}"}
        if r is None:  # gradio reads an empty dict as one value for all the outputs: name one, unchanged
            return {repro.note: gr.update()}
        fields = {s.model: r.model, repro.box: gr.Accordion(open=True), repro.text: r.to_json(),
                  **link_fields(r, shared, kinds)}
        try:
            out, files, note = reproduced(studio.reproduce(r))
            return {**fields, repro.out: out, repro.files: files, repro.note: note}
        except (InvalidInput, CheckpointError) as exc:
            return {**fields, repro.note: f"⚠️ {exc}"}

    demo.load(on_link, None, outputs, api_name="link", api_visibility="private", **QUICK)
