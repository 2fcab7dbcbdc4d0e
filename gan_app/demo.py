"""The page: a header, the controls above the tabs, the Reproduce box, six tabs and links, built for one Studio."""
from __future__ import annotations

import functools

import gradio as gr

from gan_app import handlers, links, tabs
from gan_core.studio.media import SHOWN_SIDE
from gan_core.studio.studio import Studio

QUICK_LIMIT = 2  # quick requests running at once on the CPU (the queue's default limit); projections: tabs.PROJECT
MAX_QUEUE = 64  # requests waiting at most; past it a client is told the queue is full
# results are shown at least media.SHOWN_SIDE px wide, their pixels kept crisp; downloads stay at native size
CSS = f"""
.pixels img {{ image-rendering: pixelated; }}
.pixels.image-box img {{ min-width: {SHOWN_SIDE}px; min-height: {SHOWN_SIDE}px; object-fit: contain; }}
"""


def create_demo(studio: Studio, cache_seconds: int = 3600) -> gr.Blocks:
    """The app for `studio`, its queue set up (launch it with css=CSS). Gradio's copies of served files older than
    `cache_seconds` are deleted every cache_seconds / 6."""
    with gr.Blocks(title="GAN Studio", analytics_enabled=False,  # no phoning home: runs offline
                   delete_cache=(max(cache_seconds // 6, 1), cache_seconds)) as demo:
        gr.Markdown("# GAN Studio\nGenerate, explore and share images from pretrained GANs. "
                    "Every image is named by its seed: the same seed always gives the same image.")
        shared = tabs.shared_controls(studio)
        repro = tabs.reproduce_box(studio)
        tabs.random_sampling(studio, shared, demo)
        seeds = tabs.seed_control(studio, shared)
        walk = tabs.interpolation(studio, shared)
        mix = tabs.style_mixing(studio, shared)
        edit = tabs.latent_directions(studio, shared)
        image = tabs.your_image(studio, shared)
        follow_the_model(studio, demo, shared, seeds, edit, image)
        shared.use_photo.change(lambda use, w, m: (w if use else "", "w-lerp" if use else m),
                                [shared.use_photo, image.projected_w, walk.mode], [shared.active_w, walk.mode],
                                api_visibility="private")
        links.install(demo, studio, shared, repro, dict(seeds=seeds, walk=walk, mix=mix, edit=edit, image=image))
    return demo.queue(max_size=MAX_QUEUE, default_concurrency_limit=QUICK_LIMIT)


def follow_the_model(studio: Studio, demo: gr.Blocks, s: tabs.Shared, seeds, edit, image) -> None:
    """Picking a model (and opening the page) sets its info line, class picker and layer groups; a projection
    belongs to its model, so another model forgets it."""
    for event in (s.model.change, demo.load):
        event(functools.partial(handlers.on_model_change, studio), s.model,
              [s.info, s.label, seeds.all_group, edit.layers], api_name="model_info", api_visibility="private")
    s.model.change(lambda: ("", gr.Checkbox(visible=False, value=False)), None, [image.projected_w, s.use_photo],
                   api_visibility="private")
