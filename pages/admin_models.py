"""Models (admins): switch models on and off, set their credit cost, feature and describe them; each model's
jobs, success rate, median latency and credits over the last 30 days."""

import streamlit as st

from studio.errors import StudioError
from studio.services.admin import models
from studio.ui.shell import session
from studio.ui.shell.charts import pct, seconds
from studio.ui.shell.deps import services

admin = session.require_admin()
st.title("Models", anchor=False)
try:
    rows = models.models(services(), admin.id)
except StudioError as err:
    st.error(str(err))
    st.stop()
saved = st.session_state.pop("models.saved", None)
if saved:
    st.success(saved, icon=":material/check:")
st.caption(
    "A model switched off leaves the Generate page at once and new jobs for it are refused. Last 30 days:"
)
st.dataframe(
    [
        {
            "Model": r.name,
            "On": r.enabled,
            "Featured": r.featured,
            "Credits/image": r.credit_cost,
            "Jobs": r.stats.jobs if r.stats else 0,
            "Success": pct(r.stats.success_rate if r.stats else None),
            "p50": seconds(r.stats.p50_ms if r.stats else None),
            "Credits": r.stats.credits if r.stats else 0,
        }
        for r in rows
    ],
    hide_index=True,
    width="stretch",
)
for row in rows:
    label = f"{row.name} · {'on' if row.enabled else 'off'}"
    with st.expander(label, key=f"models.{row.endpoint}"), st.form(f"models.form.{row.endpoint}"):
        st.caption(
            f"`{row.endpoint}` · {row.category} · "
            f"provider price {row.price_micros / 1e6:.4f} $/{row.price_unit}"
        )
        enabled = st.checkbox("Enabled", value=row.enabled)
        featured = st.checkbox("Featured", value=row.featured)
        cost = st.number_input("Credits per standard image", min_value=1, step=1, value=row.credit_cost)
        description = st.text_area("Description", value=row.description)
        if st.form_submit_button("Save"):
            try:
                changed = models.update_model(
                    services(),
                    admin.id,
                    row.endpoint,
                    enabled=enabled,
                    featured=featured,
                    credit_cost=int(cost),
                    description=description,
                )
            except StudioError as err:
                st.error(str(err))
            else:
                st.session_state["models.saved"] = f"{row.name} saved." if changed else "Nothing changed."
                st.rerun()
