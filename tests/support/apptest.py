"""Home.py and the pages in Streamlit's AppTest (the root conftest runs them as the server does), and the
gallery's thumbnail tiles (studio/ui/library/thumbnails.py).

AppTest shows a custom component as an `UnknownElement`: these read what the tiles were given (the data a
browser would draw) and click a tile as the browser does, by sending the component's trigger with the
next run.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.testing.v1 import AppTest

from studio.ui.library.gallery import TILES
from tests.support.env import ROOT

# --- pages ------------------------------------------------------------------------------------------

HOME = str(ROOT / "Home.py")
ADMIN_PAGE = "pages/admin_system.py"


def home() -> AppTest:
    app = AppTest.from_file(HOME, default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return app


def titles(app: AppTest) -> list[str]:
    return [title.value for title in app.title]


def registered(app: AppTest, page: str) -> bool:
    """Is `page` in this session's navigation? AppTest refuses to switch to unregistered pages."""
    try:
        app.switch_page(page)
    except ValueError:
        return False
    return True


def sign_in_as(app: AppTest, label: str) -> None:
    app.switch_page("pages/sign_in.py").run()
    next(button for button in app.button if button.label == label).click().run()
    assert not app.exception, app.exception


def signed_in(label: str = "Continue as demo user") -> AppTest:
    """Home.py with a session signed in through the development sign-in."""
    app = home()
    sign_in_as(app, label)
    return app


def me(app: AppTest) -> uuid.UUID:
    """The signed-in account's id."""
    account_id: uuid.UUID = app.session_state["account"].id
    return account_id


def visit(app: AppTest, page: str, **params: str) -> AppTest:
    """Open `page` with exactly these query parameters; no exception."""
    app.query_params.clear()
    for name, value in params.items():
        app.query_params[name] = value
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def texts(app: AppTest) -> str:
    """The page's text: markdown, captions, notices and titles."""
    parts: list[Any] = [*app.markdown, *app.caption, *app.info, *app.warning, *app.error, *app.title]
    return " ".join(str(part.value) for part in parts)


def press(app: AppTest, label: str) -> AppTest:
    """Click the button labelled `label`; no exception."""
    next(button for button in app.button if button.label == label).click().run()
    assert not app.exception, app.exception
    return app


# --- the gallery's tiles --------------------------------------------------------------------------------


def _component(app: AppTest) -> Any | None:
    found = [element for element in app.get("bidi_component") if element.key == TILES]
    return found[0] if found else None


def tile_data(app: AppTest) -> dict[str, Any]:
    """What the tiles show: {"layout", "selecting", "selected": [id], "tiles": [{id, url, label, ...}]}."""
    component = _component(app)
    return json.loads(component.proto.json) if component is not None else {"tiles": [], "selected": []}


def shown(app: AppTest) -> list[str]:
    """The ids of the images on screen, in order."""
    return [tile["id"] for tile in tile_data(app)["tiles"]]


def tile_urls(app: AppTest) -> list[str]:
    return [tile["url"] for tile in tile_data(app)["tiles"]]


def click_tile(app: AppTest, image_id: str) -> AppTest:
    """A click on the tile of `image_id` (any string: what a forged message could send)."""
    component = _component(app)
    assert component is not None, "no tiles on this page"
    states = app._tree.get_widget_states()
    trigger = states.widgets.add()
    trigger.id = _make_trigger_id(component.proto.id, "events")
    trigger.json_trigger_value = json.dumps([{"event": "clicked", "value": image_id}])
    app._run(states)
    assert not app.exception, app.exception
    return app
