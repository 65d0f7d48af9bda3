"""The sections of the Account page: profile, security, two-factor, preferences and your data."""

from __future__ import annotations

import segno
import streamlit as st

from studio.domain.accounts import PASSWORD_POLICY, Account
from studio.errors import InvalidForm, StudioError
from studio.services.accounts import credentials, deletion, export, profile, sessions, signup, two_factor
from studio.services.generation import catalogue
from studio.ui.shell import components, session
from studio.ui.shell.deps import services

_TOTP_URI = "account.totp_uri"
_RECOVERY = "account.recovery_codes"


def verification_banner(account: Account) -> None:
    if account.email_verified:
        return
    required = services().settings.require_email_verification
    with st.container(border=True):
        st.warning(
            f"Confirm **{components.escape(account.email)}** with the link we mailed you"
            + (" to start generating images." if required else "."),
            icon=":material/mark_email_unread:",
        )
        if st.button("Send the link again", icon=":material/send:", key="account.resend"):
            try:
                signup.resend_verification(services(), account.id)
            except StudioError as err:
                components.refusal(err)
            else:
                st.success("A new link is on its way; it works for 48 hours.")


def profile_section(account: Account) -> None:
    left, right = st.columns([1, 3], gap="large")
    with left:
        url = profile.avatar_url(services(), account)
        if url:
            st.image(url, width=128)
        else:
            st.markdown("# :material/account_circle:")
        st.markdown(f"**{components.escape(account.username)}**")
        st.caption(f"Role: {account.role.value} · member since {account.created_at:%d %B %Y}")
    with right:
        with st.form("account.name_form"):
            name = st.text_input("Name", value=account.name, max_chars=10_000)
            if st.form_submit_button("Save name"):
                try:
                    profile.update_name(services(), account.id, name)
                except StudioError as err:
                    components.refusal(err)
                else:
                    st.success("Saved.")
        with st.form("account.avatar_form", clear_on_submit=True):
            upload = st.file_uploader(
                "Picture (PNG, JPEG, WebP or GIF)",
                type=["png", "jpg", "jpeg", "webp", "gif"],
                max_upload_size=profile.AVATAR_MAX_BYTES // (1024 * 1024),
            )
            columns = st.columns(2)
            save = columns[0].form_submit_button("Upload picture", icon=":material/upload:")
            remove = columns[1].form_submit_button("Remove picture", disabled=account.avatar_key is None)
        if save:
            try:
                if upload is None:
                    raise InvalidForm(["Choose a picture first."])
                profile.set_avatar(services(), account.id, upload.getvalue())
            except StudioError as err:
                components.refusal(err)
            else:
                st.rerun()
        if remove:
            profile.remove_avatar(services(), account.id)
            st.rerun()
        with st.form("account.email_form", clear_on_submit=True):
            st.markdown(f"Email: **{components.escape(account.email)}**"
                        + ("" if account.email_verified else " (not confirmed yet)"))  # fmt: skip
            new_email = st.text_input("New email address", max_chars=320, autocomplete="email")
            password = st.text_input(
                "Your password", type="password", max_chars=200, autocomplete="current-password"
            )
            if st.form_submit_button("Change email"):
                try:
                    profile.request_email_change(services(), account.id, new_email, password)
                except StudioError as err:
                    components.refusal(err)
                else:
                    st.success(
                        "We sent a link to the new address. Your account keeps its current address until "
                        "you open it."
                    )


def security_section(account: Account) -> None:
    with st.form("account.password_form", clear_on_submit=True):
        st.markdown("**Change password**")
        current = st.text_input(
            "Current password", type="password", max_chars=200, autocomplete="current-password"
        )
        new = st.text_input(
            "New password", type="password", max_chars=200, autocomplete="new-password", help=PASSWORD_POLICY
        )
        repeat = st.text_input(
            "Repeat the new password", type="password", max_chars=200, autocomplete="new-password"
        )
        if st.form_submit_button("Change password", type="primary"):
            try:
                updated = credentials.change_password(services(), account.id, current, new, repeat)
            except StudioError as err:
                components.refusal(err)
            else:
                session.keep_session(updated)
                st.success("Your password is changed. Every other session was signed out.")
    st.markdown("**Sessions**")
    st.caption("Signed in on a shared or lost device? End every session, this one included.")
    if st.button("Sign out everywhere", icon=":material/devices_off:", key="account.everywhere"):
        sessions.sign_out_everywhere(services(), account.id)
        st.rerun()  # the next run finds the session revoked and signs this browser out too


