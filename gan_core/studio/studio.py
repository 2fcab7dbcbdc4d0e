"""One entry point for the app and the CLI: a typed request (gan_core.studio.requests) in; images, grids,
PNG/ZIP/GIF/MP4 files and the recipe that remakes them out."""
from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from gan_core.errors import InvalidInput
from gan_core.latent import directions, named, projection, sampling
from gan_core.photos import alignment
from gan_core.settings import settings
from gan_core.storage.checkpoint import CheckpointError, load_generator, resolve
from gan_core.storage.registry import entries, unknown_model_message
from gan_core.studio import media, validation
from gan_core.studio import requests as rq
from gan_core.studio.loaded import LoadedModel
from gan_core.studio.outputs import OutputFolder
from gan_core.studio.recipe import Recipe, attach


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
        self.checkpoint_dir = Path(checkpoint_dir or settings().checkpoint_dir)
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
                try:
                    found = named.load(folder, G.w_dim, G.num_ws) if sampling.is_style(G) else None
                except ValueError as exc:
                    raise CheckpointError(str(exc)) from None
                self._models[name] = LoadedModel(entry, G, config, sha, found)
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
        return list(directions.GROUPS) if name is None else rq.layer_groups(self.model(name))

    # ----- the tabs: each parses its request, then runs it -----
    def sample(self, name: object, n: object, psi: object, label: object = None, seed: object = None) -> Result:
        """n random seeds (or seed, seed+1, ... when a base seed is given); captions are the seeds."""
        return self.run(rq.SampleRequest.parse(self.model(name), n, psi, label, seed))

    def seeds(self, name: object, spec: object, psi: object, label: object = None) -> Result:
        """Images for a seed spec like '1, 5, 10-20'; each also saved as a PNG, and all of them as a ZIP."""
        return self.run(rq.SeedsRequest.parse(self.model(name), spec, psi, label))

    def all_classes(self, name: object, spec: object, psi: object) -> Result:
        """Every class side by side (MNIST: digits 0-9): one column per class, one row per seed, as one PNG."""
        return self.run(rq.AllClassesRequest.parse(self.model(name), spec, psi))

    def interpolate(self, name: object, spec: object, frames: object = rq.DEFAULT_FRAMES, mode: object = "z-slerp",
                    psi: object = 1.0, label: object = None, loop: object = False, w: object = "") -> Result:
        """Frames from seed to seed (z-slerp or w-lerp), written as a GIF and an MP4; a projected w (`w`) starts
        the walk (w-lerp)."""
        return self.run(rq.InterpolateRequest.parse(self.model(name), spec, frames, mode, psi, label, loop, w))

    def mix(self, name: object, row_spec: object, col_spec: object, layers: object = "coarse",
            custom: object = "", psi: object = 1.0, label: object = None, w: object = "") -> Result:
        """StyleGAN style-mixing figure (one image); the note names the w indices that took the column's styles.
        A projected w (`w`) is the first row and the first column, labelled "photo"."""
        m = self.model(name)
        spec = validation.mix_spec(layers, custom)
        return self.run(rq.MixRequest.parse(m, row_spec, col_spec, spec, psi, label, w))

    def directions(self, name: object, seed: object, psi: object = 1.0, label: object = None,
                   edits: object = (), layers: object = "all", w: object = "") -> Result:
        """The seed's image (or a projected w's, `w`) moved along the model's top latent directions by `edits`
        (in sigmas), saved as PNG."""
        return self.run(rq.DirectionsRequest.parse(self.model(name), seed, psi, label, edits, layers, w))

    def direction_strip(self, name: object, seed: object, psi: object = 1.0, label: object = None,
                        k: object = rq.TOP_K, frames: object = rq.STRIP_FRAMES, layers: object = "all",
                        w: object = "") -> Result:
        """For each of the top k directions, `frames` images of the seed (or a projected w's) from -3 sigma to
        +3 sigma along it."""
        return self.run(rq.StripRequest.parse(self.model(name), seed, psi, label, k, frames, layers, w))

    def edit(self, name: object, seed: object, psi: object = 1.0, label: object = None, edits: object = "",
             w: object = "") -> Result:
        """The seed's image (or a projected w's, `w`) with named edits like 'Smiling=2, Young=-1.5', saved as PNG;
        the note names the edits."""
        return self.run(rq.EditRequest.parse(self.model(name), seed, psi, label, edits, w))

    def edit_names(self, name: object) -> dict[str, str]:
        """Model `name`'s named edits: name -> slider label (none for a model without named directions)."""
        found = self.model(name).named
        return {d.name: d.label for d in found.directions} if found else {}

    def project(self, name: object, image: object, centre_crop: object = False,
                steps: object = projection.DEFAULT_STEPS, label: object = None,
                progress: rq.Progress | None = None) -> Result:
        """Fit an uploaded image: original | framed as the training images | reconstruction, with its PSNR. The
        recipe carries the projected w, which mix, interpolate and directions take as `w`."""
        return self.run(rq.ProjectRequest.parse(self.model(name), image, centre_crop, steps, label, progress))

    def projected(self, name: object, w: object) -> Result:
        """The image a projected w stands for (a projection's recipe remade without its photo)."""
        return self.run(rq.ProjectedRequest.parse(self.model(name), w))

    # ----- recipes -----
    def request(self, recipe: object) -> rq.Request:
        """The request a recipe (JSON text or Recipe) describes, checked as a tab's input is."""
        r = recipe if isinstance(recipe, Recipe) else Recipe.from_json(recipe)
        return rq.RECIPE_REQUESTS[r.kind].from_recipe(self.model(r.model), r)

    def reproduce(self, recipe: object) -> Result:
        """Remake a result from its recipe (JSON text or Recipe); the note warns when the checkpoint differs."""
        r = recipe if isinstance(recipe, Recipe) else Recipe.from_json(recipe)
        result = self.run(self.request(r))
        sha = self.model(r.model).sha256
        if r.sha256 and r.sha256 != sha:
            warning = (f"⚠️ Checkpoint mismatch: this recipe was made with {r.model!r} sha256 {r.sha256[:12]}…, "
                       f"but the loaded checkpoint is sha256 {sha[:12]}…, so the images may differ from the "
                       "original.")
            result.note = f"{warning}\n\n{result.note}".strip()
        return result

    def run(self, request: rq.Request) -> Result:
        """The result of a parsed request."""
        runners: dict[type[rq.Request], Callable[[Any], Result]] = {
            rq.SampleRequest: self._sample, rq.SeedsRequest: self._seeds, rq.AllClassesRequest: self._all_classes,
            rq.InterpolateRequest: self._interpolate, rq.MixRequest: self._mix, rq.DirectionsRequest: self._directions,
            rq.StripRequest: self._strip, rq.EditRequest: self._edit, rq.ProjectRequest: self._project,
            rq.ProjectedRequest: self._projected}
        return runners[type(request)](request)

    # ----- how each request is made -----
    def _sample(self, q: rq.SampleRequest) -> Result:
        return self._images(q)

    def _seeds(self, q: rq.SeedsRequest) -> Result:
        result, name = self._images(q), q.model.entry.name
        folder = self._folder()
        result.files = [media.save_png(img, folder / f"{name}-seed{s}.png") for img, s in zip(result.images, q.seeds)]
        result.archive = media.save_zip(result.files, folder / f"{name}-seeds.zip")
        big = folder / "upscaled"
        big.mkdir()
        result.upscaled = media.save_zip([media.save_png(media.upscaled(img), big / f.name)
                                          for img, f in zip(result.images, result.files)],
                                         folder / f"{name}-seeds-{media.SHOWN_SIDE}px.zip")
        return result

    def _all_classes(self, q: rq.AllClassesRequest) -> Result:
        m, nc, recipe = q.model, q.model.num_classes, q.to_recipe()
        imgs = sampling.generate(m.G, [s for s in q.seeds for _ in range(nc)], q.psi, list(range(nc)) * len(q.seeds))
        grid = attach(media.grid(imgs, nc), recipe)
        path = media.save_png(grid, self._folder() / f"{m.entry.name}-all-classes.png")
        return Result([grid], [f"columns: class 0..{nc - 1} · rows: seeds {recipe.seeds}"], q.seeds, [path], recipe)

    def _interpolate(self, q: rq.InterpolateRequest, fps: int = 16) -> Result:
        imgs = sampling.interpolate(q.model.G, q.seeds, q.frames, q.mode, q.psi, q.label, q.loop, q.start)
        recipe, folder = q.to_recipe(), self._folder()
        stem = (f"{q.model.entry.name}-{'photo-' if q.start is not None else ''}{'-'.join(map(str, q.seeds))}"
                f"-{q.mode}")
        with ThreadPoolExecutor(1) as pool:  # ffmpeg encodes the MP4 in its own process while the GIF is made
            mp4 = pool.submit(media.save_mp4, imgs, folder / f"{stem}.mp4", fps)
            files = [media.save_gif(imgs, folder / f"{stem}.gif", fps), mp4.result()]
        frames_pil = [attach(img, recipe) for img in media.to_pil(imgs)]
        return Result(frames_pil, [f"frame {i}" for i in range(q.frames)], q.seeds, files, recipe)

    def _mix(self, q: rq.MixRequest) -> Result:
        mixed = sampling.style_mix(q.model.G, q.rows, q.cols, q.indices, q.psi, q.label, q.photo)
        names = ["photo"] if q.photo is not None else []
        figure = media.mixing_figure(mixed.rows, mixed.cols, mixed.grid, names + q.rows, names + q.cols)
        note = f"Column styles on w indices {q.indices or 'none'} (of {q.model.G.num_ws})."
        recipe = q.to_recipe()
        return Result([attach(figure, recipe)], [note], q.rows + q.cols, recipe=recipe, note=note)

    def _directions(self, q: rq.DirectionsRequest) -> Result:
        m, recipe = q.model, q.to_recipe()
        img = media.to_pil(directions.render(m.G, q.found, q.seed, q.psi, q.label, [q.edits], q.base))[0]
        what = "your image" if q.base is not None else f"seed {q.seed}"
        path = media.save_png(attach(img, recipe), self._folder() / f"{m.entry.name}-{what.replace(' ', '-')}"
                                                                    "-directions.png")
        edited = ", ".join(f"d{i + 1} {a:+g}σ" for i, a in enumerate(q.edits) if a)
        return Result([img], [f"{what} · {edited or 'no edit'}"], [q.seed], [path], recipe)

    def _strip(self, q: rq.StripRequest) -> Result:
        rows, recipe = directions.strip_strengths(q.k, q.frames), q.to_recipe()
        imgs = [attach(img, recipe) for img in
                media.to_pil(directions.render(q.model.G, q.found, q.seed, q.psi, q.label, rows, q.base))]
        captions = [f"d{len(r)} {r[-1]:+g}σ" for r in rows]
        return Result(imgs, captions, [q.seed], recipe=recipe, columns=q.frames)

    def _edit(self, q: rq.EditRequest) -> Result:
        m, recipe = q.model, q.to_recipe()
        img = attach(media.to_pil(named.render(m.G, m.named, q.seed, q.psi, q.label, [q.strengths], q.base))[0],
                     recipe)
        what = "your image" if q.base is not None else f"seed {q.seed}"
        path = media.save_png(img, self._folder() / f"{m.entry.name}-{what.replace(' ', '-')}-edit.png")
        labels = {d.name: d.label for d in m.named.directions}
        edited = ", ".join(f"{labels[n]} {'+' if x > 0 else ''}{validation.strength_text(x)}"
                           for n, x in q.strengths.items() if x)
        note = f"{what} · {edited or 'no edit'}"
        return Result([img], [note], [q.seed], [path], recipe, note=note)

    def _project(self, q: rq.ProjectRequest) -> Result:
        m = q.model
        framing = alignment.framing_of(str(m.config.get("meta", {}).get("dataset", "")))
        prepared, target = projection.framed_target(q.photo, framing, m.G, q.centre_crop)
        start = time.perf_counter()
        fit = projection.project(m.G, target, q.steps, q.label, callback=q.progress)
        seconds = time.perf_counter() - start
        recipe = rq.ProjectedRequest(m, projection.encode_w(fit.w)).to_recipe()
        recon = attach(media.to_pil(fit.image[None])[0], recipe)
        path = media.save_png(recon, self._folder() / f"{m.entry.name}-your-image.png")
        note = f"{prepared.note}; reconstruction {fit.psnr:.1f} dB PSNR after {q.steps} steps ({seconds:.1f} s)"
        original = ImageOps.contain(q.photo, (media.SHOWN_SIDE, media.SHOWN_SIDE))
        return Result([original, prepared.image, recon], ["your image", prepared.note, f"reconstruction · "
                      f"{fit.psnr:.1f} dB"], files=[path], recipe=recipe, note=note, columns=3)

    def _projected(self, q: rq.ProjectedRequest) -> Result:
        recipe = q.to_recipe()
        img = attach(media.to_pil(projection.render(q.model.G, q.ws)[None])[0], recipe)
        path = media.save_png(img, self._folder() / f"{q.model.entry.name}-your-image.png")
        return Result([img], ["your image, as the model draws it"], files=[path], recipe=recipe)

    # ----- helpers -----
    def _folder(self) -> Path:
        """A fresh folder for one request's files (old ones pruned: gan_core.studio.outputs)."""
        return self.outputs.new()

    def _images(self, q: rq.SeedsRequest) -> Result:
        """Images of seeds, each carrying its own one-seed recipe; the result carries the request's."""
        m = q.model
        imgs = media.to_pil(sampling.generate(m.G, q.seeds, q.psi, q.label))
        for img, s in zip(imgs, q.seeds):
            attach(img, rq.SeedsRequest(m, [s], q.psi, q.label).to_recipe())
        captions = [f"seed {s}" + (f" · class {q.label}" if q.label is not None else "") for s in q.seeds]
        return Result(imgs, captions, q.seeds, recipe=q.to_recipe())
