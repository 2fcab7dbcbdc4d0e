"""Load: 20 concurrent gradio_client clients mixing all four endpoints, each with its own seeds. Every request
completes (or is told the queue is full), none errs, and each gets exactly the images of its own seeds."""
from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from appserver import MODELS
from gan_core.studio import Studio

CLIENTS = 20
ENDPOINTS = ["/sample", "/seeds", "/interpolate", "/mix"]


def request(i: int, k: int) -> tuple[str, tuple]:
    """Client i's k-th request: its endpoint and arguments, on seeds no other client uses."""
    model, b = MODELS[i % 3], 1000 + 10 * i
    label = str(i % 10) if model == "mnist" else None
    args = {
        "/sample": (model, 3, 0.8, label),
        "/seeds": (model, f"{b + 5 * k}, {b + 5 * k + 1}", 0.7, label),
        "/interpolate": (model, f"{b}, {b + 1}", 4, "z-slerp", 1.0, label, False),
        "/mix": (model, f"{b}", f"{b + 1}, {b + 2}", "coarse", "", 1.0, label),
    }
    endpoint = ENDPOINTS[(i + 2 * k) % 4]
    return endpoint, args[endpoint]


def pixels(path_or_image) -> np.ndarray:
    return np.asarray(Image.open(path_or_image) if isinstance(path_or_image, str) else path_or_image)


def expected(studio: Studio, endpoint: str, args: tuple, got) -> tuple[list[str], list[np.ndarray]]:
    """Captions and images this request must have returned, made locally (seeds are bit-identical across processes)."""
    if endpoint == "/sample":  # random seeds: each image must be the one of the seed in its caption
        model, _, psi, label = args
        r = studio.seeds(model, ", ".join(item["caption"].split()[1] for item in got), psi, label)
    elif endpoint == "/seeds":
        r = studio.seeds(*args)
    elif endpoint == "/interpolate":
        r = studio.interpolate(*args)
    else:
        return [], [pixels(studio.mix(*args).images[0])]
    return r.captions, [pixels(im) for im in r.images]


def received(endpoint: str, got) -> tuple[list[str], list[np.ndarray]]:
    if endpoint == "/mix":
        return [], [pixels(got[0])]
    gallery = got[0] if endpoint in ("/seeds", "/interpolate") else got
    return [item["caption"] for item in gallery], [pixels(item["image"]) for item in gallery]


def test_twenty_concurrent_clients(app_url, served_checkpoints):
    from gradio_client import Client
    from gradio_client.utils import QueueError

    results: dict[tuple[int, int], object] = {}
    start = threading.Barrier(CLIENTS)

    def run(i: int) -> None:
        client = Client(app_url, verbose=False)
        start.wait()  # all clients fire together
        for k in range(2):
            endpoint, args = request(i, k)
            try:
                results[i, k] = client.predict(*args, api_name=endpoint)
            except Exception as exc:  # recorded, judged below
                results[i, k] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(results) == 2 * CLIENTS, "some requests never came back"

    queue_full = [key for key, r in results.items() if isinstance(r, QueueError)]
    errors = {key: r for key, r in results.items() if isinstance(r, Exception) and key not in queue_full}
    assert not errors, errors
    assert len(queue_full) < len(results), "every request was turned away"

    studio = Studio(served_checkpoints)
    for (i, k), got in results.items():
        if (i, k) in queue_full:
            continue
        endpoint, args = request(i, k)
        want_captions, want_images = expected(studio, endpoint, args, got)
        captions, images = received(endpoint, got)
        if want_captions:
            assert captions == want_captions, (i, k, endpoint)
        assert len(images) == len(want_images), (i, k, endpoint)
        for a, b in zip(images, want_images):
            assert np.array_equal(a, b), f"client {i} request {k} {endpoint}: an image is not its own seed's"
