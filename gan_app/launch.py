"""Start the app: `python app.py`, `gan-studio` or `python -m gan_app` (settings: gan_core.settings, read now)."""
from __future__ import annotations

import argparse
import logging
import os

from gan_app.demo import CSS, create_demo
from gan_core.errors import InvalidInput
from gan_core.settings import settings
from gan_core.storage.checkpoint import CheckpointError
from gan_core.studio.outputs import OutputFolder
from gan_core.studio.studio import Studio

log = logging.getLogger("gan_studio")


def main(argv: list[str] | None = None) -> None:
    """Build the Studio from the settings (GAN_STUDIO_CHECKPOINTS, GAN_STUDIO_OUTPUT_MB, GAN_STUDIO_CACHE_SECONDS),
    load its models, and serve the app where GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say (Gradio reads them)."""
    argparse.ArgumentParser(prog="gan-studio", description="GAN Studio in the browser (http://localhost:7860 by "
                            "default); configured by environment variables, see docs/deploy.md").parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the page's Blocks say so too: no phoning home
    config = settings()
    # each request's files go into its own folder, the oldest deleted past an hour or GAN_STUDIO_OUTPUT_MB in all
    studio = Studio(config.checkpoint_dir, outputs=OutputFolder(max_bytes=config.output_bytes))
    for name in studio.names():  # load once up front so the first request is fast; bad ones report later
        try:
            studio.model(name)
        except (InvalidInput, CheckpointError) as exc:
            log.warning("%s", exc)
    create_demo(studio, cache_seconds=config.cache_seconds).launch(css=CSS)
