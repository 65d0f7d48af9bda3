"""The iterate widgets in Debian Chromium: the mask canvas (studio/ui/generation/mask_canvas.py), the
before/after slider (studio/ui/library/compare_slider.py) and the lineage tree
(studio/ui/library/lineage_tree.py), on a page of their own served by `streamlit run`.

The page reports what Python received: the mask's PNG decoded with Pillow (its size, its white pixels,
any pixel neither opaque white nor opaque black, the white pixels inside a probe box) and the node opened.
Screenshots of each component go to tests/artifacts/."""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.browser import Tab, loaded, opened_page, running_script, shoot
from tests.support.env import ROOT, wait_for

pytestmark = pytest.mark.browser
expect.set_options(timeout=20_000)
W, H = 320, 200
PROBE = (25, 25, 95, 55)  # inside the rectangle drawn below, (20, 20)-(100, 60) in source pixels
HOSTILE = '<img src=x onerror="document.title=1"><b>Inpaint</b> & co'

PAGE = textwrap.dedent(
    f"""
    import base64
    import io

    import streamlit as st
    from PIL import Image, ImageDraw

    from studio.ui.generation.mask_canvas import mask_canvas
    from studio.ui.library.compare_slider import before_after
    from studio.ui.library.lineage_tree import TreeNode, lineage_tree


    def uri(image: Image.Image) -> str:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


    @st.cache_data
    def pictures() -> tuple[str, str, str, list[str]]:
        source = Image.new("RGB", ({W}, {H}))
        draw = ImageDraw.Draw(source)
        for x in range({W}):
            draw.line([(x, 0), (x, {H})], fill=(40 + x // 3, 90 + x // 8, 160 - x // 4))
        draw.ellipse((120, 40, 220, 140), fill=(240, 200, 60))
        draw.rectangle((20, 130, 90, 180), fill=(30, 140, 90))
        small = source.resize(({W} // 2, {H} // 2)).resize(({W} // 2, {H} // 2), Image.Resampling.NEAREST)
        big = source.resize(({W} * 2, {H} * 2), Image.Resampling.LANCZOS)
        swatches = [uri(Image.new("RGB", (56, 56), ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256)))
                    for n in range(200)]
        return uri(source), uri(small), uri(big), swatches


    source, small, big, swatches = pictures()
    st.header("Iterate widgets")
    # In a column or not: the canvas moves to another parent element and is mounted again, same key.
    where = st.columns([4, 1])[0] if st.checkbox("Beside a panel") else st.container()
    with where:
        mask = mask_canvas(source, {W}, {H}, key="mask")
    if mask is None:
        st.text("mask: none")
    else:
        image = Image.open(io.BytesIO(base64.b64decode(mask.split(",", 1)[1])))
        pixels = list(image.convert("RGBA").getdata())
        white = sum(p == (255, 255, 255, 255) for p in pixels)
        black = sum(p == (0, 0, 0, 255) for p in pixels)
        x0, y0, x1, y1 = {PROBE}
        probe = sum(pixels[y * {W} + x] == (255, 255, 255, 255) for y in range(y0, y1) for x in range(x0, x1))
        box = image.convert("L").point(lambda v: 255 if v else 0).getbbox()
        st.text(f"mask: {{image.width}}x{{image.height}} {{image.mode}} white={{white}} "
                f"other={{len(pixels) - white - black}} probe={{probe}} bbox={{box}}")

    before_after(small, big, key="compare", before_label="Original", after_label="Upscale 2×")

    if st.query_params.get("family") == "200":  # a big family: node n's parent is node (n - 1) // 3
        nodes = [TreeNode(f"n{{n}}", f"n{{(n - 1) // 3}}" if n else None, swatches[n], f"Step {{n}}",
                          f"seed {{n}} → {{n + 1}}") for n in range(200)]
    else:
        nodes = [
            TreeNode("n1", None, swatches[1], "Generate", "flux-dev · seed 12", title="a basalt cliff"),
            TreeNode("n2", "n1", swatches[2], "Variation", "seed 12 → 99 · strength 0.5"),
            TreeNode("n3", "n2", swatches[3], "Upscale 4×", "1024 → 4096 px"),
            TreeNode("n4", "n1", swatches[4], {HOSTILE!r}, "mask 18% · prompt changed"),
            TreeNode("n5", "n4", swatches[5], "Variation", "seed 7 → 8"),
            TreeNode("n6", "n4", swatches[6], "Variation", "seed 7 → 9 · strength 0.7"),
            TreeNode("n7", "gone", swatches[7], "Upload", "parent deleted"),
        ]
    st.session_state.setdefault("opened", "n3")
    lineage_tree(nodes, key="tree", current=st.session_state.opened,
                 on_open=lambda node: st.session_state.update(opened=node))
    st.text(f"opened: {{st.session_state.opened}}")
    """
)


