"""Edit an image (`/edit?id=...`): inpaint a drawn mask, outpaint beyond the borders, or redraw it with
image-to-image; or upload an image to start from."""

import uuid

import streamlit as st

from studio.errors import StudioError
from studio.services.generation import inputs, iterate
from studio.ui.generation import edit_views, iterate_actions
from studio.ui.shell import session
from studio.ui.shell.deps import services

account = session.require_account()
st.title("Edit", anchor=False)
raw = st.query_params.get("id", "")
try:
    image_id = uuid.UUID(raw) if raw else None
except ValueError:
    image_id = None
if image_id is None:
    st.caption("Upload an image to edit, upscale or start from, or open one of yours and press Edit.")
    upload = st.file_uploader(
        "Image", type=["png", "jpg", "jpeg", "webp"], key="edit.upload",
        help="PNG, JPEG or WebP, up to 20 MB and 40 megapixels; kept without its metadata",
    )  # fmt: skip
    if upload is not None:
        try:
            new_id = inputs.upload(services(), account.id, upload.getvalue())
        except StudioError as err:
            st.error(str(err))
        else:
            st.query_params["id"] = str(new_id)
            st.rerun()
    st.stop()
try:
    source = iterate.source(services(), account.id, image_id)
except StudioError as err:
    st.warning(str(err))
    st.stop()

st.page_link(
    "pages/image.py", label="Back to the image", icon=":material/arrow_back:", query_params={"id": raw}
)
inpaint, outpaint, redraw = st.tabs(["Inpaint", "Outpaint", "Image to image"])
with inpaint:
    edit_views.inpaint(account.id, source)
with outpaint:
    edit_views.outpaint(account.id, source)
with redraw:
    edit_views.image_to_image(account.id, source)
iterate_actions.started(account.id)
