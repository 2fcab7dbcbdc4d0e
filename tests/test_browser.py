"""The app in a real browser (Debian chromium driven by playwright, headless): pick each model, use each of the four
tabs, check that images appear; screenshots go to test-output/browser/. A broken model shows its error. The browser's
camera is a fake one that films a CelebA photo no evaluation uses."""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from appserver import BROKEN, MODELS
from benchlib import celeba_photo
from conftest import ROOT
from PIL import Image

from gan_core.studio.media import SHOWN_SIDE

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "test-output" / "browser"
LABELS = {"anime": "Anime faces", "celeba": "CelebA faces", "mnist": "MNIST digits"}
TABS = [  # tab, its button, images it must show (gallery items or figures)
    ("Random sampling", "New batch", 16),
    ("Seed control", "Generate", 8),
    ("Interpolation", "Interpolate", 32),
    ("Style mixing", "Mix", 1),
]
TIMEOUT = 120  # seconds for any wait
FILE_IMAGES = "img[src*='/file=']"  # images the app served (gallery items, the GIF, the mixing figure)

pytestmark = [pytest.mark.slow,  # Chromium on the real app server: not in plain `pytest` (the fast tier)
              pytest.mark.skipif(not CHROMIUM.exists(),
                                 reason="needs Debian chromium at /usr/bin/chromium (apt-get install -y chromium)")]


def write_camera_film(path: Path) -> Path:
    """A 640x480 Y4M video (Chromium's fake camera plays it) of the last CelebA photo, enlarged 3x on grey."""
    ycc = np.asarray(celeba_photo(-1, canvas=(640, 480)).convert("YCbCr"))
    planes = ycc[..., 0].tobytes() + ycc[::2, ::2, 1].tobytes() + ycc[::2, ::2, 2].tobytes()  # 4:2:0
    path.write_bytes(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n" + (b"FRAME\n" + planes) * 5)
    return path


@pytest.fixture(scope="module")
def page(app_url, tmp_path_factory):
    film = write_camera_film(tmp_path_factory.mktemp("camera") / "face.y4m")
    camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={film}"]
    with sync_api().sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS + camera, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, permissions=["camera"])
        page.set_default_timeout(TIMEOUT * 1000)  # generous: the machine may be busy training
        sync_api().expect.set_options(timeout=TIMEOUT * 1000)
        page.goto(app_url)
        page.get_by_role("button", name="New batch").wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        yield page
        browser.close()


def sync_api():
    return pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright)")


def settle(page) -> None:
    """Wait until no event is pending (its spinner covers its output components and takes the clicks); an event that
    failed leaves an Error badge over its outputs instead, and fails the test."""
    deadline = time.time() + TIMEOUT
    while badges := page.locator("[data-testid=status-tracker]:not(.hide)").all_inner_texts():
        failed = [b for b in badges if b.strip().startswith("Error")]
        assert not failed, f"a page event failed: {len(failed)} Error badge(s) (see the server log)"
        assert time.time() < deadline, f"events still pending after {TIMEOUT} s"
        time.sleep(0.25)


def pick_model(page, label: str) -> None:
    settle(page)
    page.get_by_label("Model").click()
    page.get_by_role("option", name=label, exact=True).click()


def loaded_images(panel) -> list[str]:
    """src of each served image in the panel that the browser has decoded."""
    return panel.locator(FILE_IMAGES).evaluate_all(
        "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => i.src)")


def wait_for_new_images(panel, before: list[str], count: int) -> None:
    """Wait until the panel shows at least `count` images, not all of them the ones it showed `before`."""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        srcs = loaded_images(panel)
        if len(srcs) >= count and set(srcs) != set(before):
            return
        time.sleep(0.25)
    panel.page.screenshot(path=str(SHOTS / "timed-out.png"), full_page=True)
    raise AssertionError(f"{count} new images did not appear within {TIMEOUT} s (saw {len(loaded_images(panel))}; "
                         f"the page: {SHOTS / 'timed-out.png'})")


