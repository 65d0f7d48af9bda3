"""Rate limits where abuse costs: generation submits per account, sign-ups per address, views of a share
link per address. A refused attempt says how long to wait, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.domain.parameters import Request
from studio.domain.sharing import ShareTarget
from studio.errors import RateLimited
from studio.services.accounts import signup
from studio.services.billing import ledger
from studio.services.context import Services
from studio.services.generation.submissions import start_generation
from studio.services.library import sharing
from tests.support.builders import add_image, new_user
from tests.support.services import embedded_settings, installed

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Services]:
    settings = embedded_settings(
        tmp_path / "data", rate_limit_generations="2/minute", rate_limit_signups="2/hour",
        rate_limit_share_views="2/minute", require_email_verification=False,
    )  # fmt: skip
    with installed(settings) as services:
        yield services


def test_generation_submits_are_limited_per_account(limited: Services) -> None:
    owner, other = new_user(limited, credits=20), new_user(limited, credits=20)
    request = Request("fal-ai/flux/schnell", "a lighthouse", params={"image_size": "square"})
    first = start_generation(limited, owner, request, "k1")
    start_generation(limited, owner, request, "k2", again=True)
    assert start_generation(limited, owner, request, "k1").id == first.id  # the same key: no new submit
    with pytest.raises(RateLimited, match=r"Too many generations in a short time: try again in \d+ s"):
        start_generation(limited, owner, request, "k3", again=True)
    with limited.uow() as uow:
        assert ledger.balance(uow.session, owner) == 20 - 2  # the refused one reserved nothing
    start_generation(limited, other, request, "k1")  # every account its own limit


def test_sign_ups_are_limited_per_address(limited: Services) -> None:
    def register(name: str, address: str) -> None:
        signup.register(
            limited, email=f"{name}@example.org", username=name, name=name.title(), password=PASSWORD,
            repeat=PASSWORD, address=address,
        )  # fmt: skip

    register("ana", "198.51.100.7")
    register("bea", "198.51.100.7")
    with pytest.raises(RateLimited, match="new accounts from this address"):
        register("cai", "198.51.100.7")
    register("cai", "203.0.113.9")


def test_views_of_a_share_link_are_limited_per_address(limited: Services) -> None:
    owner = new_user(limited)
    image = add_image(limited, owner, files=True)
    token = sharing.create_share(limited, owner, ShareTarget.IMAGE, image).token
    for _ in range(2):
        sharing.open_share(limited, token, address="198.51.100.7")
    with pytest.raises(RateLimited, match="views of this link"):
        sharing.open_share(limited, token, address="198.51.100.7")
    sharing.open_share(limited, token, address="203.0.113.9")
    sharing.open_share(limited, token, address="198.51.100.7", count_view=False)  # a rerun is no view
    assert sharing.shares_of(limited, owner)[0].view_count == 3
