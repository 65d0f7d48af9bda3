"""The iteration loop in Debian Chromium, in embedded mode with the demo provider: generate -> two
variations -> upscale -> inpaint with a mask drawn with the mouse -> compare with the slider -> the lineage
tree shows every image with its diff. Screenshots of each page go to tests/artifacts/."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import Tab, demo_app, demo_sign_in, loaded, opened_page, shoot
from tests.support.env import wait_for

pytestmark = pytest.mark.browser
expect.set_options(timeout=30_000)
PROMPT = "A lighthouse on a basalt cliff at dusk"


@pytest.fixture(scope="module")
def iterate_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_app(tmp_path_factory, "studio-iterate") as (url, _):
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, 1440, 1500) as opened:
        yield opened


def wait_results(page: Page, tab: Tab, count: int) -> None:
    """Until the progress panel (it polls once a second) shows `count` finished images of the prompt."""
    expect(page.get_by_role("img", name=PROMPT)).to_have_count(count, timeout=60_000)
    tab.settle()


def test_generate_vary_upscale_inpaint_compare_and_see_the_family(
    iterate_app: str, page: Page, artifacts: Path
) -> None:
    tab = demo_sign_in(page, iterate_app, "Continue as demo user")
    page.get_by_role("textbox", name="Prompt").fill(PROMPT)
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("img", name=PROMPT)).to_have_count(1, timeout=40_000)
    tab.settle()

    # Two variations, from the result's Iterate menu.
    page.get_by_text("Iterate", exact=True).first.click()
    page.get_by_role("button", name="Variations").first.click()
    popover = page.locator('[data-testid="stPopoverBody"]')
    expect(popover.get_by_text("How many")).to_be_visible()
    expect(popover.get_by_text(re.compile(r"^\d+ credits?$"))).to_be_visible()
    shoot(page, artifacts, "iterate-variations.png")
    popover.get_by_role("button", name="Make 2").click()
    tab.settle()
    wait_results(page, tab, 3)

    # Upscale from the source image's page.
    page.get_by_role("link", name="Open").last.click()  # the oldest card: the first image
    expect(page).to_have_url(re.compile(r"/image\?id="))
    source_url = page.url
    tab.settle()
    page.get_by_role("button", name="Upscale").click()
    popover = page.locator('[data-testid="stPopoverBody"]')
    popover.get_by_role("button", name="Upscale 2×").click()
    tab.settle()
    wait_results(page, tab, 3)  # this session's jobs: the two variations and the upscale
    shoot(page, artifacts, "iterate-image-page.png")

    # Inpaint with a mask drawn with the mouse.
    main = page.locator('[data-testid="stMain"]')
    main.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit")).to_be_visible()
    tab.settle()
    canvas = page.locator("canvas").first
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5, steps=15)
    page.mouse.up()
    tab.settle()
    expect(page.get_by_text(re.compile(r"[1-9]\d*% masked"))).to_be_visible()
    page.get_by_role("textbox", name="What goes in the masked part").fill("a red kite")
    page.get_by_role("textbox", name="What goes in the masked part").press("Enter")
    tab.settle()
    expect(
        page.get_by_role("tabpanel", name="Inpaint").get_by_text(re.compile(r"^Costs \d+ credits?\.$"))
    ).to_be_visible()
    shoot(page, artifacts, "iterate-edit-inpaint.png")
    page.get_by_role("button", name="Inpaint").click()
    tab.settle()
    expect(page.get_by_role("img", name="a red kite")).to_have_count(
        1, timeout=60_000
    )  # the inpaint's prompt
    tab.settle()

    # Compare the inpainted image with its parent, with the slider.
    page.get_by_role("link", name="Open").first.click()
    expect(page).to_have_url(re.compile(r"/image\?id="))
    tab.settle()
    page.get_by_role("link", name="Compare with parent").click()
    expect(page.get_by_role("heading", name="Compare")).to_be_visible()
    slider = page.get_by_role("slider").first
    expect(slider).to_be_visible()
    tab.settle()
    for image in page.locator("img").all()[:2]:
        wait_for(functools.partial(loaded, image), timeout=20)
    slider.focus()
    for _ in range(3):
        slider.press("Shift+ArrowLeft")
    shoot(page, artifacts, "iterate-compare.png")

    # The family: the source, two variations, the upscale and the inpaint, each with its diff.
    page.goto(source_url)
    tab.settle()
    page.get_by_role("tab", name="Lineage").click()
    nodes = page.locator(".lineage button")
    expect(nodes).to_have_count(5)
    texts = nodes.all_inner_texts()
    assert sum("Variation" in text for text in texts) == 2
    assert any("Upscale 2×" in text and re.search(r"size (\d+)×(\d+) → \d+×\d+", text) for text in texts), (
        texts
    )
    assert any("Inpaint" in text and "model" in text for text in texts), texts
    expect(page.get_by_text("5 images in this family")).to_be_visible()
    shoot(page, artifacts, "iterate-lineage.png")
    nodes.filter(has_text="Inpaint").click()
    expect(page).not_to_have_url(source_url)
    expect(page).to_have_url(re.compile(r"/image\?id="))


def test_an_upload_that_is_not_an_image_is_refused_and_a_photo_is_taken_in(
    iterate_app: str, page: Page, artifacts: Path, tmp_path: Path
) -> None:
    tab = demo_sign_in(page, iterate_app, "Continue as demo user")
    page.locator('[data-testid="stSidebarNav"] a', has_text="Gallery").click()
    tab.settle()
    page.get_by_role("link", name="Upload an image").click()
    expect(page.get_by_role("heading", name="Edit")).to_be_visible()
    tab.settle()
    fake = tmp_path / "holiday.png"
    fake.write_bytes(b"MZ\x90\x00 this is not a picture")
    page.locator('input[type="file"]').set_input_files(str(fake))
    expect(
        page.get_by_text("The upload is not a readable image: use a PNG, JPEG or WebP image.")
    ).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"id="))
    tab.settle()
    shoot(page, artifacts, "iterate-upload-refused.png")

    photo = tmp_path / "photo.jpg"
    picture = PILImage.new("RGB", (300, 200), (30, 120, 200))
    exif = PILImage.Exif()
    exif[0x0112] = 6  # stored sideways: shown upright
    picture.save(photo, "JPEG", exif=exif.tobytes())
    page.locator('input[type="file"]').set_input_files(str(photo))
    expect(page).to_have_url(re.compile(r"/edit\?id="), timeout=30_000)
    expect(page.get_by_role("tab", name="Inpaint")).to_be_visible()
    tab.settle()
    expect(page.get_by_text(re.compile(r"^200×300 → "))).to_be_attached()  # the outpaint tab: upright