def shown_widths(panel) -> list[float]:
    """On-screen widths (CSS px) of the served images in the panel."""
    return panel.locator(FILE_IMAGES).evaluate_all("imgs => imgs.map(i => i.getBoundingClientRect().width)")


def test_first_load_shows_a_batch_at_least_256_px_wide(page):
    """A new visitor sees faces without pressing anything, each shown >= 256 px wide although it is 64 px."""
    panel = page.locator("[role=tabpanel]:visible")
    wait_for_new_images(panel, [], 16)
    assert min(shown_widths(panel)) >= SHOWN_SIDE
    page.screenshot(path=str(SHOTS / "first-load.png"), full_page=True)


def test_an_uploaded_photo_is_shown_in_your_image(page, tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (300, 200), (200, 120, 40)).save(photo)
    page.get_by_role("tab", name="Your image").click()
    panel = page.locator("[role=tabpanel]:visible")
    settle(page)
    panel.locator("input[type=file]").set_input_files(str(photo))
    wait_for_new_images(panel, [], 1)


def test_a_webcam_photo_is_aligned_projected_and_used_in_style_mixing(page):
    """The fake camera's CelebA face: captured, found and aligned, projected, then the first row/column of a mix."""
    pick_model(page, LABELS["celeba"])
    page.get_by_role("tab", name="Your image").click()
    panel = page.locator("[role=tabpanel]:visible")
    panel.get_by_role("button", name="Capture from camera").click()
    panel.get_by_role("button", name="Click to Access Webcam").click()
    page.wait_for_function("() => [...document.querySelectorAll('video')].some(v => v.readyState >= 2)")  # playing
    panel.get_by_role("button", name="capture photo").click()
    wait_for_new_images(panel, [], 1)  # the captured photo, uploaded
    settle(page)
    before = loaded_images(panel)
    panel.get_by_role("button", name="Project", exact=True).click()
    wait_for_new_images(panel, before, 3)
    sync_api().expect(panel.get_by_text(re.compile(r"^face found.*; reconstruction [\d.]+ dB PSNR"))).to_be_visible()
    use = page.get_by_label("Use your image (Your image tab)")
    sync_api().expect(use).to_be_checked()
    page.screenshot(path=str(SHOTS / "your-image.png"), full_page=True)
    page.get_by_role("tab", name="Style mixing").click()
    panel = page.locator("[role=tabpanel]:visible")
    before = loaded_images(panel)
    settle(page)
    panel.get_by_role("button", name="Mix", exact=True).click()
    wait_for_new_images(panel, before, 1)
    sync_api().expect(panel.get_by_text("Column styles on w indices")).to_be_visible()
    page.screenshot(path=str(SHOTS / "your-image-mixed.png"), full_page=True)
    use.uncheck()


@pytest.mark.parametrize("model", MODELS)
def test_each_model_each_tab_shows_images(page, model):
    pick_model(page, LABELS[model])
    digit = sync_api().expect(page.get_by_label("Class (digit)"))
    digit.to_be_visible() if model == "mnist" else digit.to_be_hidden()  # only the conditional model has classes
    for tab, button, count in TABS:
        page.get_by_role("tab", name=tab).click()
        panel = page.locator("[role=tabpanel]:visible")
        before = loaded_images(panel)
        settle(page)
        panel.get_by_role("button", name=button, exact=True).click()
        wait_for_new_images(panel, before, count)
        page.screenshot(path=str(SHOTS / f"{model}-{tab.lower().replace(' ', '-')}.png"), full_page=True)


def test_broken_model_shows_its_error(page, served_checkpoints):
    """Its error (naming the file) shows under the model menu, and again as an error toast on Generate."""
    name = next(iter(BROKEN))
    pick_model(page, name.replace("-", " "))
    message = page.get_by_text(str(served_checkpoints / name / BROKEN[name]))
    sync_api().expect(message).to_have_count(1)
    page.get_by_role("tab", name="Seed control").click()
    page.locator("[role=tabpanel]:visible").get_by_role("button", name="Generate", exact=True).click()
    sync_api().expect(message).to_have_count(2)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
