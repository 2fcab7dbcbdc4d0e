"""Your image through the real server: /project with hostile uploads (each gets a result or a clear message, and the
server keeps serving), and a projection used by /mix, /interpolate and /directions; and which files an upload may
name (gan_core.photos.uploads.upload_source, what the app calls with Gradio's upload folder)."""
from __future__ import annotations

import base64
import os

import numpy as np
import pytest
from PIL import Image
from test_uploads import encoded, png_claiming

from gan_core.errors import InvalidInput
from gan_core.photos.uploads import MAX_UPLOAD_BYTES, upload_source

SERVER = pytest.mark.slow  # the real app server, projections: not in plain `pytest` (the fast tier)

STEPS_NOTE = "dB PSNR"


def hostile_uploads() -> dict[str, bytes]:
    """name -> the bytes of an upload a visitor might send: five to refuse, and one huge photo to shrink and project.
    The odd but valid formats (16-bit, CMYK, animations, transparency) are decoded in tests/test_uploads.py; each
    projection here costs ~20 s."""
    png = encoded(Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)), "PNG")
    return {
        "not-an-image.png": b"hello, this is text\n" * 10,
        "empty.png": b"",
        "truncated.png": png[: len(png) // 2],
        "one-pixel.png": encoded(Image.new("RGB", (1, 1), "white"), "PNG"),
        "bomb.png": png_claiming(60000, 60000),
        "large.jpg": encoded(Image.new("RGB", (6000, 4000), (120, 90, 60)), "JPEG", quality=70),
    }


@SERVER
def test_hostile_uploads_get_a_result_or_a_clear_message(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    outcomes = {}
    for name, data in hostile_uploads().items():
        path = tmp_path / name
        path.write_bytes(data)
        try:
            views, note, w = client.predict("anime", handle_file(str(path)), True, None, api_name="/project")
            assert len(views) == 3 and STEPS_NOTE in note and len(w) > 1000
            outcomes[name] = "projected"
        except AppError as exc:
            assert str(exc).startswith("image: "), f"{name}: {exc}"
            outcomes[name] = str(exc)
    refused = {n for n, o in outcomes.items() if o != "projected"}
    assert refused == {"not-an-image.png", "empty.png", "truncated.png", "one-pixel.png", "bomb.png"}, outcomes
    assert "too large" in outcomes["bomb.png"] and "40 megapixels" in outcomes["bomb.png"]
    gallery, _ = client.predict("anime", "42", 0.7, None, api_name="/seeds")  # still serving
    assert len(gallery) == 1


@SERVER
def test_a_projection_feeds_mix_walk_and_edits_over_the_api(client, tmp_path):
    from gradio_client import handle_file

    photo = tmp_path / "seed3.png"
    gallery, files = client.predict("anime", "3", 1.0, None, api_name="/seeds")
    Image.open(files[0]).save(photo)
    views, note, w = client.predict("anime", handle_file(str(photo)), False, None, api_name="/project")
    figure, mix_note = client.predict("anime", "1", "2", "coarse", "", 1.0, None, w, api_name="/mix")
    plain, _ = client.predict("anime", "1", "2", "coarse", "", 1.0, None, "", api_name="/mix")
    assert Image.open(figure).width > Image.open(plain).width
    strip, gif, downloads = client.predict("anime", "7", 4, "w-lerp", 1.0, None, False, w, api_name="/interpolate")
    recon = np.asarray(Image.open(views[2]["image"]))
    assert np.array_equal(np.asarray(Image.open(strip[0]["image"]).convert("RGB")), recon)
    edited = client.predict("anime", 0, 1.0, None, "all", 0, 0, 0, 0, 0, w, api_name="/directions")
    assert np.array_equal(np.asarray(Image.open(edited).convert("RGB")), recon)
    same, note = client.predict("anime", 0, 1.0, None, "", w, api_name="/edit")  # named edits of the photo
    assert np.array_equal(np.asarray(Image.open(same).convert("RGB")), recon) and note == "your image · no edit"
    red, note = client.predict("anime", 0, 1.0, None, "Red_Hair=4", w, api_name="/edit")
    assert note == "your image · Red hair +4"
    assert not np.array_equal(np.asarray(Image.open(red).convert("RGB")), recon)


@SERVER
def test_a_latent_of_another_model_is_refused_over_the_api(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="^w: "):
        client.predict("mnist", "1", "2", "coarse", "", 1.0, "3", "AAAA", api_name="/mix")


THROUGH_THE_APP = "image: upload the file through the app"


def test_an_upload_names_a_file_in_the_upload_folder_only(tmp_path):
    uploads, outside = tmp_path / "uploads", tmp_path / "secret.png"
    (uploads / "abc").mkdir(parents=True)
    photo = uploads / "abc" / "photo.png"
    photo.write_bytes(b"png")
    outside.write_bytes(b"secret")
    (uploads / "abc" / "link.png").symlink_to(outside)
    assert upload_source(str(photo), uploads) == str(photo)
    assert upload_source({"path": str(photo), "url": "http://x/file=photo.png"}, uploads) == str(photo)
    refused = [str(outside), f"{uploads}/abc/../../secret.png", str(uploads / "abc" / "link.png"), str(uploads),
               "/etc/passwd", "photo.png", "bad\0name", {"path": str(outside)}, {"url": "http://example.com/a.png"},
               {"url": "file:///etc/passwd"}]
    for payload in refused:
        with pytest.raises(InvalidInput, match=f"^{THROUGH_THE_APP}"):
            upload_source(payload, uploads)
    for payload in (None, "", {}, {"path": ""}, 5, ["a"], {"meta": 1}):
        with pytest.raises(InvalidInput, match="^image: upload an image file"):
            upload_source(payload, uploads)
    assert upload_source(str(photo), os.path.relpath(uploads)) == str(photo)  # the folder may be given relative


def test_an_upload_as_a_data_url(tmp_path):
    data = b"\x89PNG\r\n\x1a\n..."
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    assert upload_source({"url": url}, tmp_path) == data
    assert upload_source({"url": "data:text/plain,hello", "path": None}, tmp_path) == b"hello"
    with pytest.raises(InvalidInput, match="^image: the upload's data is not valid base64"):
        upload_source({"url": "data:image/png;base64,@@@"}, tmp_path)
    big = "A" * (MAX_UPLOAD_BYTES * 4 // 3 + 8)
    with pytest.raises(InvalidInput, match="^image: the upload is larger than 25 MB"):
        upload_source({"url": "data:image/png;base64," + big}, tmp_path)
