"""Finding a model's named directions and measuring them.

Generated samples are scored (CelebA: the attribute reader; MNIST: thickness and slant; anime: hair colour). A
property's direction in W is, for a differentiable reader, the mean gradient of its logit with respect to w over the
samples it is least sure of (the way that moves the reader most per step, taken where the property begins to show:
for a rare one such as glasses, far-off samples' gradients say little); for the hand-made measures, the Fisher
discriminant between the top and the bottom 30% of samples (InterFaceGAN's boundary normal, Shen et al. CVPR 2020).
"Conditional" directions have the part along correlated properties removed, then whatever change of those the
scorer still measures (smiling without turning male). On samples no fit saw, each direction then gets the w layers
that move its own property most for the least change of the others, and the scale at which strength 5 moves its
property clearly (or the cap, so that faces stay whole).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from gan_core.evaluation import attributes, measures
from gan_core.latent import sampling
from gan_core.latent.named import STRENGTH_RANGE, NamedDirection, NamedDirections

FIT_SEEDS = range(0, 8000)
CHECK_SEEDS = range(50_000, 50_128)  # choose layers and scales on these
REPORT_SEEDS = range(100_000, 100_500)  # measure on these
TOP_SHARE = 0.3
SIGMAS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)  # candidate reach of strength 5, in sigmas of w along the direction
LAYER_SIGMA = 2.0  # the edit (in sigmas) at which layer sets are compared
GRADIENT_SAMPLES = 768  # per property, the samples nearest its boundary, whose gradients are averaged


@dataclass(frozen=True)
class Property:
    """A property an edit can move: its name (as edits spell it), its slider label, and the properties its
    direction is made independent of."""

    name: str
    label: str
    condition: tuple[str, ...] = ()


@dataclass(frozen=True)
class PropertySet:
    """A model's editable properties, how to score images for them, and whether the scores are probabilities
    (targets in probability) or measures (targets in standard deviations of the measure)."""

    properties: tuple[Property, ...]
    score: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    probabilities: bool
    target: float  # the change between strength -5 and +5 that counts as clear
    logits: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None  # differentiable: directions by gradient


def face_attributes(images: torch.Tensor) -> dict[str, torch.Tensor]:
    probs = attributes.read(images)
    return {name: probs[:, i] for i, name in enumerate(attributes.load_reader()[1])}


def face_logits(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The reader's logits with their graph (for gradients with respect to the latent)."""
    net, names = attributes.load_reader()
    out = net(images)
    return {name: out[:, i] for i, name in enumerate(names)}


def digit_strokes(images: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"Thickness": measures.thickness(images), "Slant": measures.slant(images)}


NOT_MALE = ("Male",)
PROPERTY_SETS = {
    "celeba": PropertySet((Property("Smiling", "Smile", NOT_MALE), Property("Young", "Young", NOT_MALE),
                           Property("Male", "Male"), Property("Eyeglasses", "Glasses", ("Male", "Young")),
                           Property("Blond_Hair", "Blond hair", NOT_MALE),
                           Property("Black_Hair", "Black hair", ("Male", "Blond_Hair")),
                           Property("Bangs", "Bangs", NOT_MALE), Property("Heavy_Makeup", "Makeup", NOT_MALE)),
                          face_attributes, probabilities=True, target=0.6, logits=face_logits),
    "mnist": PropertySet((Property("Thickness", "Thickness"), Property("Slant", "Slant", ("Thickness",))),
                         digit_strokes, probabilities=False, target=2.0),
    "anime": PropertySet((Property("Light_Hair", "Light hair"), Property("Red_Hair", "Red hair", ("Light_Hair",)),
                          Property("Blue_Hair", "Blue hair", ("Light_Hair",))),
                         measures.hair_colour, probabilities=False, target=2.0),
}


def fisher_normal(w: torch.Tensor, score: torch.Tensor, share: float = TOP_SHARE, ridge: float = 1e-2) -> torch.Tensor:
    """Unit normal of the boundary between the top and the bottom `share` of samples by score (ridge-regularised
    Fisher discriminant), pointing towards high scores."""
    order = score.argsort()
    k = max(2, int(len(score) * share))
    lo, hi = w[order[:k]].double(), w[order[-k:]].double()
    pooled = (torch.cov(lo.T) + torch.cov(hi.T)) / 2
    pooled += ridge * pooled.diagonal().mean() * torch.eye(w.shape[1], dtype=pooled.dtype)
    n = torch.linalg.solve(pooled, hi.mean(0) - lo.mean(0))
    return (n / n.norm()).float()


