"""The address guard: every non-public class refused, IPv4 and IPv6 alike, unless allowed."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.media.fetch import forbidden_reason

pytestmark = pytest.mark.unit

FORBIDDEN_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
FORBIDDEN_V6 = ["::1/128", "::/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32"]
forbidden_v4 = st.sampled_from(FORBIDDEN_V4).flatmap(lambda net: st.ip_addresses(network=net))
forbidden_v6 = st.sampled_from(FORBIDDEN_V6).flatmap(lambda net: st.ip_addresses(network=net))
NOT_PUBLIC_V4 = [
    ip_network(net)
    for net in [
        *FORBIDDEN_V4,
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
    ]
]
public_v4 = (
    st.integers(0, 2**32 - 1)
    .map(IPv4Address)
    .filter(lambda a: a.is_global and not any(a in net for net in NOT_PUBLIC_V4))
)
PROPERTY = settings(max_examples=100, deadline=None)


def mapped(address: IPv4Address) -> IPv6Address:
    return IPv6Address(f"::ffff:{address}")


@PROPERTY
@given(forbidden_v4)
def test_every_non_public_ipv4_address_is_refused(address: IPv4Address) -> None:
    assert forbidden_reason(address, []) is not None


@PROPERTY
@given(forbidden_v6)
def test_every_non_public_ipv6_address_is_refused(address: IPv6Address) -> None:
    assert forbidden_reason(address, []) is not None


@PROPERTY
@given(forbidden_v4)
def test_an_ipv4_address_inside_ipv6_is_judged_as_itself(address: IPv4Address) -> None:
    assert forbidden_reason(mapped(address), []) is not None
    assert (
        forbidden_reason(
            IPv6Address(f"2002:{address.packed.hex()[:4]}:{address.packed.hex()[4:]}::1"), []
        )
        is not None
    )


@PROPERTY
@given(public_v4)
def test_public_addresses_are_fetched(address: IPv4Address) -> None:
    assert forbidden_reason(address, []) is None
    assert forbidden_reason(mapped(address), []) is None


@PROPERTY
@given(forbidden_v4)
def test_an_allowed_network_opens_exactly_itself(address: IPv4Address) -> None:
    own = ip_network(f"{address}/32")
    assert forbidden_reason(address, [own]) is None
    assert forbidden_reason(mapped(address), [own]) is None
    neighbour = IPv4Address((int(address) + 1) % 2**32)
    if neighbour not in own and forbidden_reason(neighbour, []) is not None:
        assert forbidden_reason(neighbour, [own]) is not None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("239.1.2.3", "multicast"),
    ],
)
def test_the_reason_names_the_class_of_the_address(address: str, kind: str) -> None:
    reason = forbidden_reason(ip_address(address), [])

    assert reason is not None
    assert kind in reason
