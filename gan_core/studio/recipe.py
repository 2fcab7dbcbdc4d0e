"""Recipes: what made a result (model, checkpoint sha256, kind, seeds, psi, ...) as compact JSON text.

Every PNG the app and the CLI write carries its recipe in the PNG text chunk KEY. Pasting a recipe into the
app's "Reproduce" box, opening a link `?recipe=<url-encoded JSON>` (or `?model=anime&seeds=1-4&psi=0.7`,
fields as query parameters) or `python -m gan_core.generate --recipe` regenerates the result bit-exactly.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from gan_core.errors import InvalidInput
from gan_core.studio.validation import finite, shown, whole

KEY = "gan-studio-recipe"
MAX_CHARS = 8000  # the longest recipe accepted: a projected w of the 64 px models is 3,416 characters of it
MAX_W_CHARS = 6000  # a projected w (float16 base64): up to 16 layers x 128 dims


@dataclass
class Recipe:
    """A request serialised (gan_core.studio.requests): its kind, model and fields; ranges are checked when it is
    parsed back into a request."""

    kind: str
    model: str
    sha256: str = ""
    seeds: str = ""  # seed spec like "1-4,9"; a single seed for directions
    rows: str = ""  # style mixing: row and column seed specs
    cols: str = ""
    psi: float = 1.0
    label: int | None = None  # "class" in JSON
    layers: str = ""  # mixing: coarse/middle/fine/all or w indices; directions: all/coarse/middle/fine
    frames: int | None = None
    mode: str = ""
    loop: bool = False
    k: int | None = None  # directions previewed in a strip
    edits: list[float] = field(default_factory=list)
    edit: str = ""  # named edits like "Smiling=2,Young=-1.5"
    w: str = ""  # a projected image's W+ latent (gan_core.latent.projection.encode_w): the image it stands for

    def to_json(self) -> str:
        """Compact JSON of the fields that are set (psi always)."""
        data = {("class" if k == "label" else k): v for k, v in asdict(self).items() if k == "psi" or not unset(v)}
        return json.dumps(data, separators=(",", ":"))

    def query(self) -> str:
        """The query string of a link that opens this result."""
        return "?recipe=" + quote(self.to_json(), safe="")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Recipe:
        """Build from JSON values or query-string text, with a clear message for unknown keys or wrong types."""
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise InvalidInput(f"recipe: unknown field(s) {', '.join(map(shown, unknown))}; "
                               f"known: {', '.join(_FIELDS)}")
        for key in ("kind", "model"):
            if key not in data:
                raise InvalidInput(f"recipe: missing {key!r}")
        kwargs = {("label" if k == "class" else k): _FIELDS[k](k, v) for k, v in data.items()}
        if kwargs["kind"] not in KINDS:
            raise InvalidInput(f"recipe: kind {shown(kwargs['kind'])} is not one of {', '.join(KINDS)}")
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: object) -> Recipe:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("recipe: paste the recipe text (JSON) of a result")
        if len(text) > MAX_CHARS:
            raise InvalidInput(f"recipe: {len(text):,} characters is too long (at most {MAX_CHARS})")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"recipe: not valid JSON ({exc.msg} at character {exc.pos})") from None
        if not isinstance(data, dict):
            raise InvalidInput("recipe: expected a JSON object like {\"kind\":\"seeds\",\"model\":\"anime\",...}")
        return cls.from_dict(data)

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Recipe | None:
        """?recipe=<JSON>, or the fields as parameters (kind defaults to seeds); None when the link has neither."""
        if "recipe" in params:
            return cls.from_json(params["recipe"])
        if "model" not in params:
            return None
        return cls.from_dict({"kind": "seeds", **{k: v for k, v in params.items() if k in _FIELDS}})


# the kinds of result a recipe can describe (gan_core.studio.requests.RECIPE_REQUESTS says how each is made)
KINDS = ("sample", "seeds", "all_classes", "interpolate", "mix", "directions", "direction_strip", "edit",
         "projection")


def unset(value: object) -> bool:
    """A recipe field left at its empty value (left out of the JSON; the request's default applies)."""
    return value is None or value is False or value == "" or value == []


def _latent(key: str, value: object) -> str:
    """A projected w as base64 text, capped in length; its shape is checked against the model when it is run."""
    text = _text(key, value)
    if len(text) > MAX_W_CHARS:
        raise InvalidInput(f"recipe: {key} is {len(text):,} characters long; at most {MAX_W_CHARS:,}")
    return text


def _text(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"recipe: {key} must be text, got {shown(value)}")
    return value


def _spec(key: str, value: object) -> str:
    """A seed spec as text; a number or a list of numbers is accepted too."""
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return ",".join(map(str, value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(key, value)


def _float(key: str, value: object) -> float:
    return finite(value, f"recipe: {key}")


def _int(key: str, value: object) -> int | None:
    return None if value is None or value == "" else whole(value, f"recipe: {key}")


def _bool(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0", ""):
        return value.lower() in ("true", "1")
    raise InvalidInput(f"recipe: {key} must be true or false, got {shown(value)}")


def _floats(key: str, value: object) -> list[float]:
    """A list of numbers; in a query string, comma-separated."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise InvalidInput(f"recipe: {key} must be a list of numbers, got {shown(value)}")
    return [_float(f"{key}[{i}]", v) for i, v in enumerate(value)]


_FIELDS = {"kind": _text, "model": _text, "sha256": _text, "seeds": _spec, "rows": _spec, "cols": _spec,
           "psi": _float, "class": _int, "layers": _text, "frames": _int, "mode": _text, "loop": _bool,
           "k": _int, "edits": _floats, "edit": _text, "w": _latent}


def attach(img: Image.Image, recipe: Recipe) -> Image.Image:
    """Store the recipe in the image's metadata; media.save_png and gradio write it as a PNG text chunk."""
    img.info[KEY] = recipe.to_json()
    return img


def load(source: str) -> Recipe:
    """A recipe from JSON text, a .json file, or a PNG carrying one in its metadata."""
    if source.lstrip().startswith("{"):
        return Recipe.from_json(source)
    path = Path(source)
    if not path.is_file():
        raise InvalidInput(f"recipe: {shown(source)} is neither JSON text nor a file")
    if path.suffix.lower() != ".png":
        return Recipe.from_json(path.read_text())
    with Image.open(path) as img:
        text = img.info.get(KEY)
    if text is None:
        raise InvalidInput(f"recipe: {path} has no {KEY!r} metadata")
    return Recipe.from_json(text)

