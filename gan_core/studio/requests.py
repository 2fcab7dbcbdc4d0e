"""One typed request per kind of result, parsed and validated once against the loaded model.

A request's serialised fields are its recipe: `to_recipe` writes them, `from_recipe` reads them back through the
same `parse`, so a pasted recipe gets the checks and the messages that a tab's input gets.
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from PIL import Image

from gan_core.errors import InvalidInput
from gan_core.latent import directions, projection, sampling
from gan_core.photos import uploads
from gan_core.studio import validation
from gan_core.studio.loaded import LoadedModel
from gan_core.studio.recipe import MAX_W_CHARS, Recipe, unset

INTERPOLATION_MODES = ("z-slerp", "w-lerp")
DEFAULT_FRAMES = 32  # interpolation frames when a recipe gives none
TOP_K = 5  # latent directions offered as sliders and previewed as strips
STRIP_FRAMES = 7  # frames of a direction's preview strip, -3 sigma..+3 sigma
MAX_STRIP_DIRECTIONS, STRIP_FRAMES_RANGE = 10, (2, 15)
Progress = Callable[[int, int, float], None]  # (step, steps, loss) of a projection


def in_recipe(name: str | None = None, text: Callable[[Any], Any] | None = None, **kw: Any) -> Any:
    """A field written to the recipe, under `name` (default: its own), as `text` makes it (default: as is)."""
    return field(metadata={"recipe": name, "text": text}, **kw)


def derived(**kw: Any) -> Any:
    """A field parse() works out (a decoded latent, layer indices); not part of the recipe."""
    return field(default=None, repr=False, compare=False, metadata={"derived": True}, **kw)


@dataclass(frozen=True)
class Request:
    """A validated request: the loaded model and the arguments of one kind of result."""

    kind: ClassVar[str]
    model: LoadedModel = field(repr=False, compare=False)

    @classmethod
    def _recipe_fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.name != "model" and not f.metadata.get("derived")]

    def to_recipe(self) -> Recipe:
        """The recipe that remakes this request's result."""
        values = {}
        for f in self._recipe_fields():
            value, text = getattr(self, f.name), f.metadata.get("text")
            values[f.metadata.get("recipe") or f.name] = text(value) if text and not unset(value) else value
        return Recipe(self.kind, self.model.entry.name, self.model.sha256, **values)

    @classmethod
    def from_recipe(cls, m: LoadedModel, r: Recipe) -> Request:
        """The request a recipe describes, checked as a tab's input is; unset fields take parse()'s defaults."""
        given = {f.name: getattr(r, f.metadata.get("recipe") or f.name) for f in cls._recipe_fields()}
        return cls.parse(m, **{name: value for name, value in given.items() if not unset(value)})

    @classmethod
    def parse(cls, m: LoadedModel, **arguments: Any) -> Request:
        raise NotImplementedError


def style_model(m: LoadedModel, what: str) -> LoadedModel:
    """Model m, refused with a message naming `what` when it has no per-layer styles."""
    if not m.is_style:
        raise InvalidInput(f"{what}: model {m.entry.name!r} has no per-layer styles (arch {m.config['model']['arch']})")
    return m


def projected_w(m: LoadedModel, w: object) -> torch.Tensor | None:
    """A projected w [num_ws, w_dim] from its text, None when none is given; a clear message when it is not one of
    this model's."""
    if w in (None, ""):
        return None
    if not m.is_style:
        raise InvalidInput(f"w: model {m.entry.name!r} has no per-layer styles to take a projected image")
    if not isinstance(w, str) or len(w) > MAX_W_CHARS:
        raise InvalidInput(f"w: expected a projected latent as base64 text of at most {MAX_W_CHARS:,} characters, "
                           f"got {validation.shown(w)}")
    try:
        return projection.decode_w(w, (m.G.num_ws, m.G.w_dim))
    except ValueError as exc:
        raise InvalidInput(f"{exc} (a latent projected into model {m.entry.name!r}: project your image with "
                           "this model)") from None


