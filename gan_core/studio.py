"""One entry point for the app and the CLI: validated requests -> images, grids, PNG/ZIP/GIF/MP4 files, recipes."""
from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageOps
from torch import nn

from . import alignment, directions, media, projection, sampling, uploads, validation
from .checkpoint import load_generator, resolve
from .outputs import OutputFolder
from .recipe import KIND_TABLE, MAX_W_CHARS, Recipe, attach
from .registry import CHECKPOINT_DIR, ModelEntry, entries, unknown_model_message
from .validation import InvalidInput, seed_spec

INTERPOLATION_MODES = ("z-slerp", "w-lerp")
DEFAULT_FRAMES = 32  # interpolation frames when a recipe gives none
TOP_K = 5  # latent directions offered as sliders and previewed as strips
STRIP_FRAMES = 7  # frames of a direction's preview strip, -3 sigma..+3 sigma
MAX_STRIP_DIRECTIONS, STRIP_FRAMES_RANGE = 10, (2, 15)


@dataclass
class LoadedModel:
    """A generator ready to sample, with what the UI shows about it."""

    entry: ModelEntry
    G: nn.Module
    config: dict[str, Any]
    sha256: str
    _directions: dict[str, directions.Directions] = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return self.G.num_classes

    @property
    def is_style(self) -> bool:
        return sampling.is_style(self.G)

    def sefa(self, group: str) -> directions.Directions:
        """The model's latent directions for a layer group, computed on first use and then cached."""
        if group not in self._directions:
            self._directions[group] = directions.compute(self.G, group)
        return self._directions[group]

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
    """Images with captions, the files written (PNG/GIF/MP4), the recipe that remakes them and a note."""

    images: list[Image.Image]
    captions: list[str]
    seeds: list[int] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    recipe: Recipe | None = None
    note: str = ""
    archive: Path | None = None  # ZIP of all PNGs
    upscaled: Path | None = None  # ZIP of the PNGs enlarged to media.SHOWN_SIDE (the recipe remakes the native ones)
    columns: int = 0  # images per row when shown as a grid; 0 = near-square


