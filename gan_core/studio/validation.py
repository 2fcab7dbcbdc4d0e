"""Every user-facing argument is checked here, once, with messages naming the field and its range."""
from __future__ import annotations

import math
import re
from numbers import Real

from torch import nn

from gan_core.errors import InvalidInput
from gan_core.latent.named import STRENGTH_RANGE
from gan_core.latent.sampling import LAYER_GROUPS, MAX_SEED, MAX_SEEDS, layer_groups

MAX_IMAGES = MAX_SEEDS  # images per request
PSI_RANGE = (-2.0, 2.0)
FRAMES_RANGE = (2, 120)
MAX_GRID_SIDE = 8  # style mixing: at most 8 row and 8 column seeds
INTERP_SEEDS_RANGE = (2, 16)  # key seeds of one interpolation
MAX_TEXT = 1000  # characters in a seed or layer spec
EDIT_RANGE = (-10.0, 10.0)  # latent-direction strengths, in standard deviations of the latent along each
NAMED_RANGE = STRENGTH_RANGE  # named edits: -5..5, scaled per direction (gan_core.latent.named)
LAYER_PRESETS = (*LAYER_GROUPS, "all", "custom")  # style mixing: a layer group, all, or custom w indices


def shown(value: object, width: int = 60) -> str:
    """repr() of a user's value, cut short so a huge input never makes a huge message."""
    try:
        r = repr(value)
    except ValueError:  # an int of more than sys.get_int_max_str_digits() digits
        r = f"<{type(value).__name__} too large to show>"
    return r if len(r) <= width else r[:width - 3] + "..."


def text(value: str, field: str) -> str:
    """A string argument, refused beyond MAX_TEXT characters before any parsing."""
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{field}: text of {len(value):,} characters is too long (allowed 0..{MAX_TEXT} characters)")
    return value


def _number(value: object, field: str, allowed: str) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"{field}: expected a number, got {value!r} (allowed {allowed})")
    if isinstance(value, str):
        value = text(value, field).strip()
        try:
            value = float(value)
        except ValueError:
            raise InvalidInput(f"{field}: {shown(value)} is not a number (allowed {allowed})") from None
    if not isinstance(value, Real):
        raise InvalidInput(f"{field}: expected a number, got {type(value).__name__} (allowed {allowed})")
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return math.inf if value > 0 else -math.inf


def finite(value: object, field: str) -> float:
    """Any finite number (a number or its text); its range is checked where the field is used."""
    x = _number(value, field, "a finite number")
    if not math.isfinite(x):
        raise InvalidInput(f"{field}: {shown(value)} is not a finite number")
    return x


def whole(value: object, field: str, allowed: str = "a whole number") -> int:
    """A whole number (an int, a float like 3.0, or their text); `allowed` names the range in messages."""
    if isinstance(value, int) and not isinstance(value, bool):  # ints of any size stay exact
        return value
    x = _number(value, field, allowed)
    if not math.isfinite(x) or x != int(x):
        raise InvalidInput(f"{field}: {shown(value)} is not a whole number (allowed {allowed})")
    return int(x)


def integer(value: object, field: str, lo: int, hi: int) -> int:
    """A whole number within [lo, hi]."""
    x = whole(value, field, f"{lo}..{hi}")
    if not lo <= x <= hi:
        raise InvalidInput(f"{field}: {shown(x)} is out of range {lo}..{hi}")
    return x


def count(value: object) -> int:
    return integer(value, "n", 1, MAX_IMAGES)


def frames(value: object) -> int:
    return integer(value, "frames", *FRAMES_RANGE)


def psi(value: object) -> float:
    """Truncation psi: finite, within PSI_RANGE."""
    allowed = f"{PSI_RANGE[0]}..{PSI_RANGE[1]}"
    x = _number(value, "truncation psi", allowed)
    if not math.isfinite(x) or not PSI_RANGE[0] <= x <= PSI_RANGE[1]:
        raise InvalidInput(f"truncation psi: {shown(value)} is out of range {allowed}")
    return x


