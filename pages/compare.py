"""Compare two to four images (`/compare?ids=a,b,...`): side by side, and a before/after slider for two
(an image and its parent first: what an upscale or an inpaint changed)."""

import uuid

import streamlit as st

from studio.domain.generation import operation_label
from studio.errors import StudioError
from studio.services.generation import iterate
from studio.services.library import lineage
from studio.ui.library.compare_slider import before_after
from studio.ui.shell import components, session
from studio.ui.shell.deps import services

account = session.require_account()
st.title("Compare", anchor=False)
st.page_link("pages/gallery.py", label="Gallery", icon=":material/arrow_back:")
wanted = [part for part in st.query_params.get("ids", "").split(",") if part][:4]
try:
    images = [iterate.source(services(), account.id, uuid.UUID(part)) for part in dict.fromkeys(wanted)]
except (StudioError, ValueError):
    st.warning("One of these images is not yours, or no longer exists.")
    st.stop()
if len(images) < 2:
    st.info("Choose two to four images to compare: select them in the gallery, or open an image and press "
            "Compare with parent.")  # fmt: skip
    st.stop()

if len(images) == 2:
    before, after = images
    if before.parent_id == after.id:  # the parent goes first, whichever order they came in
        before, after = after, before
    st.caption("Drag the divider, or use the arrow keys, to compare.")
    before_after(
        before.url, after.url, key="compare.slider",
        before_label=f"{operation_label(before.operation)} · {before.width}×{before.height}",
        after_label=f"{operation_label(after.operation)} · {after.width}×{after.height}",
    )  # fmt: skip
    images = [before, after]

columns = st.columns(len(images), gap="small")
for column, image in zip(columns, images, strict=True):
    with column:
        st.image(image.url, width="stretch")
        st.markdown(f"**{components.escape(operation_label(image.operation))}**")
        st.caption(
            components.escape(f"{lineage.model_name(image.model_endpoint)} · {image.width}×{image.height}")
        )
        st.caption(components.escape(components.excerpt(image.prompt, 120)))
        st.page_link("pages/image.py", label="Open", icon=":material/open_in_new:",
                     query_params={"id": str(image.id)})  # fmt: skip