class Studio:
    """Loads each model once, shares it across requests, validates every argument."""

    def __init__(self, checkpoint_dir: str | Path | None = None, device: str = "cpu",
                 outputs: OutputFolder | None = None) -> None:
        self.checkpoint_dir = Path(checkpoint_dir or CHECKPOINT_DIR)
        self.device = device
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self.outputs = outputs or OutputFolder()

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

    def classes(self, name: object) -> list[str]:
        """The class labels model `name` takes ('0'..'9' for MNIST digits); none for an unconditional model."""
        return [str(c) for c in range(self.model(name).num_classes)]

    @staticmethod
    def mix_layers() -> tuple[str, ...]:
        """The layer choices of style mixing: a layer group, all, or custom w indices."""
        return validation.LAYER_PRESETS

    def layer_groups(self, name: object = None) -> list[str]:
        """The style layers model `name`'s latent directions can act on: all, and each group it has layers in
        (every group when no model is named)."""
        if name is None:
            return list(directions.GROUPS)
        m = self.model(name)
        if not m.is_style:
            return ["all"]
        groups = sampling.layer_groups(m.G)
        return [g for g in directions.GROUPS if g == "all" or groups[g]]

    # ----- the tabs -----
    def sample(self, name: object, n: object, psi: object, label: object = None,
               seed: object = None) -> Result:
        """n random seeds (or seed, seed+1, ... when a base seed is given); captions are the seeds."""
        m, n, psi = self.model(name), validation.count(n), validation.psi(psi)
        base = random.SystemRandom().randrange(sampling.MAX_SEED + 1) if seed in (None, "") else validation.seed(seed)
        seeds = [(base + i) % (sampling.MAX_SEED + 1) for i in range(n)]
        return self._images(m, "sample", seeds, psi, validation.label(label, m.num_classes))

    def seeds(self, name: object, spec: object, psi: object, label: object = None) -> Result:
        """Images for a seed spec like '1, 5, 10-20'; each also saved as a PNG, and all of them as a ZIP."""
        m = self.model(name)
        seeds, psi = validation.seeds(spec), validation.psi(psi)
        result = self._images(m, "seeds", seeds, psi, validation.label(label, m.num_classes))
        folder = self._folder()
        result.files = [media.save_png(img, folder / f"{m.entry.name}-seed{s}.png")
                        for img, s in zip(result.images, seeds)]
        result.archive = media.save_zip(result.files, folder / f"{m.entry.name}-seeds.zip")
        big = folder / "upscaled"
        big.mkdir()
        result.upscaled = media.save_zip([media.save_png(media.upscaled(img), big / f.name)
                                          for img, f in zip(result.images, result.files)],
                                         folder / f"{m.entry.name}-seeds-{media.SHOWN_SIDE}px.zip")
        return result

    def all_classes(self, name: object, spec: object, psi: object) -> Result:
        """Every class side by side (MNIST: digits 0-9): one column per class, one row per seed, as one PNG."""
        m = self.model(name)
        nc = m.num_classes
        if not nc:
            raise InvalidInput(f"all classes: model {m.entry.name!r} is not class-conditional")
        seeds = validation.seeds(spec, limit=max(1, validation.MAX_IMAGES // nc))
        psi = validation.psi(psi)
        imgs = sampling.generate(m.G, [s for s in seeds for _ in range(nc)], psi, list(range(nc)) * len(seeds))
        recipe = self._recipe(m, "all_classes", seeds=seed_spec(seeds), psi=psi)
        grid = attach(media.grid(imgs, nc), recipe)
        path = media.save_png(grid, self._folder() / f"{m.entry.name}-all-classes.png")
        return Result([grid], [f"columns: class 0..{nc - 1} · rows: seeds {recipe.seeds}"], seeds, [path], recipe)

    def interpolate(self, name: object, spec: object, frames: object = DEFAULT_FRAMES, mode: object = "z-slerp",
                    psi: object = 1.0, label: object = None, loop: bool = False, w: object = "",
                    fps: int = 16) -> Result:
        """Frames from seed to seed (z-slerp or w-lerp), written as a GIF and an MP4; a projected w (`w`) starts
        the walk (w-lerp)."""
        m = self.model(name)
        start = self._projected_w(m, w)
        lo, hi = validation.INTERP_SEEDS_RANGE
        seeds = validation.seeds(spec, "interpolation seeds", limit=hi - (start is not None),
                                 minimum=lo - (start is not None))
        frames, psi = validation.frames(frames), validation.psi(psi)
        mode = validation.choice(mode, "mode", INTERPOLATION_MODES)
        if mode == "w-lerp" and not m.is_style:
            raise InvalidInput("mode: w-lerp needs a style-based model; use z-slerp")
        if start is not None and mode != "w-lerp":
            raise InvalidInput("mode: a walk from your image moves through w; use w-lerp")
        c, loop = validation.label(label, m.num_classes), validation.flag(loop, "loop")
        imgs = sampling.interpolate(m.G, seeds, frames, mode, psi, c, loop, start)
        recipe = self._recipe(m, "interpolate", seeds=seed_spec(seeds), psi=psi, label=c, frames=frames, mode=mode,
                              loop=loop, w=w if start is not None else "")
        folder = self._folder()
        stem = f"{m.entry.name}-{'photo-' if start is not None else ''}{'-'.join(map(str, seeds))}-{mode}"
        with ThreadPoolExecutor(1) as pool:  # ffmpeg encodes the MP4 in its own process while the GIF is made
            mp4 = pool.submit(media.save_mp4, imgs, folder / f"{stem}.mp4", fps)
            files = [media.save_gif(imgs, folder / f"{stem}.gif", fps), mp4.result()]
        frames_pil = [attach(img, recipe) for img in media.to_pil(imgs)]
        return Result(frames_pil, [f"frame {i}" for i in range(frames)], seeds, files, recipe)

    def mix(self, name: object, row_spec: object, col_spec: object, layers: object = "coarse",
            custom: object = "", psi: object = 1.0, label: object = None, w: object = "") -> Result:
        """StyleGAN style-mixing figure (one image); the note names the w indices that took the column's styles.
        A projected w (`w`) is the first row and the first column, labelled "photo"."""
        m = self._style_model(name, "style mixing")
        photo = self._projected_w(m, w)
        side = validation.MAX_GRID_SIDE - (photo is not None)
        rows = validation.seeds(row_spec, "row seeds", limit=side)
        cols = validation.seeds(col_spec, "column seeds", limit=side)
        spec = validation.mix_spec(layers, custom)
        idx = validation.layers(m.G, spec)
        psi, c = validation.psi(psi), validation.label(label, m.num_classes)
        mixed = sampling.style_mix(m.G, rows, cols, idx, psi, c, photo)
        names = ["photo"] if photo is not None else []
        figure = media.mixing_figure(mixed.rows, mixed.cols, mixed.grid, names + rows, names + cols)
        recipe = self._recipe(m, "mix", rows=seed_spec(rows), cols=seed_spec(cols), psi=psi, label=c,
                              layers=str(spec).strip(), w=w if photo is not None else "")
        note = f"Column styles on w indices {idx or 'none'} (of {m.G.num_ws})."
        return Result([attach(figure, recipe)], [note], rows + cols, recipe=recipe, note=note)

    # ----- latent directions -----
    def directions(self, name: object, seed: object, psi: object = 1.0, label: object = None,
                   edits: object = (), layers: object = "all", w: object = "") -> Result:
        """The seed's image (or a projected w's, `w`) moved along the model's top latent directions by `edits`
        (in sigmas), saved as PNG."""
        m, seed, psi = self.model(name), validation.seed(seed), validation.psi(psi)
        c, (group, d) = validation.label(label, m.num_classes), self._directions(m, layers)
        base = self._projected_w(m, w)
        strengths = validation.edits(edits, len(d.vectors))
        img = media.to_pil(directions.render(m.G, d, seed, psi, c, [strengths], base))[0]
        recipe = self._recipe(m, "directions", seeds=str(seed), psi=psi, label=c, layers=group, edits=strengths,
                              w=w if base is not None else "")
        what = "your image" if base is not None else f"seed {seed}"
        path = media.save_png(attach(img, recipe), self._folder() / f"{m.entry.name}-{what.replace(' ', '-')}"
                                                                    "-directions.png")
        edited = ", ".join(f"d{i + 1} {a:+g}σ" for i, a in enumerate(strengths) if a)
        return Result([img], [f"{what} · {edited or 'no edit'}"], [seed], [path], recipe)

    def direction_strip(self, name: object, seed: object, psi: object = 1.0, label: object = None,
                        k: object = TOP_K, frames: object = STRIP_FRAMES, layers: object = "all",
                        w: object = "") -> Result:
        """For each of the top k directions, `frames` images of the seed (or a projected w's) from -3 sigma to
        +3 sigma along it."""
        m, seed, psi = self.model(name), validation.seed(seed), validation.psi(psi)
        c, (group, d) = validation.label(label, m.num_classes), self._directions(m, layers)
        base = self._projected_w(m, w)
        k = validation.integer(k, "directions", 1, min(MAX_STRIP_DIRECTIONS, len(d.vectors)))
        frames = validation.integer(frames, "frames", *STRIP_FRAMES_RANGE)
        rows = directions.strip_strengths(k, frames)
        recipe = self._recipe(m, "direction_strip", seeds=str(seed), psi=psi, label=c, layers=group, k=k,
                              frames=frames, w=w if base is not None else "")
        imgs = [attach(img, recipe) for img in media.to_pil(directions.render(m.G, d, seed, psi, c, rows, base))]
        captions = [f"d{len(r)} {r[-1]:+g}σ" for r in rows]
        return Result(imgs, captions, [seed], recipe=recipe, columns=frames)

    # ----- your own image -----
    def project(self, name: object, image: object, centre_crop: object = False,
                steps: object = projection.DEFAULT_STEPS, label: object = None,
                progress: Callable[[int, int, float], None] | None = None) -> Result:
        """Fit an uploaded image: original | framed as the training images | reconstruction, with its PSNR. The
        recipe carries the projected w, which mix, interpolate and directions take as `w`."""
        m = self._style_model(name, "projection")
        photo = uploads.open_upload(image)
        framing = alignment.framing_of(str(m.config.get("meta", {}).get("dataset", "")))
        prepared, target = projection.framed_target(photo, framing, m.G, validation.flag(centre_crop, "centre crop"))
        steps = validation.integer(steps, "steps", 0, projection.MAX_STEPS)
        c = validation.label(label, m.num_classes)
        start = time.perf_counter()
        fit = projection.project(m.G, target, steps, c, callback=progress)
        seconds = time.perf_counter() - start
        recipe = self._recipe(m, "projection", w=projection.encode_w(fit.w))
        recon = attach(media.to_pil(fit.image[None])[0], recipe)
        path = media.save_png(recon, self._folder() / f"{m.entry.name}-your-image.png")
        note = f"{prepared.note}; reconstruction {fit.psnr:.1f} dB PSNR after {steps} steps ({seconds:.1f} s)"
        original = ImageOps.contain(photo, (media.SHOWN_SIDE, media.SHOWN_SIDE))
        return Result([original, prepared.image, recon], ["your image", prepared.note, f"reconstruction · "
                      f"{fit.psnr:.1f} dB"], files=[path], recipe=recipe, note=note, columns=3)

    def projected(self, name: object, w: object) -> Result:
        """The image a projected w stands for (a projection's recipe remade without its photo)."""
        m = self._style_model(name, "projection")
        ws = self._projected_w(m, w)
        if ws is None:
            raise InvalidInput("w: give a projected latent (the 'w' of a projection's recipe)")
        recipe = self._recipe(m, "projection", w=w)
        img = attach(media.to_pil(projection.render(m.G, ws)[None])[0], recipe)
        path = media.save_png(img, self._folder() / f"{m.entry.name}-your-image.png")
        return Result([img], ["your image, as the model draws it"], files=[path], recipe=recipe)

    # ----- recipes -----
    def reproduce(self, recipe: object) -> Result:
        """Remake a result from its recipe (JSON text or Recipe); the note warns when the checkpoint differs."""
        r = recipe if isinstance(recipe, Recipe) else Recipe.from_json(recipe)
        result = self.run(r)
        sha = self.model(r.model).sha256
        if r.sha256 and r.sha256 != sha:
            warning = (f"⚠️ Checkpoint mismatch: this recipe was made with {r.model!r} sha256 {r.sha256[:12]}…, "
                       f"but the loaded checkpoint is sha256 {sha[:12]}…, so the images may differ from the "
                       "original.")
            result.note = f"{warning}\n\n{result.note}".strip()
        return result

    def run(self, r: Recipe) -> Result:
        """The result a recipe describes, made by the method behind the app's tab for its kind (KIND_TABLE)."""
        kind = KIND_TABLE[r.kind]
        return getattr(self, kind.method)(r.model, **kind.arguments(r))

    # ----- helpers -----
    def _recipe(self, m: LoadedModel, kind: str, **fields: Any) -> Recipe:
        return Recipe(kind, m.entry.name, m.sha256, **fields)

    def _folder(self) -> Path:
        """A fresh folder for one request's files (old ones pruned: gan_core.outputs)."""
        return self.outputs.new()

    def _style_model(self, name: object, what: str) -> LoadedModel:
        """Model `name`, refused with a message naming `what` when it has no per-layer styles."""
        m = self.model(name)
        if not m.is_style:
            raise InvalidInput(f"{what}: model {name!r} has no per-layer styles (arch {m.config['model']['arch']})")
        return m

    @staticmethod
    def _projected_w(m: LoadedModel, w: object) -> torch.Tensor | None:
        """A projected w [num_ws, w_dim] from its text, None when none is given; a clear message when it is not one
        of this model's."""
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

    def _directions(self, m: LoadedModel, layers: object) -> tuple[str, directions.Directions]:
        group = validation.choice(layers, "layers", directions.GROUPS)
        groups = self.layer_groups(m.entry.name)
        if group not in groups:
            missing = f"no {group} style layers" if m.is_style else "no per-layer styles"
            raise InvalidInput(f"layers: model {m.entry.name!r} has {missing}; use {' or '.join(map(repr, groups))}")
        return group, m.sefa(group)

    def _images(self, m: LoadedModel, kind: str, seeds: list[int], psi: float, label: int | None) -> Result:
        """Images of seeds, each carrying its own one-seed recipe; the result carries the request's."""
        imgs = media.to_pil(sampling.generate(m.G, seeds, psi, label))
        for img, s in zip(imgs, seeds):
            attach(img, self._recipe(m, "seeds", seeds=str(s), psi=psi, label=label))
        captions = [f"seed {s}" + (f" · class {label}" if label is not None else "") for s in seeds]
        return Result(imgs, captions, seeds, recipe=self._recipe(m, kind, seeds=seed_spec(seeds), psi=psi, label=label))

