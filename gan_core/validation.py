"""Every user-facing argument is checked here, once, with messages naming the field and its range."""
from __future__ import annotations

import math
from numbers import Real

from .sampling import MAX_SEED, MAX_SEEDS, parse_seeds

MAX_IMAGES = MAX_SEEDS  # images per request
PSI_RANGE = (-2.0, 2.0)
FRAMES_RANGE = (2, 120)
MAX_GRID_SIDE = 8  # style mixing: at most 8 row and 8 column seeds


class InvalidInput(ValueError):
    """Bad user input; str() is a message fit to show in the UI and the API."""


def _number(value: object, field: str) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"{field}: expected a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise InvalidInput(f"{field}: {value!r} is not a number") from None
    if not isinstance(value, Real):
        raise InvalidInput(f"{field}: expected a number, got {type(value).__name__}")
    return float(value)


def integer(value: object, field: str, lo: int, hi: int) -> int:
    """A whole number within [lo, hi]."""
    x = _number(value, field)
    if not math.isfinite(x) or x != int(x):
        raise InvalidInput(f"{field}: {value!r} is not a whole number (allowed {lo}..{hi})")
    if not lo <= x <= hi:
        raise InvalidInput(f"{field}: {int(x)} is out of range {lo}..{hi}")
    return int(x)


def count(value: object) -> int:
    return integer(value, "n", 1, MAX_IMAGES)


def frames(value: object) -> int:
    return integer(value, "frames", *FRAMES_RANGE)


def psi(value: object) -> float:
    """Truncation psi: finite, within PSI_RANGE."""
    x = _number(value, "truncation psi")
    if not math.isfinite(x) or not PSI_RANGE[0] <= x <= PSI_RANGE[1]:
        raise InvalidInput(f"truncation psi: {value!r} is out of range {PSI_RANGE[0]}..{PSI_RANGE[1]}")
    return x


def seed(value: object, field: str = "seed") -> int:
    return integer(value, field, 0, MAX_SEED)


def seeds(spec: object, field: str = "seeds", limit: int = MAX_SEEDS) -> list[int]:
    """A seed spec like '1, 5, 10-20', capped at `limit` seeds."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        spec = str(seed(spec, field))
    if not isinstance(spec, str):
        raise InvalidInput(f"{field}: expected text like '1, 5, 10-20', got {type(spec).__name__}")
    try:
        return parse_seeds(spec, limit)
    except ValueError as exc:
        raise InvalidInput(str(exc).replace("seeds:", f"{field}:", 1)) from None


def label(value: object, num_classes: int) -> int | None:
    """Class label for conditional models (0..num_classes-1); None for unconditional ones."""
    if not num_classes:
        return None
    if value is None or value == "":
        return 0
    return integer(value, "class", 0, num_classes - 1)


def choice(value: object, field: str, options: tuple[str, ...] | list[str]) -> str:
    if value not in options:
        raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(map(str, options))}")
    return str(value)