def mean_gradient(G: torch.nn.Module, w: torch.Tensor, logit: Callable[[torch.Tensor], torch.Tensor],
                  batch: int = 32) -> torch.Tensor:
    """The unit mean over samples of the unit gradient of `logit` (images -> one logit each) with respect to w (on
    every layer)."""
    total = torch.zeros(w.shape[1])
    for i in range(0, len(w), batch):
        x = w[i:i + batch].float().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(logit(G.synthesis(x[:, None].expand(-1, G.num_ws, -1), noise_mode="const"))
                                      .sum(), x)
        total += torch.nn.functional.normalize(grad, dim=1).sum(0)
    return total / total.norm()


def undecided(probability: torch.Tensor, k: int = GRADIENT_SAMPLES) -> torch.Tensor:
    """Indices of the k samples whose probability is nearest 0.5 (the reader's boundary)."""
    return (probability - 0.5).abs().argsort()[:k]


def conditional(n: torch.Tensor, others: list[torch.Tensor]) -> torch.Tensor:
    """n with its components along `others` removed, renormalised (InterFaceGAN's conditional manipulation)."""
    if not others:
        return n
    q, _ = torch.linalg.qr(torch.stack(others).double().T)
    m = n.double() - q @ (q.T @ n.double())
    return (m / m.norm()).float()


class Scorer:
    """Scores of W+ latents' images on a property set, in units where the targets apply."""

    def __init__(self, G: torch.nn.Module, props: PropertySet, names: list[str], spread: dict[str, float]) -> None:
        self.G, self.props, self.names, self.spread = G, props, names, spread

    def __call__(self, ws: torch.Tensor) -> torch.Tensor:
        scores = self.props.score(sampling.synthesize(self.G, ws))
        return torch.stack([scores[n].float() / self.spread[n] for n in self.names], dim=1)


def _start(G: torch.nn.Module, seeds: range) -> torch.Tensor:
    classes = [s % G.num_classes for s in seeds] if G.num_classes else None
    return sampling.ws_from_seeds(G, list(seeds), 1.0, classes).cpu()


def _change(score: Scorer, ws: torch.Tensor, d: NamedDirection, strength: float) -> torch.Tensor:
    """Mean score change [names] between strength -strength and +strength of d."""
    plus = NamedDirections((d,)).shift(ws, {d.name: strength})
    minus = NamedDirections((d,)).shift(ws, {d.name: -strength})
    return (score(plus) - score(minus)).mean(0)


def decoupled(score: Scorer, ws: torch.Tensor, vector: torch.Tensor, conditions: dict[int, torch.Tensor],
              distance: float = 3.0) -> torch.Tensor:
    """vector minus the multiple of each condition's direction that cancels its measured change: removing the part
    along a correlated direction in W leaves the change that the (non-linear) scorer still sees."""
    ones = tuple(range(ws.shape[1]))
    for j, n in conditions.items():
        along = _change(score, ws, NamedDirection("v", "", vector, ones, distance), 1.0)[j]
        per_unit = _change(score, ws, NamedDirection("c", "", n, ones, distance), 1.0)[j]
        if abs(float(per_unit)) > 1e-3:
            vector = vector - float(along / per_unit) * n
            vector = vector / vector.norm()
    return vector


