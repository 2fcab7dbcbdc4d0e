"""The app as users reach it: a real server on localhost, called through gradio_client."""
from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from appserver import MODELS
from gan_core.studio import Studio


@pytest.mark.parametrize("model", MODELS)
def test_all_endpoints(client, served_checkpoints, model):
    label = "3" if model == "mnist" else None
    out = client.predict(model, 4, 0.8, label, api_name="/sample")
    assert len(out) == 4 and all(item["caption"].startswith("seed ") for item in out)
    assert Image.open(out[0]["image"]).size[0] in (32, 64)

    gallery, files = client.predict(model, "42, 1-3", 0.7, label, api_name="/seeds")
    assert [g["caption"].split()[1] for g in gallery] == ["42", "1", "2", "3"]
    assert len(files) == 4 and files[0].endswith("seed42.png")
    served = np.asarray(Image.open(files[0]))
    local = Studio(served_checkpoints).seeds(model, "42", 0.7, label).images[0]
    assert np.array_equal(served, np.asarray(local)), "seed 42 differs between processes"

    strip, gif, downloads = client.predict(model, "3, 7", 6, "w-lerp", 1.0, label, False, api_name="/interpolate")
    assert len(strip) == 6
    assert iio.imread(gif).shape[0] == 6
    assert any(f.endswith(".mp4") and Path(f).stat().st_size > 0 for f in downloads)

    figure, note = client.predict(model, "1, 2", "5, 6, 7", "coarse", "", 1.0, label, api_name="/mix")
    w, h = Image.open(figure).size
    assert w > h > 0 and "w indices" in note


def test_bad_input_gets_message_and_server_keeps_serving(client):
    from gradio_client.exceptions import AppError

    cases = [
        (("anime", "abc", 1.0, None), "seeds"),
        (("anime", "5-1", 1.0, None), "reversed"),
        (("nope", "1", 1.0, None), "unknown model"),
        (("anime", "1", 100, None), "truncation psi"),
        (("mnist", "1", 1.0, "cat"), "class"),
    ]
    for args, expect in cases:
        with pytest.raises(AppError, match=expect):
            client.predict(*args, api_name="/seeds")
    gallery, _ = client.predict("anime", "42", 0.7, None, api_name="/seeds")
    assert len(gallery) == 1
