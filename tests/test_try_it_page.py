"""The try-it page at `GET /`: self-contained HTML, and in a real headless Chromium against the
real server with the shipped models: a photo is read and boxed, a text file is an error."""
from __future__ import annotations

import os
import io
import re
from pathlib import Path

import numpy as np
import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from alpr.api import create_app
from alpr.config import PROJECT_ROOT
from alpr.training.render import find_fonts
from conftest import LiveServer, encode, iter_dev_images, photo_with_plate

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BOX_COLOR = (0x00, 0xE0, 0x5A)  # BOX_COLOR in alpr/static/index.html
SCREENSHOT = PROJECT_ROOT / "docs" / "try-it.png"
FIRST_READ_S = 120  # the first request loads the models


@pytest.fixture(scope="module")
def server(shipped_settings):
    # Module-scoped, so the models load once: conftest's `live_server` factory is this class.
    with LiveServer(create_app(shipped_settings)) as running:
        yield running


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        pytest.skip(f"no browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go online
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--window-size=1200,1400",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    try:
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except (WebDriverException, OSError) as exc:
        reason = (getattr(exc, "msg", None) or str(exc)).strip().splitlines()[0]
        pytest.skip(f"selenium could not start chromium: {reason}")
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def plate_photo(server, tmp_path_factory) -> tuple[Path, list[float]]:
    """A composed photo that the shipped models read as AA8809TI through the API, and the box
    the API gives for it."""
    if not find_fonts():
        pytest.skip("plate fonts (../shared/datasets/fonts) not available to draw the plate")
    photo, _ = photo_with_plate(300, np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    path = tmp_path_factory.mktemp("photos") / "car.jpg"
    path.write_bytes(encode(photo, "JPEG"))
    response = requests.post(
        f"{server.url}/recognize?detail=1", files={"image": ("car.jpg", path.read_bytes())}, timeout=FIRST_READ_S
    )
    answer = response.json()
    assert response.status_code == 200 and answer["plate"] == "AA8809TI", answer
    assert len(answer["plates"]) == 1, answer
    return path, answer["plates"][0]["box"]


def state(browser) -> str:
    return browser.execute_script("return document.body.dataset.state")


def upload(browser, server, path: Path) -> str:
    """Opens the page, gives `path` to the file input, waits for the answer: the final state."""
    browser.get(server.url + "/")
    assert state(browser) == "idle"
    browser.find_element(By.ID, "file").send_keys(str(path))
    WebDriverWait(browser, FIRST_READ_S).until(lambda b: state(b) in ("done", "error"))
    return state(browser)


def plate_texts(browser) -> list[str]:
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#plates .plate .plate-text")]


def test_page_is_self_contained_html(server):
    response = requests.get(server.url + "/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.text
    assert '<meta name="viewport"' in html
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//""", html, re.I), "external src/href"
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*https?:""", html, re.I), "external src/href"
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I), "script from a file"
    assert not re.search(r"""<link[^>]*\brel\s*=\s*["']?stylesheet""", html, re.I), "linked stylesheet"
    assert "@import" not in html
    # CSS url(...) only for data: URLs (JavaScript's `new URL(` is not CSS).
    assert not re.search(r"""(?<![\w.])url\(\s*["']?(?!data:)""", html), "url() outside the page"
    assert "recognize?detail=1" in html and '"/recognize' not in html, "the endpoint must be relative"


def test_reads_and_boxes_a_plate(server, driver, plate_photo):
    path, box = plate_photo
    assert upload(driver, server, path) == "done", driver.find_element(By.ID, "error").text
    assert "AA8809TI" in plate_texts(driver)
    assert driver.find_element(By.ID, "error").is_displayed() is False

    canvas = driver.find_element(By.ID, "canvas")
    assert canvas.get_attribute("data-boxes") == "1"
    # The middle of the box's left edge, scaled from image pixels (1280 wide) to the canvas:
    # some pixel around it has the box colour.
    pixels = driver.execute_script(
        """
        const [canvas, x1, y1, y2, imageWidth] = arguments;
        const s = canvas.width / imageWidth;
        const x = Math.round(x1 * s), y = Math.round((y1 + y2) / 2 * s);
        return Array.from(canvas.getContext("2d").getImageData(x - 4, y - 4, 9, 9).data);
        """,
        canvas, box[0], box[1], box[3], 1280,
    )
    rgb = np.array(pixels, float).reshape(-1, 4)[:, :3]
    assert np.abs(rgb - BOX_COLOR).max(axis=1).min() < 40, "no box colour on the box's left edge"

    timings = driver.find_element(By.ID, "timings").text
    assert "total" in timings and "ms" in timings


def canvas_box_spread(browser, box: list[float], image_width: int = 1280) -> float:
    """The standard deviation of the canvas's pixels inside `box` (image pixels): high over
    a plate's strokes, low once they are covered."""
    pixels = browser.execute_script(
        """
        const [canvas, x1, y1, x2, y2, imageWidth] = arguments;
        const s = canvas.width / imageWidth;
        const [x, y] = [Math.round(x1 * s) + 2, Math.round(y1 * s) + 2];
        const [w, h] = [Math.max(1, Math.round((x2 - x1) * s) - 4), Math.max(1, Math.round((y2 - y1) * s) - 4)];
        return Array.from(canvas.getContext("2d").getImageData(x, y, w, h).data);
        """,
        browser.find_element(By.ID, "canvas"), *box, image_width,
    )
    return float(np.array(pixels, float).reshape(-1, 4)[:, :3].std())


def test_the_hide_switch_shows_the_plates_hidden(server, driver, plate_photo):
    path, box = plate_photo
    assert upload(driver, server, path) == "done", driver.find_element(By.ID, "error").text
    canvas = driver.find_element(By.ID, "canvas")
    assert canvas.get_attribute("data-view") == "original"
    sharp = canvas_box_spread(driver, box)

    driver.find_element(By.ID, "hide").click()
    WebDriverWait(driver, FIRST_READ_S).until(lambda b: canvas.get_attribute("data-view") == "hidden")
    assert state(driver) == "done"
    assert int(canvas.get_attribute("data-hidden")) >= 1
    assert canvas_box_spread(driver, box) < sharp / 3, "the plate is still visible on the canvas"
    download = driver.find_element(By.ID, "download")
    assert download.is_displayed() and download.get_attribute("href").startswith("blob:")

    driver.find_element(By.ID, "hide").click()  # back to the photo as sent, boxed
    WebDriverWait(driver, 10).until(lambda b: canvas.get_attribute("data-view") == "original")
    assert canvas_box_spread(driver, box) > sharp * 0.8
    assert canvas.get_attribute("data-boxes") == "1"


def test_text_file_is_an_error(server, driver, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Not a photo, just some notes.\n")
    assert upload(driver, server, notes) == "error"
    error = driver.find_element(By.ID, "error")
    assert error.is_displayed()
    assert "2" in error.text and "Invalid file format" in error.text
    assert plate_texts(driver) == []


def test_reads_a_real_photo(server, driver):
    """The dev photo of AA8809TI; with ALPR_SCREENSHOT set, the page is saved to docs/try-it.png."""
    photo = next((p for p in iter_dev_images() if p.name == "ua-AA8809TI.jpg"), None)
    if photo is None:
        pytest.skip("no ../shared/datasets/dev-images/ua-AA8809TI.jpg")
    assert upload(driver, server, photo) == "done", driver.find_element(By.ID, "error").text
    assert "AA8809TI" in plate_texts(driver)
    assert int(driver.find_element(By.ID, "canvas").get_attribute("data-boxes")) >= 1
    if os.environ.get("ALPR_SCREENSHOT"):
        save_screenshot(driver, SCREENSHOT)


def save_screenshot(browser, path: Path) -> None:
    """The page in a 1000×1100 window, as a small palette PNG."""
    from PIL import Image

    browser.set_window_size(1000, 1100)
    browser.execute_script("window.scrollTo(0, 0)")
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    browser.set_window_size(1200, 1400)