@pytest.fixture(scope="module")
def widgets_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("iterate-widgets")
    shutil.copytree(ROOT / ".streamlit", cwd / ".streamlit")
    (cwd / "widgets.py").write_text(PAGE)
    with running_script(cwd / "widgets.py", cwd, cwd / "streamlit.log") as url:
        yield url


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with opened_page(browser, 1280, 1800) as opened:
        yield opened


def mask_report(page: Page) -> dict[str, str]:
    text = page.get_by_test_id("stText").filter(has_text="mask:").inner_text()
    if text == "mask: none":
        return {}
    return dict(re.findall(r"(\w+)=(\(.*?\)|\S+)", text)) | {"size": text.split()[1], "mode": text.split()[2]}


def white(page: Page) -> int:
    report = mask_report(page)
    assert report["size"] == f"{W}x{H}", report
    assert report["other"] == "0", report  # every pixel opaque white or opaque black: no grey, no alpha
    return int(report["white"])


class Canvas:
    """The mask canvas's drawing layer, driven in source pixels."""

    def __init__(self, tab: Tab) -> None:
        self.tab, self.page = tab, tab.page
        self.layer = self.page.locator(".mask-canvas canvas")

    def at(self, x: float, y: float) -> tuple[float, float]:
        box = self.layer.bounding_box()
        assert box is not None
        return box["x"] + x * box["width"] / W, box["y"] + y * box["height"] / H

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """A stroke with the mouse; returns once Python has the mask it sent and the page is idle."""
        runs = self.tab.requested
        self.page.mouse.move(*self.at(*start))
        self.page.mouse.down()
        self.page.mouse.move(*self.at(*end), steps=12)
        self.page.mouse.up()
        self.tab.settle(runs=runs + 1)

    def press(self, name: str) -> None:
        runs = self.tab.requested
        self.page.get_by_role("button", name=name, exact=True).click()
        self.tab.settle(runs=runs + 1)


def coverage(page: Page, painted: int) -> str:
    share = 100 * painted / (W * H)
    return f"{'<1' if 0 < share < 1 else round(share)}% masked"


