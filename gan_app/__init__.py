"""GAN Studio's web app (Gradio) over gan_core's Studio: `create_demo(studio)` builds the page, `main()` serves it.

    from gan_app import create_demo
    create_demo(Studio("checkpoints")).launch()

Nothing is built on import: main() reads the settings, loads the models and launches (`python app.py`,
`gan-studio`). gan_core never imports gradio; everything that does is here.
"""
from __future__ import annotations

from gan_app.demo import create_demo
from gan_app.launch import main

__all__ = ["create_demo", "main"]
