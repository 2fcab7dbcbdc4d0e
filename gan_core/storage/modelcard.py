"""The short README.md model card written next to every exported checkpoint."""
from __future__ import annotations

from typing import Any

from gan_core.evaluation.metrics import PR_K

SCORE_KEYS = ("fid", "kid", "kid_std", "precision", "recall", "fid_n", "fid_real", "digit_accuracy")  # in a card's meta

DATA_TERMS = {
    "mnist": "MNIST (LeCun, Cortes & Burges), 60,000 training digits; commonly used under CC BY-SA 3.0.",
    "anime": "A de-duplicated subset of the Kaggle \"Anime Face Dataset\" (getchu.com character crops), "
             "64x64; educational use only.",
    "celeba": "CelebA img_align_celeba (Liu et al., ICCV 2015), centre-cropped 89x89 and resized to 64x64; "
              "non-commercial research use only, no redistribution of images.",
}


def data_terms(source: str) -> str:
    for key, terms in DATA_TERMS.items():
        if key in source.lower():
            return terms
    return "User-provided images; see their own licence."


def model_card(name: str, model: dict[str, Any], meta: dict[str, Any]) -> str:
    """Markdown card: what the model is, the data and its terms, and how it was trained."""
    hours = meta.get("train_seconds", 0) / 3600
    tc = meta.get("train_config", {})
    lines = [
        f"# GAN Studio checkpoint: `{name}`",
        "",
        f"A `{model['arch']}` generator, {model['resolution']}x{model['resolution']} "
        f"{'RGB' if model['img_channels'] == 3 else 'greyscale'}"
        + (f", class-conditional on {model['num_classes']} classes" if model.get("num_classes") else "") + ".",
        "Weights are the EMA generator (safetensors, with the tracked `w_avg`); `config.json` holds the "
        "architecture, so loading needs nothing else.",
        "",
        "## Training",
        f"- Data: `{meta.get('dataset')}`, {meta.get('num_images', 0):,} images. "
        f"{data_terms(str(meta.get('dataset')))}",
        f"- Steps: {meta.get('steps', 0):,} at batch {tc.get('batch', '?')} "
        f"({meta.get('images_seen', 0):,} images seen)",
        f"- Wall time: {hours:.2f} h of training on {meta.get('hardware')}",
        f"- Recipe: Adam lr {tc.get('lr')}, betas {tc.get('betas')}, R1 gamma {tc.get('r1_gamma')} every "
        f"{tc.get('r1_every')} steps, EMA {tc.get('ema_kimg')} kimg, DiffAugment `{tc.get('augment') or 'none'}`, "
        f"style mixing {tc.get('style_mixing')}",
        f"- Made with: `python train.py` (GAN Studio), torch {meta.get('torch')}, {meta.get('date')}",
    ]
    if meta.get("averaged_steps"):
        lines.append("- Averaged: the mean of the run's EMA generators at steps "
                     f"{', '.join(f'{s:,}' for s in meta['averaged_steps'])} (`python -m gan_core.average`)")
    if "fid" in meta:
        against = f" (n={meta['fid_n']} generated vs real `{meta.get('fid_real')}`)" if "fid_n" in meta else ""
        lines.append(f"- FID: {meta['fid']}, KID: {meta.get('kid')} ± {meta.get('kid_std')}{against}")
    if "precision" in meta:
        lines.append(f"- Precision: {meta['precision']}, recall: {meta.get('recall')} (Kynkäänniemi et al. 2019, "
                     f"k={PR_K}, on the FID samples' Inception features)")
    if "digit_accuracy" in meta:
        lines.append(f"- Digit accuracy: {meta['digit_accuracy']:.1%} of the same samples read as the asked digit by "
                     "the project's MNIST classifier (`gan_core/evaluation/digits.py`)")
    if meta.get("notes"):
        lines += ["", "## Notes", str(meta["notes"])]
    return "\n".join(lines) + "\n"