def fit_samples(G: torch.nn.Module, props: PropertySet, seeds: range
                ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """The W+ latents of `seeds`, their w and their scores (float64), w and scores centred per class for a
    conditional model: a sample is compared with others of its own class, as a 1 is thin and a 0 round by nature."""
    ws = _start(G, seeds)
    raw = props.score(sampling.synthesize(G, ws))
    w = ws[:, 0].double()
    scores = {p.name: raw[p.name].double() for p in props.properties}
    if G.num_classes:
        classes = torch.tensor([s % G.num_classes for s in seeds])
        for c in range(G.num_classes):
            w[classes == c] -= w[classes == c].mean(0)
            for values in scores.values():
                values[classes == c] -= values[classes == c].mean()
    return ws, w, scores


def spreads(props: PropertySet, scores: dict[str, torch.Tensor]) -> dict[str, float]:
    """The unit of each score's change: 1 for probabilities, else its standard deviation over the samples."""
    return {n: 1.0 if props.probabilities else float(v.std()) for n, v in scores.items()}


def measured_spreads(G: torch.nn.Module, dataset: str) -> dict[str, float]:
    """spreads() over the first 1,000 fitting seeds: measure once, pass to every report() of this generator."""
    props = PROPERTY_SETS[dataset]
    return spreads(props, fit_samples(G, props, FIT_SEEDS[:1000])[2])


def layer_candidates(G: torch.nn.Module) -> list[tuple[int, ...]]:
    """All w layers, each layer group, and each two neighbouring groups."""
    groups = [tuple(v) for v in sampling.layer_groups(G).values() if v]
    sets = [tuple(range(G.num_ws)), *groups, *(a + b for a, b in zip(groups, groups[1:]))]
    return list(dict.fromkeys(sets))


def find(G: torch.nn.Module, dataset: str, log: Callable[[str], None] = print) -> NamedDirections:
    """The named directions of a style generator trained on `dataset` (a key of PROPERTY_SETS)."""
    props = PROPERTY_SETS[dataset]
    names = [p.name for p in props.properties]
    ws, w, scores = fit_samples(G, props, FIT_SEEDS)
    spread = spreads(props, scores)
    if props.logits is not None:
        normals = {n: mean_gradient(G, ws[undecided(scores[n]), 0], lambda x, n=n: props.logits(x)[n])
                   for n in names}
    else:
        normals = {n: fisher_normal(w, scores[n]) for n in names}
    score = Scorer(G, props, names, spread)
    check = _start(G, CHECK_SEEDS)
    found = []
    for i, p in enumerate(props.properties):
        vector = conditional(normals[p.name], [normals[c] for c in p.condition])
        vector = decoupled(score, check, vector, {names.index(c): normals[c] for c in p.condition})
        sigma = float((w.float() @ vector).std())
        best = None
        for layers in layer_candidates(G):
            delta = _change(score, check, NamedDirection(p.name, p.label, vector, layers, sigma), LAYER_SIGMA)
            merit = float(delta[i] - torch.cat([delta[:i], delta[i + 1:]]).abs().mean())
            if best is None or merit > best[0]:
                best = (merit, layers)
        layers = best[1]
        reach = SIGMAS[-1]
        for s in SIGMAS:
            if float(_change(score, check, NamedDirection(p.name, p.label, vector, layers, sigma), s)[i]) \
                    >= props.target:
                reach = s
                break
        found.append(NamedDirection(p.name, p.label, vector, layers, reach * sigma / STRENGTH_RANGE[1]))
        log(f"{p.name}: layers {list(layers)}, strength 5 = {reach:g} sigma")
    how = (f"mean logit gradient of the {GRADIENT_SAMPLES} samples nearest each boundary"
           if props.logits is not None else
           f"Fisher normal of the top/bottom {TOP_SHARE:.0%} of {len(FIT_SEEDS):,} samples")
    method = (f"{how} (seeds from 0) scored by {props.score.__name__}; conditional on the properties named per "
              f"direction; layers and scale chosen on seeds {CHECK_SEEDS[0]}-{CHECK_SEEDS[-1]}")
    return NamedDirections(tuple(found), method)


def report(G: torch.nn.Module, dataset: str, dirs: NamedDirections, ws: torch.Tensor | None = None,
           spread: dict[str, float] | None = None) -> list[dict[str, object]]:
    """Per direction, over REPORT_SEEDS (or the latents `ws`): the mean change of its own score between strength
    -5 and +5, the mean absolute change of the others', and (faces) of Male's; in units of `spread`
    (measured_spreads(), measured here when not given)."""
    props = PROPERTY_SETS[dataset]
    names = [p.name for p in props.properties]
    start = _start(G, REPORT_SEEDS) if ws is None else ws
    score = Scorer(G, props, names, spread or measured_spreads(G, dataset))
    rows = []
    for d in dirs.directions:
        i = names.index(d.name)
        delta = _change(score, start, d, STRENGTH_RANGE[1])
        others = torch.cat([delta[:i], delta[i + 1:]])
        row = {"name": d.name, "layers": list(d.layers), "own": float(delta[i]), "others": float(others.abs().mean())}
        if "Male" in names:
            row["Male"] = float(delta[names.index("Male")])
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """python -m gan_core.latent.named_fit checkpoints/celeba: find its named directions, store them beside it."""
    import argparse

    from gan_core.latent import named
    from gan_core.storage.checkpoint import load_generator

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("checkpoint", help="a checkpoint folder of a style model trained on " + ", ".join(PROPERTY_SETS))
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    G, config = load_generator(args.checkpoint)
    dataset = config.get("meta", {}).get("dataset", "")
    if dataset not in PROPERTY_SETS:
        p.error(f"no named properties for data set {dataset!r} (known: {', '.join(PROPERTY_SETS)})")
    dirs = find(G, dataset)
    print(f"wrote {named.save(dirs, args.checkpoint)}")
    for row in report(G, dataset, dirs):
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
