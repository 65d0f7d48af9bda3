"""The billing page's pieces: the plan in force, the plans on offer, and the ways to Stripe's pages.

Stripe's pages open from link buttons: a click first asks the service for the page (a Checkout session
or a portal session), then the link to it appears. Nothing is bought by a click here.
"""

from __future__ import annotations

import uuid

import streamlit as st

from studio.errors import StudioError
from studio.services.billing import checkout, overview
from studio.services.billing.overview import Billing, PlanOffer
from studio.ui.shell.deps import services

BILLING_PAGE = "pages/billing.py"
_LINKS = "billing.links"  # destination name -> URL, made by a click in this session


def upgrade_link(label: str = "See plans and upgrade") -> None:
    st.page_link(BILLING_PAGE, label=label, icon=":material/upgrade:")


def out_of_credits(message: str) -> None:
    """Every refusal for want of credits: the reason, when they renew, and the way to more."""
    st.warning(message, title="Not enough credits", icon=":material/hourglass_empty:")
    upgrade_link()


def plan_notice(user_id: uuid.UUID) -> None:
    """A failed payment or a cancellation that takes effect at the end of the period."""
    notice = overview.notice(services(), user_id)
    if notice:
        st.warning(notice, icon=":material/credit_card_off:")


def confirm_return(user_id: uuid.UUID) -> None:
    """Back from Checkout (?checkout=<session id>): Stripe is asked about it, once per session."""
    session_id = st.query_params.get("checkout")
    if not session_id:
        return
    done: dict[str, str] = st.session_state.setdefault("billing.confirmed", {})
    if session_id not in done:
        try:
            done[session_id] = checkout.confirm_checkout(services(), user_id, session_id)
        except StudioError as err:
            done[session_id] = f"!{err}"
    message = done[session_id]
    if message.startswith("!"):
        st.error(message[1:], icon=":material/error:")
    else:
        st.success(message, icon=":material/check_circle:")


def summary(state: Billing) -> None:
    with st.container(horizontal=True):
        st.metric("Plan", state.plan_name, border=True)
        st.metric("Credits each cycle", f"{state.monthly_credits:,}", border=True)
        st.metric("Renews on" if not state.cancel_at_period_end else "Ends on", f"{state.renews_at:%d %B %Y}",
                  border=True)  # fmt: skip
    if state.notice:
        st.warning(state.notice, icon=":material/credit_card_off:")


def _open(name: str, make: str, user_id: uuid.UUID, plan_code: str | None = None) -> None:
    """on_click: ask for Stripe's page; its link shows on the next run (or why it could not be made)."""
    links: dict[str, str] = st.session_state.setdefault(_LINKS, {})
    try:
        if make == "checkout" and plan_code:
            links[name] = checkout.start_checkout(services(), user_id, plan_code)
        else:
            links[name] = checkout.portal_url(services(), user_id)
    except StudioError as err:
        links[name] = f"!{err}"


def _link(name: str, label: str) -> bool:
    """The link made by a click, if any; True when there was one (or its error)."""
    url = st.session_state.get(_LINKS, {}).get(name)
    if not url:
        return False
    if url.startswith("!"):
        st.error(url[1:], icon=":material/error:")
        return False
    st.link_button(label, url, type="primary", icon=":material/open_in_new:", width="stretch")
    return True


def _price(offer: PlanOffer) -> str:
    return f"${offer.price_cents / 100:,.0f} / month"


def offers(state: Billing, user_id: uuid.UUID) -> None:
    if not state.payments_on:
        st.info(checkout.PAYMENTS_OFF, icon=":material/info:")
    columns = st.columns(len(state.offers) or 1)
    for column, offer in zip(columns, state.offers, strict=False):
        with column.container(border=True, height="stretch"):
            st.markdown(f"**{offer.name}**")
            st.markdown(f"### {_price(offer)}")
            st.caption(f"{offer.monthly_credits:,} credits every month · never any overage")
            if offer.current:
                st.badge("Your plan", icon=":material/check:", color="green")
            elif state.paid or not offer.purchasable:
                continue  # changes between paid plans, and back to free, are made in Stripe's portal
            elif not _link(f"checkout:{offer.code}", "Continue to secure checkout"):
                st.button(
                    f"Choose {offer.name}", key=f"billing.choose.{offer.code}", width="stretch",
                    on_click=_open, args=(f"checkout:{offer.code}", "checkout", user_id, offer.code),
                )  # fmt: skip
    if state.payments_on and state.has_customer and not _link("portal", "Open the billing portal"):
        st.button(
            "Manage billing", icon=":material/credit_card:",
            help="Change or cancel your plan, update your card, see invoices (on Stripe)",
            on_click=_open, args=("portal", "portal", user_id),
        )  # fmt: skip
