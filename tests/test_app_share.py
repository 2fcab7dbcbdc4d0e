"""The app's latent-directions, all-classes and reproduce endpoints, through gradio_client on the shared server."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from gan_core.studio.recipe import KEY, Recipe

pytestmark = pytest.mark.slow  # the real app server: not in plain `pytest` (the fast tier)


def test_directions_all_classes_and_reproduce(client):
    from gradio_client.exceptions import AppError

    edited = Image.open(client.predict("anime", 42, 0.7, None, "coarse", 2, 0, -1, 0, 0, api_name="/directions"))
    recipe = Recipe.from_json(edited.info[KEY])
    assert (recipe.kind, recipe.edits, recipe.layers, len(recipe.sha256)) == ("directions", [2.0, 0.0, -1.0],
                                                                             "coarse", 64)
    strip = client.predict("mnist", 42, 1.0, "3", "all", api_name="/direction_strip")
    assert len(strip) == 35 and strip[0]["caption"] == "d1 -3σ"

    digits = Image.open(client.predict("mnist", "1-2", 1.0, api_name="/all_classes"))
    assert digits.size == (2 + 10 * 34, 2 + 2 * 34)
    with pytest.raises(AppError, match="not class-conditional"):
        client.predict("anime", "1", 1.0, api_name="/all_classes")

    gallery, files, note = client.predict(edited.info[KEY], api_name="/reproduce")
    assert np.array_equal(np.asarray(Image.open(gallery[0]["image"])), np.asarray(edited)), "not bit-exact"
    assert "Checkpoint mismatch" not in note and "?recipe=" in note and files[0].endswith(".png")
    stale = json.dumps({**json.loads(edited.info[KEY]), "sha256": "0" * 64})
    assert "Checkpoint mismatch" in client.predict(stale, api_name="/reproduce")[2]
    with pytest.raises(AppError, match="unknown field"):
        client.predict('{"kind":"seeds","model":"anime","bogus":1}', api_name="/reproduce")