def two_factor_section(account: Account) -> None:
    codes = st.session_state.pop(_RECOVERY, None)
    if codes:
        st.success("Two-factor sign-in is on. Keep these recovery codes somewhere safe; each works once and "
                   "they are shown only now.")  # fmt: skip
        st.code("\n".join(codes), language=None)
    if account.two_factor:
        left = two_factor.recovery_codes_left(services(), account.id)
        st.markdown(f":material/verified_user: Two-factor sign-in is **on** · {left} recovery codes left")
        with st.form("account.totp_off"):
            password = st.text_input("Your password", type="password", max_chars=200)
            if st.form_submit_button("Turn two-factor off"):
                try:
                    two_factor.disable(services(), account.id, password)
                except StudioError as err:
                    components.refusal(err)
                else:
                    st.rerun()
        return
    st.caption("Ask for a code from an authenticator app (such as Aegis, 1Password or Google Authenticator) "
               "at each sign-in.")  # fmt: skip
    uri = st.session_state.get(_TOTP_URI)
    if uri is None:
        if st.button("Set up two-factor sign-in", icon=":material/qr_code_2:", key="account.totp_start"):
            try:
                st.session_state[_TOTP_URI] = two_factor.begin_enrolment(services(), account.id)
            except StudioError as err:
                components.refusal(err)
            else:
                st.rerun()
        return
    st.image(segno.make(uri, error="m").png_data_uri(scale=5, border=2), width=220)
    with st.expander("Can't scan? Enter the key by hand"):
        st.code(uri.split("secret=")[1].split("&")[0], language=None)
    with st.form("account.totp_confirm"):
        code = st.text_input("The 6-digit code your app shows", max_chars=8, autocomplete="one-time-code")
        if st.form_submit_button("Turn two-factor on", type="primary"):
            try:
                st.session_state[_RECOVERY] = two_factor.confirm_enrolment(services(), account.id, code)
            except StudioError as err:
                components.refusal(err)
            else:
                st.session_state.pop(_TOTP_URI, None)
                st.rerun()


def preferences_section(account: Account) -> None:
    models = catalogue.generators(services())
    names = {spec.endpoint_id: spec.name for spec in models}
    saved = profile.defaults(services(), account.id)
    saved = saved if saved is not None and saved.model in names else None  # its model was switched off
    st.caption(
        "The Generate page opens with these. To keep the model, style and settings you are using, press "
        "**Save as my defaults** on the Generate page."
    )
    with st.form("account.defaults"):
        options = ["", *names]
        chosen = st.selectbox(
            "Default model",
            options,
            index=options.index(saved.model) if saved else 0,
            format_func=lambda endpoint: names.get(endpoint, "The first model in the list"),
        )
        if st.form_submit_button("Save"):
            profile.set_default_model(services(), account.id, chosen or None)
            st.rerun()
    if saved and saved.params:
        st.caption("Saved settings: " + ", ".join(f"{k} = {v}" for k, v in sorted(saved.params.items())))
    st.caption("Light or dark: Streamlit's own menu (⋮ → Settings) keeps that choice in each browser.")


def data_section(account: Account) -> None:
    st.markdown("**Export my data**")
    st.caption("A ZIP with your account, jobs, images and credit history (JSON) and every image file.")
    latest = export.latest_export(services(), account.id)
    if latest is not None and latest.status == "ready" and latest.url:
        size = (latest.size_bytes or 0) / 1e6
        st.link_button(
            f"Download the export of {latest.created_at:%d %b %Y %H:%M} ({size:.1f} MB)",
            latest.url,
            icon=":material/download:",
        )
    elif latest is not None and latest.status == "pending":
        st.info("Your export is being prepared; this page shows the download when it is ready.")
    elif latest is not None and latest.status == "failed":
        st.warning(f"The last export failed: {latest.error}. Try again.")
    if st.button("Prepare a new export", icon=":material/archive:", key="account.export",
                 disabled=latest is not None and latest.status == "pending"):  # fmt: skip
        try:
            export.request_export(services(), account.id)
        except StudioError as err:
            components.refusal(err)
        else:
            st.rerun()
    st.divider()
    st.markdown("**Delete my account**")
    st.caption("Your images and files are removed for good; the credit history is kept without your details.")
    with st.form("account.delete"):
        confirmation = st.text_input(f"Type your username, {account.username}, to confirm", max_chars=64)
        password = (
            st.text_input("Your password", type="password", max_chars=200) if account.has_password else None
        )
        if st.form_submit_button("Delete my account", type="primary", icon=":material/delete_forever:"):
            try:
                deletion.delete_account(services(), account.id, confirmation=confirmation, password=password)
            except StudioError as err:
                components.refusal(err)
            else:
                st.rerun()  # the session is revoked: the next run signs this browser out
