"""The studio's entry script: restore who is signed in, then build the navigation for that role."""

import streamlit as st

from studio.ui.shell import components, navigation, session

account = session.restore()
if account is not None and st.session_state.get("sign_out"):  # the button below, clicked
    # Before anything is drawn and before st.navigation: this same run shows the signed-out app (and no
    # st.rerun can drop the cookie deletion).
    session.sign_out()
    account = None
if account is not None:
    with st.sidebar:
        st.caption(f"Signed in as **{components.escape(account.name)}** · {account.role.value}")
        st.button("Sign out", icon=":material/logout:", key="sign_out")

# One call per run, once the account is known: the signed-out pages are short forms, read best narrow.
st.set_page_config(
    page_title="the studio", page_icon=str(navigation.ICON), layout="wide" if account else "centered"
)
components.show_flash()  # what the last action did, when it reran the app
notice = session.notice()  # why this browser was just signed out, shown once above the page
if notice:
    st.info(notice, icon=":material/info:")
# Every page listed: an admin's 18 would otherwise fold after ten behind "View more".
st.navigation(navigation.pages_for(account), expanded=True).run()