def test_the_mask_canvas_paints_a_binary_mask_of_the_source_size(
    widgets_url: str, page: Page, artifacts: Path
) -> None:
    tab = Tab(page)
    tab.visit(widgets_url)
    canvas = Canvas(tab)
    expect(page.get_by_text("mask: none")).to_be_visible()
    for name in ["Brush", "Eraser", "Rectangle", "Undo", "Clear", "Invert"]:
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    size = page.get_by_role("slider", name="Brush size")
    expect(size).to_have_value("20")  # a twentieth of the longer side, in source pixels
    assert canvas.layer.evaluate("c => [c.width, c.height]") == [W, H]  # the layer is the source's pixels
    box = canvas.layer.bounding_box()
    assert box is not None
    assert box["width"] > 1.5 * W  # shown scaled up to the column, the same shape
    assert abs(box["width"] / box["height"] - W / H) < 0.01

    canvas.drag((60, 100), (260, 100))  # a horizontal stroke of the 20 px brush
    stroke = white(page)
    assert mask_report(page)["bbox"] == "(50, 90, 270, 110)"  # mapped from screen to source pixels
    assert abs(stroke - (200 * 20 + 314)) < 150  # the swept disc: 200 x 20 plus its two round ends
    expect(page.locator(".coverage")).to_have_text(coverage(page, stroke))

    page.get_by_role("button", name="Rectangle").click()
    expect(page.get_by_role("button", name="Rectangle")).to_have_attribute("aria-pressed", "true")
    canvas.drag((20, 20), (100, 60))
    both = white(page)
    assert mask_report(page)["probe"] == str((PROBE[2] - PROBE[0]) * (PROBE[3] - PROBE[1]))  # filled
    assert abs(both - stroke - 80 * 40) <= 2 * (80 + 40)
    shoot_component(page.locator(".mask-canvas"), artifacts, "mask-canvas.png")

    canvas.press("Invert")
    assert white(page) == W * H - both
    assert mask_report(page)["probe"] == "0"
    canvas.press("Undo")
    assert white(page) == both
    canvas.press("Undo")
    assert white(page) == stroke

    page.get_by_role("button", name="Eraser").click()
    size.fill("40")
    canvas.drag((160, 60), (160, 140))  # a 40 px eraser across the middle of the stroke
    assert white(page) < stroke - 30 * 20

    canvas.press("Clear")
    expect(page.get_by_text("mask: none")).to_be_visible()  # nothing painted: None, not a black PNG
    expect(page.locator(".coverage")).to_have_text("0% masked")
    expect(page.get_by_role("button", name="Clear")).to_be_disabled()
    canvas.press("Undo")
    assert white(page) < stroke

    painted = white(page)
    canvas.layer.evaluate("c => { c.kept = true }")
    runs = tab.requested
    page.get_by_text("Beside a panel").click()
    tab.settle(runs=runs + 1)
    assert canvas.layer.evaluate("c => c.kept === undefined")  # a new canvas: the component mounted again
    expect(page.locator(".coverage")).to_have_text(coverage(page, painted))  # painted back from its state
    assert white(page) == painted
    expect(page.get_by_role("button", name="Clear")).to_be_enabled()


def test_the_mask_canvas_draws_with_touch(widgets_url: str, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 900, "height": 1400}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        tab = Tab(page)
        tab.visit(widgets_url)
        canvas = Canvas(tab)
        cdp = context.new_cdp_session(page)
        runs = tab.requested
        for kind, x in [("touchStart", 40), ("touchMove", 100), ("touchMove", 160), ("touchEnd", 160)]:
            px, py = canvas.at(x, 50)
            points = [] if kind == "touchEnd" else [{"x": px, "y": py}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
        tab.settle(runs=runs + 1)
        assert mask_report(page)["bbox"] == "(30, 40, 170, 60)"
    finally:
        context.close()


def test_the_slider_moves_the_clip_with_the_pointer_and_the_keyboard(
    widgets_url: str, page: Page, artifacts: Path
) -> None:
    tab = Tab(page)
    tab.visit(widgets_url)
    stage = page.locator(".compare .stage")
    after = page.locator(".compare img.after")
    expect(page.locator(".compare .label.start")).to_have_text("Original")
    expect(page.locator(".compare .label.end")).to_have_text("Upscale 2×")
    expect(after).to_have_css("clip-path", "inset(0px 0px 0px 50%)")
    wait_for(
        lambda: loaded(after) and abs(stage.evaluate("s => s.clientWidth / s.clientHeight") - 1.6) < 0.01
    )
    assert page.locator(".compare img.before").bounding_box() == after.bounding_box()  # stretched to the box
    shoot_component(page.locator(".compare"), artifacts, "compare-slider.png")

    box = stage.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 4, box["y"] + box["height"] / 3, steps=8)
    page.mouse.up()
    expect(after).to_have_css("clip-path", "inset(0px 0px 0px 25%)")
    divider = page.locator(".compare .divider").bounding_box()
    assert divider is not None
    assert abs(divider["x"] + divider["width"] / 2 - (box["x"] + box["width"] / 4)) < 2

    slider = page.get_by_role("slider", name="Compare Original and Upscale 2×")
    expect(slider).to_be_focused()  # the drag handed the keyboard to the slider
    page.keyboard.press("ArrowRight")
    expect(after).to_have_css("clip-path", "inset(0px 0px 0px 26%)")
    page.keyboard.press("Shift+ArrowRight")
    expect(after).to_have_css("clip-path", "inset(0px 0px 0px 36%)")
    expect(slider).to_have_attribute("aria-valuetext", "36% Original, 64% Upscale 2×")
    shoot_component(page.locator(".compare"), artifacts, "compare-slider-moved.png")
    assert tab.requested == 1  # the slider lives in the browser: no rerun for any of it


