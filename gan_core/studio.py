"""One entry point for the app and the CLI: validated requests -> images, grids, GIF/MP4 files."""
from __future__ import annotations

import hashlib
import random
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from torch import nn

from . import media, sampling, validation
from .checkpoint import load_generator, resolve
from .registry import CHECKPOINT_DIR, ModelEntry, entries, unknown_model_message
from .validation import InvalidInput

INTERPOLATION_MODES = ("z-slerp", "w-lerp")
LAYER_PRESETS = ("coarse", "middle", "fine", "all", "custom")


@dataclass
class LoadedModel:
    """A generator ready to sample, with what the UI shows about it."""

    entry: ModelEntry
    G: nn.Module
    config: dict[str, Any]
    sha256: str

    @property
    def num_classes(self) -> int:
        return self.G.num_classes

    @property
    def is_style(self) -> bool:
        return sampling.is_style(self.G)

    def summary(self) -> str:
        m, meta = self.config["model"], self.config.get("meta", {})
        parts = [f"**{self.entry.label}**: `{m['arch']}` {m['resolution']}px"]
        if m.get("num_classes"):
            parts.append(f"{m['num_classes']} classes")
        if meta.get("steps"):
            parts.append(f"{meta['steps']:,} steps on {meta.get('num_images', 0):,} images")
        if "fid" in meta:
            parts.append(f"FID {meta['fid']}")
        return " · ".join(parts)


@dataclass
class Result:
    """Images with captions, plus any files written (PNG/GIF/MP4)."""

    images: list[Image.Image]
    captions: list[str]
    seeds: list[int] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


class Studio:
    """Loads each model once, shares it across requests, validates every argument."""

    def __init__(self, checkpoint_dir: str | Path | None = None, device: str = "cpu") -> None:
        self.checkpoint_dir = Path(checkpoint_dir or CHECKPOINT_DIR)
        self.device = device
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self.outdir = Path(tempfile.mkdtemp(prefix="gan-studio-"))

    def names(self) -> list[str]:
        return list(entries(self.checkpoint_dir))

    def labels(self) -> dict[str, str]:
        return {name: e.label for name, e in entries(self.checkpoint_dir).items()}

    def model(self, name: object) -> LoadedModel:
        """The loaded model `name`; CheckpointError if its files are bad, InvalidInput if unknown."""
        known = entries(self.checkpoint_dir)
        if not isinstance(name, str) or name not in known:
            raise InvalidInput(unknown_model_message(name, list(known)))
        with self._lock:
            if name not in self._models:
                entry = known[name]
                folder = resolve(name, self.checkpoint_dir, entry.hub_repo, entry.revision)
                G, config = load_generator(folder, self.device)
                sha = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
                self._models[name] = LoadedModel(entry, G, config, sha)
            return self._models[name]

    # ----- the four tabs -----
    def sample(self, name: object, n: object, psi: object, label: object = None,
               seed: object = None) -> Result:
        """n random seeds (or seed, seed+1, ... when a base seed is given); captions are the seeds."""
        m, n, psi = self.model(name), validation.count(n), validation.psi(psi)
        base = random.SystemRandom().randrange(sampling.MAX_SEED + 1) if seed in (None, "") else validation.seed(seed)
        seeds = [(base + i) % (sampling.MAX_SEED + 1) for i in range(n)]
        return self._images(m, seeds, psi, validation.label(label, m.num_classes))

    def seeds(self, name: object, spec: object, psi: object, label: object = None) -> Result:
        """Images for a seed spec like '1, 5, 10-20'; each also saved as a PNG for download."""
        m = self.model(name)
        seeds, psi = validation.seeds(spec), validation.psi(psi)
        result = self._images(m, seeds, psi, validation.label(label, m.num_classes))
        folder = Path(tempfile.mkdtemp(dir=self.outdir))
        for img, s in zip(result.images, seeds):
            path = folder / f"{name}-seed{s}.png"
            img.save(path)
            result.files.append(path)
        return result

    def grid(self, name: object, spec: object, psi: object, label: object = None, nrow: int | None = None) -> Image.Image:
        """All images of a seed spec tiled into one PNG-ready image."""
        m = self.model(name)
        seeds, psi = validation.seeds(spec), validation.psi(psi)
        imgs = sampling.generate(m.G, seeds, psi, validation.label(label, m.num_classes))
        return media.grid(imgs, nrow or sampling.grid_shape(len(seeds)))

    def interpolate(self, name: object, spec: object, frames: object, mode: object = "z-slerp",
                    psi: object = 1.0, label: object = None, loop: bool = False, fps: int = 16) -> Result:
        """Frames from seed to seed (z-slerp or w-lerp), written as a GIF and an MP4."""
        m = self.model(name)
        lo, hi = validation.INTERP_SEEDS_RANGE
        seeds = validation.seeds(spec, "interpolation seeds", limit=hi, minimum=lo)
        frames, psi = validation.frames(frames), validation.psi(psi)
        mode = validation.choice(mode, "mode", INTERPOLATION_MODES)
        if mode == "w-lerp" and not m.is_style:
            raise InvalidInput("mode: w-lerp needs a style-based model; use z-slerp")
        imgs = sampling.interpolate(m.G, seeds, frames, mode, psi, validation.label(label, m.num_classes),
                                    validation.flag(loop, "loop"))
        folder = Path(tempfile.mkdtemp(dir=self.outdir))
        stem = f"{name}-{'-'.join(map(str, seeds))}-{mode}"
        files = [media.save_gif(imgs, folder / f"{stem}.gif", fps), media.save_mp4(imgs, folder / f"{stem}.mp4", fps)]
        return Result(media.to_pil(imgs), [f"frame {i}" for i in range(frames)], seeds, files)

    def mix(self, name: object, row_spec: object, col_spec: object, layers: object = "coarse",
            custom: object = "", psi: object = 1.0, label: object = None) -> tuple[Image.Image, list[int]]:
        """StyleGAN style-mixing figure and the w indices that took the column's styles."""
        m = self.model(name)
        if not m.is_style:
            raise InvalidInput(f"style mixing: model {name!r} has no per-layer styles (arch {m.config['model']['arch']})")
        rows = validation.seeds(row_spec, "row seeds", limit=validation.MAX_GRID_SIDE)
        cols = validation.seeds(col_spec, "column seeds", limit=validation.MAX_GRID_SIDE)
        preset = validation.choice(layers, "layers", LAYER_PRESETS)
        idx = validation.layers(m.G, custom if preset == "custom" else preset)
        psi, c = validation.psi(psi), validation.label(label, m.num_classes)
        mixed = sampling.style_mix(m.G, rows, cols, idx, psi, c)
        figure = media.mixing_figure(sampling.generate(m.G, rows, psi, c), sampling.generate(m.G, cols, psi, c),
                                     mixed, rows, cols)
        return figure, idx

    def _images(self, m: LoadedModel, seeds: list[int], psi: float, label: int | None) -> Result:
        imgs = media.to_pil(sampling.generate(m.G, seeds, psi, label))
        captions = [f"seed {s}" + (f" · class {label}" if label is not None else "") for s in seeds]
        return Result(imgs, captions, seeds)