def layer_groups(m: LoadedModel) -> list[str]:
    """The style layers m's latent directions can act on: all, and each group it has layers in."""
    if not m.is_style:
        return ["all"]
    groups = sampling.layer_groups(m.G)
    return [g for g in directions.GROUPS if g == "all" or groups[g]]


def direction_group(m: LoadedModel, layers: object) -> tuple[str, directions.Directions]:
    """A layer group m has, and m's SeFa directions in it."""
    group = validation.choice(layers, "layers", directions.GROUPS)
    groups = layer_groups(m)
    if group not in groups:
        missing = f"no {group} style layers" if m.is_style else "no per-layer styles"
        raise InvalidInput(f"layers: model {m.entry.name!r} has {missing}; use {' or '.join(map(repr, groups))}")
    return group, m.sefa(group)


@dataclass(frozen=True)
class SeedsRequest(Request):
    """Images of a seed spec like '1, 5, 10-20'."""

    kind: ClassVar[str] = "seeds"
    seeds: list[int] = in_recipe(text=validation.seed_spec, default_factory=list)
    psi: float = in_recipe(default=1.0)
    label: int | None = in_recipe(default=None)

    @classmethod
    def parse(cls, m: LoadedModel, seeds: object = "", psi: object = 1.0, label: object = None) -> SeedsRequest:
        return cls(m, validation.seeds(seeds), validation.psi(psi), validation.label(label, m.num_classes))


@dataclass(frozen=True)
class SampleRequest(SeedsRequest):
    """n random seeds, or seed, seed+1, ... from a base seed; its recipe is remade as those seeds."""

    kind: ClassVar[str] = "sample"

    @classmethod
    def parse(cls, m: LoadedModel, n: object = 1, psi: object = 1.0, label: object = None,
              seed: object = None) -> SampleRequest:
        n, psi = validation.count(n), validation.psi(psi)
        base = random.SystemRandom().randrange(sampling.MAX_SEED + 1) if seed in (None, "") else validation.seed(seed)
        seeds = [(base + i) % (sampling.MAX_SEED + 1) for i in range(n)]
        return cls(m, seeds, psi, validation.label(label, m.num_classes))