def test_the_tree_draws_the_family_and_reports_the_node_opened(
    widgets_url: str, page: Page, artifacts: Path
) -> None:
    tab = Tab(page)
    tab.visit(widgets_url)
    nodes = page.locator(".lineage .node")
    expect(nodes).to_have_count(7)
    order = [text.split("\n")[0] for text in nodes.all_inner_texts()]
    assert order == ["Generate", "Variation", "Upscale 4×", HOSTILE, "Variation", "Variation", "Upload"]
    depth = """node => {
        let lists = 0
        for (let e = node.parentElement; e; e = e.parentElement) lists += e.tagName === "UL"
        return lists
    }"""
    assert [node.evaluate(depth) for node in nodes.all()] == [1, 2, 3, 2, 3, 3, 1]  # a lost parent: a root
    expect(page.locator(".lineage b")).to_have_count(0)  # text people typed stays text
    assert page.title() != "1"
    expect(page.locator('.lineage .node[aria-current="true"]')).to_have_text(re.compile("^Upscale 4×"))
    expect(page.locator(".lineage .node img").first).to_have_attribute("loading", "lazy")
    expect(nodes.first).to_have_attribute("title", "a basalt cliff")
    shoot_component(page.locator(".lineage"), artifacts, "lineage-tree.png")

    hostile = page.get_by_role("button", name=re.compile("^<img src=x"))
    hostile.evaluate("node => { node.kept = true }")
    runs = tab.requested
    hostile.click()
    tab.settle(runs=runs + 1)
    expect(page.get_by_text("opened: n4")).to_be_visible()
    expect(page.locator('.lineage .node[aria-current="true"]')).to_have_count(1)
    expect(hostile).to_have_attribute("aria-current", "true")
    assert hostile.evaluate("node => node.kept === true")  # the same element: reused, not rebuilt


def test_the_tree_draws_a_family_of_200_in_one_element(widgets_url: str, page: Page, artifacts: Path) -> None:
    tab = Tab(page)
    tab.visit(f"{widgets_url}/?family=200")
    expect(page.locator(".lineage .node")).to_have_count(200)
    expect(page.locator(".lineage")).to_have_count(1)
    nodes = page.locator(".lineage .node")
    nodes.first.evaluate(
        "node => node.getRootNode().querySelectorAll('.node').forEach(n => { n.kept = true })"
    )
    runs = tab.requested
    page.get_by_role("button", name=re.compile(r"^Step 199\b")).click()
    tab.settle(runs=runs + 1)
    expect(page.get_by_text("opened: n199")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Step 199\b"))).to_have_attribute(
        "aria-current", "true"
    )
    kept = nodes.first.evaluate(
        "node => [...node.getRootNode().querySelectorAll('.node')].filter(n => n.kept).length"
    )
    assert kept == 200  # the rerun moved the highlight and rebuilt no node
    page.get_by_role("button", name=re.compile(r"^Step 0\b")).scroll_into_view_if_needed()
    shoot(page, artifacts, "lineage-tree-200.png")  # what is on screen: the thumbnails load lazily


def shoot_component(element: Locator, artifacts: Path, name: str) -> None:
    element.page.wait_for_timeout(300)  # let the last change paint; the assertions before waited on content
    element.screenshot(path=str(artifacts / name))
