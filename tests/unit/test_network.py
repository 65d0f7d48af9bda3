"""Who is asking behind the trusted proxies, and the settings that say who they are."""

from __future__ import annotations

import pytest

from studio.domain.network import client_address, is_trusted, networks
from studio.settings import Settings

PROXIES = networks("10.0.0.1, 172.16.0.0/12")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", None, "203.0.113.5"),  # no proxy
        ("203.0.113.5", "198.51.100.7", "203.0.113.5"),  # an untrusted peer cannot say who it forwards
        ("10.0.0.1", "198.51.100.7", "198.51.100.7"),  # the proxy says who the client is
        ("10.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # what the client wrote to the left is not it
        ("172.20.0.3", "198.51.100.7, 10.0.0.1", "198.51.100.7"),  # two proxies in a row
        ("10.0.0.1", "10.0.0.1", "10.0.0.1"),  # only proxies
        ("10.0.0.1", None, "10.0.0.1"),
        (None, "198.51.100.7", None),
    ],
)
def test_the_client_is_the_first_address_no_trusted_proxy_wrote(
    peer: str | None, forwarded: str | None, expected: str | None
) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


def test_trust_needs_a_listed_proxy() -> None:
    assert is_trusted("172.31.255.254", PROXIES)
    assert not is_trusted("172.32.0.1", PROXIES)
    assert not is_trusted("not an address", PROXIES)
    assert not is_trusted("10.0.0.1", [])


def test_the_settings_refuse_what_is_not_an_address_or_a_rate() -> None:
    settings = Settings(_env_file=None, trusted_proxies="10.0.0.1,proxy.local", rate_limit_signups="lots")
    problems = " ".join(settings.problems())
    assert "TRUSTED_PROXIES: 'proxy.local' is not an address or a network" in problems
    assert "RATE_LIMIT_SIGNUPS must be rates like 30/minute;600/hour" in problems
    assert Settings(_env_file=None, trusted_proxies="10.0.0.0/8").proxies == networks("10.0.0.0/8")