@dataclass(frozen=True)
class AllClassesRequest(Request):
    """Every class of a conditional model side by side, one row per seed."""

    kind: ClassVar[str] = "all_classes"
    seeds: list[int] = in_recipe(text=validation.seed_spec, default_factory=list)
    psi: float = in_recipe(default=1.0)

    @classmethod
    def parse(cls, m: LoadedModel, seeds: object = "", psi: object = 1.0) -> AllClassesRequest:
        if not m.num_classes:
            raise InvalidInput(f"all classes: model {m.entry.name!r} is not class-conditional")
        return cls(m, validation.seeds(seeds, limit=max(1, validation.MAX_IMAGES // m.num_classes)),
                   validation.psi(psi))


@dataclass(frozen=True)
class InterpolateRequest(Request):
    """A walk through key seeds (z-slerp or w-lerp), optionally starting from a projected image."""

    kind: ClassVar[str] = "interpolate"
    seeds: list[int] = in_recipe(text=validation.seed_spec, default_factory=list)
    frames: int = in_recipe(default=DEFAULT_FRAMES)
    mode: str = in_recipe(default="z-slerp")
    psi: float = in_recipe(default=1.0)
    label: int | None = in_recipe(default=None)
    loop: bool = in_recipe(default=False)
    w: str = in_recipe(default="")
    start: torch.Tensor | None = derived()

    @classmethod
    def parse(cls, m: LoadedModel, seeds: object = "", frames: object = DEFAULT_FRAMES, mode: object = "z-slerp",
              psi: object = 1.0, label: object = None, loop: object = False, w: object = "") -> InterpolateRequest:
        start = projected_w(m, w)
        lo, hi = validation.INTERP_SEEDS_RANGE
        from_photo = start is not None
        seeds = validation.seeds(seeds, "interpolation seeds", limit=hi - from_photo, minimum=lo - from_photo)
        frames, psi = validation.frames(frames), validation.psi(psi)
        mode = validation.choice(mode, "mode", INTERPOLATION_MODES)
        if mode == "w-lerp" and not m.is_style:
            raise InvalidInput("mode: w-lerp needs a style-based model; use z-slerp")
        if from_photo and mode != "w-lerp":
            raise InvalidInput("mode: a walk from your image moves through w; use w-lerp")
        return cls(m, seeds, frames, mode, psi, validation.label(label, m.num_classes), validation.flag(loop, "loop"),
                   w if from_photo else "", start)


@dataclass(frozen=True)
class MixRequest(Request):
    """Style mixing: the column seeds' styles on the row seeds' images at some w indices; a projected image is
    the first row and column."""

    kind: ClassVar[str] = "mix"
    rows: list[int] = in_recipe(text=validation.seed_spec, default_factory=list)
    cols: list[int] = in_recipe(text=validation.seed_spec, default_factory=list)
    layers: str = in_recipe(default="coarse")
    psi: float = in_recipe(default=1.0)
    label: int | None = in_recipe(default=None)
    w: str = in_recipe(default="")
    indices: list[int] = derived()
    photo: torch.Tensor | None = derived()

    @classmethod
    def parse(cls, m: LoadedModel, rows: object = "", cols: object = "", layers: object = "coarse",
              psi: object = 1.0, label: object = None, w: object = "") -> MixRequest:
        style_model(m, "style mixing")
        photo = projected_w(m, w)
        side = validation.MAX_GRID_SIDE - (photo is not None)
        rows = validation.seeds(rows, "row seeds", limit=side)
        cols = validation.seeds(cols, "column seeds", limit=side)
        indices = validation.layers(m.G, layers)
        return cls(m, rows, cols, layers.strip(), validation.psi(psi), validation.label(label, m.num_classes),
                   w if photo is not None else "", indices, photo)


@dataclass(frozen=True)
class OneSeedRequest(Request):
    """A request about one seed's image (or a projected one's): the seed, truncation psi and class come first."""

    seed: int = in_recipe("seeds", text=str, default=0)
    psi: float = in_recipe(default=1.0)
    label: int | None = in_recipe(default=None)

    @staticmethod
    def one_seed(m: LoadedModel, seed: object, psi: object, label: object) -> tuple[int, float, int | None]:
        """The seed, psi and class checked, in the order their messages come."""
        return validation.seed(seed), validation.psi(psi), validation.label(label, m.num_classes)


@dataclass(frozen=True)
class DirectionsRequest(OneSeedRequest):
    """A seed's image (or a projected one) moved along the model's top latent directions, in sigmas."""

    kind: ClassVar[str] = "directions"
    layers: str = in_recipe(default="all")
    edits: list[float] = in_recipe(default_factory=list)
    w: str = in_recipe(default="")
    found: directions.Directions = derived()
    base: torch.Tensor | None = derived()

    @classmethod
    def parse(cls, m: LoadedModel, seed: object = "", psi: object = 1.0, label: object = None, edits: object = (),
              layers: object = "all", w: object = "") -> DirectionsRequest:
        seed, psi, c = cls.one_seed(m, seed, psi, label)
        group, found = direction_group(m, layers)
        base = projected_w(m, w)
        strengths = validation.edits(edits, len(found.vectors))
        return cls(m, seed, psi, c, group, strengths, w if base is not None else "", found, base)


@dataclass(frozen=True)
class StripRequest(OneSeedRequest):
    """For each of the top k directions, `frames` images from -3 sigma to +3 sigma along it."""

    kind: ClassVar[str] = "direction_strip"
    k: int = in_recipe(default=TOP_K)
    frames: int = in_recipe(default=STRIP_FRAMES)
    layers: str = in_recipe(default="all")
    w: str = in_recipe(default="")
    found: directions.Directions = derived()
    base: torch.Tensor | None = derived()

    @classmethod
    def parse(cls, m: LoadedModel, seed: object = "", psi: object = 1.0, label: object = None, k: object = TOP_K,
              frames: object = STRIP_FRAMES, layers: object = "all", w: object = "") -> StripRequest:
        seed, psi, c = cls.one_seed(m, seed, psi, label)
        group, found = direction_group(m, layers)
        base = projected_w(m, w)
        k = validation.integer(k, "directions", 1, min(MAX_STRIP_DIRECTIONS, len(found.vectors)))
        frames = validation.integer(frames, "frames", *STRIP_FRAMES_RANGE)
        return cls(m, seed, psi, c, k, frames, group, w if base is not None else "", found, base)


@dataclass(frozen=True)
class EditRequest(OneSeedRequest):
    """A seed's image (or a projected one) with named edits like 'Smiling=2, Young=-1.5', strengths -5..5."""

    kind: ClassVar[str] = "edit"
    edit: str = in_recipe(default="")
    w: str = in_recipe(default="")
    strengths: dict[str, float] = derived()
    base: torch.Tensor | None = derived()

    @classmethod
    def parse(cls, m: LoadedModel, seed: object = "", psi: object = 1.0, label: object = None, edit: object = "",
              w: object = "") -> EditRequest:
        if m.named is None:
            raise InvalidInput(f"edits: model {m.entry.name!r} has no named edits; use the latent directions")
        seed, psi, c = cls.one_seed(m, seed, psi, label)
        strengths = validation.named_edits(edit, m.named.names)
        order = [n for n in m.named.names if n in strengths]  # one spelling per edit, so its recipe is one text
        text = ",".join(f"{n}={validation.strength_text(strengths[n])}" for n in order)
        base = projected_w(m, w)
        return cls(m, seed, psi, c, text, w if base is not None else "", {n: strengths[n] for n in order}, base)


@dataclass(frozen=True)
class ProjectedRequest(Request):
    """The image a projected w stands for: a projection's result remade from its recipe, without the photo."""

    kind: ClassVar[str] = "projection"
    w: str = in_recipe(default="")
    ws: torch.Tensor | None = derived()

    @classmethod
    def parse(cls, m: LoadedModel, w: object = "") -> ProjectedRequest:
        ws = projected_w(style_model(m, "projection"), w)
        if ws is None:
            raise InvalidInput("w: give a projected latent (the 'w' of a projection's recipe)")
        return cls(m, w, ws)


@dataclass(frozen=True)
class ProjectRequest(Request):
    """Fit an uploaded photo; its result's recipe is a ProjectedRequest's (the photo is not stored)."""

    kind: ClassVar[str] = "project"
    photo: Image.Image | None = field(default=None, repr=False)
    centre_crop: bool = False
    steps: int = projection.DEFAULT_STEPS
    label: int | None = None
    progress: Progress | None = field(default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, m: LoadedModel, image: object = None, centre_crop: object = False,
              steps: object = projection.DEFAULT_STEPS, label: object = None,
              progress: Progress | None = None) -> ProjectRequest:
        style_model(m, "projection")
        photo = uploads.open_upload(image)
        crop = validation.flag(centre_crop, "centre crop")
        steps = validation.integer(steps, "steps", 0, projection.MAX_STEPS)
        return cls(m, photo, crop, steps, validation.label(label, m.num_classes), progress)


# recipe kind -> the request it describes (a sample is remade as its seeds); adding a kind is one entry here
RECIPE_REQUESTS: dict[str, type[Request]] = {
    "sample": SeedsRequest, "seeds": SeedsRequest, "all_classes": AllClassesRequest,
    "interpolate": InterpolateRequest, "mix": MixRequest, "directions": DirectionsRequest,
    "direction_strip": StripRequest, "edit": EditRequest, "projection": ProjectedRequest,
}


def takes_w(kind: str) -> bool:
    """Whether a recipe kind can start from a projected image (has a `w` besides being the projection itself)."""
    request = RECIPE_REQUESTS[kind]
    return request is not ProjectedRequest and any(f.name == "w" for f in dataclasses.fields(request))