def seed(value: object, field: str = "seed") -> int:
    return integer(value, field, 0, MAX_SEED)


def parse_seeds(spec: str | int, limit: int = MAX_SEEDS, field: str = "seeds") -> list[int]:
    """Expand '1, 5, 10-20' into a list of seeds, each in 0..2**32-1, at most `limit` of them."""
    if isinstance(spec, bool):
        raise InvalidInput(f"{field}: expected an integer or a spec like '1, 5, 10-20' (seeds are 0..{MAX_SEED})")
    if isinstance(spec, int):
        spec = str(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInput(f"{field}: empty; give up to {limit} seeds, each 0..{MAX_SEED}, like '1, 5, 10-20'")
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*(?:-\s*(\d+))?", part)
        if not m:
            raise InvalidInput(f"{field}: {part!r} is not a whole number or a range like 10-20 "
                               f"(seeds are 0..{MAX_SEED})")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi > MAX_SEED:
            raise InvalidInput(f"{field}: {hi} is out of range 0..{MAX_SEED}")
        if hi < lo:
            raise InvalidInput(f"{field}: range {lo}-{hi} is reversed; write {hi}-{lo} (seeds are 0..{MAX_SEED})")
        if len(seeds) + hi - lo + 1 > limit:
            raise InvalidInput(f"{field}: more than {limit} seeds at {part!r} (allowed at most {limit} per request)")
        seeds.extend(range(lo, hi + 1))
    return seeds


def parse_layers(G: nn.Module, spec: str) -> list[int]:
    """'coarse' / 'middle' / 'fine' / 'all' / 'none' or indices like '0-3, 5' -> sorted w indices."""
    spec = spec.strip().lower()
    groups = layer_groups(G)
    if spec in groups:
        return groups[spec]
    if spec == "all":
        return list(range(G.num_ws))
    if spec in ("", "none"):
        return []
    out: set[int] = set()
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", part)
        if not m:
            raise InvalidInput(f"layers: {part.strip()[:40]!r} is not coarse/middle/fine/all or an index range like "
                             f"0-3 (indices 0..{G.num_ws - 1})")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise InvalidInput(f"layers: range {lo}-{hi} is reversed; write {hi}-{lo} (indices 0..{G.num_ws - 1})")
        if hi >= G.num_ws:
            raise InvalidInput(f"layers: index {hi} is out of range 0..{G.num_ws - 1}")
        out.update(range(lo, hi + 1))
    return sorted(out)


def seeds(spec: object, field: str = "seeds", limit: int = MAX_SEEDS, minimum: int = 1) -> list[int]:
    """A seed spec like '1, 5, 10-20' giving minimum..limit seeds."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        spec = str(seed(spec, field))
    if not isinstance(spec, str):
        raise InvalidInput(f"{field}: expected text like '1, 5, 10-20', got {type(spec).__name__} "
                           f"(allowed {minimum}..{limit} seeds, each 0..{MAX_SEED})")
    out = parse_seeds(text(spec, field), limit, field)
    if len(out) < minimum:
        raise InvalidInput(f"{field}: give at least {minimum} seeds, e.g. '3, 7' (allowed {minimum}..{limit} seeds)")
    return out


def seed_spec(seeds: list[int]) -> str:
    """[1, 2, 3, 4, 9] -> '1-4,9': a compact spec that parses back to the same seeds."""
    parts: list[str] = []
    start = prev = None
    for s in seeds + [None]:
        if start is not None and s == prev + 1:
            prev = s
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = s
    return ",".join(parts)


def single_seed(spec: object) -> int | None:
    """The seed a spec names when it names exactly one valid seed, else None."""
    try:
        return seed(spec)
    except InvalidInput:
        return None


def mix_spec(preset: object, custom: object) -> object:
    """The mixing tab's (preset, custom w indices) as one layer spec for `layers`; the preset is checked here."""
    preset = choice(preset, "layers", LAYER_PRESETS)
    return custom if preset == "custom" else preset


def split_mix_spec(spec: str) -> tuple[str, str]:
    """A recipe's mixing layer spec as the tab's (preset, custom w indices); coarse when unset."""
    spec = spec or "coarse"
    return (spec, "") if spec in LAYER_PRESETS else ("custom", spec)


def layers(G: nn.Module, spec: object) -> list[int]:
    """w indices of a style model from 'coarse' / 'middle' / 'fine' / 'all' or a custom spec like '0-3, 6'."""
    if not isinstance(spec, str):
        raise InvalidInput(f"layers: expected text like '0-3, 6', got {type(spec).__name__} "
                           f"(indices 0..{G.num_ws - 1})")
    return parse_layers(G, text(spec, "layers"))


def label(value: object, num_classes: int) -> int | None:
    """Class label for conditional models (0..num_classes-1); None for unconditional ones."""
    if not num_classes:
        return None
    if value is None or value == "":
        return 0
    return integer(value, "class", 0, num_classes - 1)


def choice(value: object, field: str, options: tuple[str, ...] | list[str]) -> str:
    if value not in options:
        raise InvalidInput(f"{field}: {shown(value)} is not one of {', '.join(map(str, options))}")
    return str(value)


def edits(values: object, limit: int) -> list[float]:
    """Strengths for the top latent directions (at most `limit`), each within EDIT_RANGE; trailing zeros dropped."""
    lo, hi = EDIT_RANGE
    if not isinstance(values, (list, tuple)) or len(values) > limit:
        raise InvalidInput(f"edits: expected a list of at most {limit} strengths, each {lo}..{hi}")
    out = []
    for i, value in enumerate(values):
        x = _number(0.0 if value is None else value, f"edits[{i}]", f"{lo}..{hi}")
        if not math.isfinite(x) or not lo <= x <= hi:
            raise InvalidInput(f"edits[{i}]: {shown(value)} is out of range {lo}..{hi}")
        out.append(x)
    while out and out[-1] == 0:
        out.pop()
    return out


def strength_text(x: float) -> str:
    """A strength as short text that parses back to exactly the same float."""
    short = f"{x:g}"
    return short if float(short) == x else repr(x)


def named_edits(value: object, names: list[str]) -> dict[str, float]:
    """'Smiling=2, Young=-1.5' -> {name: strength}, names among the model's, each strength within NAMED_RANGE,
    each name at most once; empty text is no edit."""
    lo, hi = NAMED_RANGE
    example = f"e.g. '{names[0]}=2'" if names else "e.g. 'Smiling=2'"
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"edits: expected text like NAME=STRENGTH, {example}, got {type(value).__name__}")
    out: dict[str, float] = {}
    for part in text(value, "edits").split(","):
        if not part.strip():
            continue
        name, eq, number = (x.strip() for x in part.partition("="))
        if not eq or not name or not number:
            raise InvalidInput(f"edits: {shown(part.strip())} is not NAME=STRENGTH "
                               f"({example}; strengths {lo:g}..{hi:g})")
        if name not in names:
            raise InvalidInput(f"edits: {shown(name)} is not one of this model's edits: {', '.join(names)}")
        if name in out:
            raise InvalidInput(f"edits: {name} is given twice")
        x = _number(number, f"edits: {name}", f"{lo:g}..{hi:g}")
        if not math.isfinite(x) or not lo <= x <= hi:
            raise InvalidInput(f"edits: {name}={shown(number)} is out of range {lo:g}..{hi:g}")
        out[name] = x
    return out


def flag(value: object, field: str) -> bool:
    """A checkbox: true or false (None counts as false)."""
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{field}: expected true or false, got {shown(value)}")
    return bool(value)
