"""The reader's address behind our proxies (services/counter/proxies.py): fast, no servers."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.counter.proxies import Network, TrustedProxies, canonical

pytestmark = pytest.mark.unit  # pure logic: no server, no browser

NETWORKS: list[Network] = [
    ipaddress.ip_network(n) for n in ("127.0.0.1/32", "::1/128", "10.0.0.0/8", "fd00::/8")
]
PROXIES = TrustedProxies(NETWORKS)
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_ours(ip: IP) -> bool:
    return any(ip.version == net.version and ip in net for net in NETWORKS)


trusted_hops = st.one_of(
    st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="fd00::/8"),
    st.sampled_from([ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]),
)
readers = st.ip_addresses().filter(lambda ip: not is_ours(ip) and canonical(str(ip)) == str(ip))
# What a reader may write in its own X-Forwarded-For: anything, addresses of our proxies too.
spoofed = st.lists(
    st.one_of(st.text(max_size=30), trusted_hops.map(str), readers.map(str)), max_size=4
)


def spelled(ip: IP, data: st.DataObject) -> str:
    """One of the ways a proxy may write an address: IPv6 expanded or compressed, any case."""
    if ip.version == 4:
        return str(ip)
    text = data.draw(st.sampled_from([ip.compressed, ip.exploded]))
    return text.upper() if data.draw(st.booleans()) else text


@st.composite
def header_lines(draw: st.DrawFn, hops: list[str]) -> list[str]:
    """`hops` as a proxy chain writes them: split over any number of lines, any spacing."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(hops) - 1)), max_size=3)))
    lines, start = [], 0
    for cut in [*cuts, len(hops)]:
        if hops[start:cut]:
            sep = draw(st.sampled_from([",", ", ", " , "]))
            lines.append(sep.join(hops[start:cut]))
        start = cut
    return lines


@given(st.data(), readers, spoofed, st.lists(trusted_hops, min_size=1, max_size=4))
def test_the_reader_is_found_whatever_it_wrote_in_front(
    data: st.DataObject, reader: IP, forged: list[str], chain: list[IP]
) -> None:
    """Proxies we run each append who reached them; the last is the connection's peer."""
    *inner, peer = chain
    hops = [*forged, spelled(reader, data), *(spelled(ip, data) for ip in inner)]
    lines = data.draw(header_lines(hops))
    assert PROXIES.client_address(str(peer), lines) == str(reader)


@given(readers, st.lists(st.text(max_size=40), max_size=5))
def test_a_peer_that_is_not_our_proxy_is_the_reader_whatever_it_sends(
    peer: IP, lines: list[str]
) -> None:
    assert PROXIES.client_address(str(peer), lines) == str(peer)


@given(
    st.one_of(trusted_hops.map(str), st.text(max_size=20)),
    st.lists(st.text(max_size=60), max_size=6),
)
def test_garbage_never_raises_and_never_becomes_the_reader(peer: str, lines: list[str]) -> None:
    found = PROXIES.client_address(peer, lines)
    assert found == peer or canonical(found) == found


@given(st.ip_addresses(v=4))
def test_an_ipv4_mapped_peer_is_its_ipv4_address(ip: ipaddress.IPv4Address) -> None:
    """A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; the edge on 127.0.0.1 is ours."""
    mapped = f"::ffff:{ip}"
    assert canonical(mapped) == str(ip)
    assert PROXIES.client_address(mapped, ["203.0.113.7"]) == (
        "203.0.113.7" if is_ours(ip) else str(ip)
    )


@given(st.ip_addresses())
def test_trust_agrees_with_the_standard_library(ip: IP) -> None:
    address = canonical(str(ip))
    assert address is not None
    assert PROXIES.trusted(address) == is_ours(ipaddress.ip_address(address))


def test_loose_spellings_of_loopback_are_not_our_proxy() -> None:
    """inet_aton would read "127.1" and "0x7f.0.0.1" as 127.0.0.1: a reader could pass for
    the edge. They are not addresses at all here, so the walk stops at the hop before."""
    for loose in ("127.1", "0x7f.0.0.1", "0177.0.0.1", "127.0.0.01", " 127.0.0.1x"):
        assert canonical(loose) is None
        assert PROXIES.client_address("127.0.0.1", [f"203.0.113.5, {loose}"]) == "127.0.0.1"


def test_one_reader_has_one_spelling() -> None:
    """Dedupe and uniques hash the address: two spellings of one reader must not count twice."""
    spellings = ["2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"]
    assert {PROXIES.client_address("127.0.0.1", [s]) for s in spellings} == {"2001:db8::1"}
    assert PROXIES.client_address("::1", ["198.51.100.4,", " ,10.1.2.3"]) == "198.51.100.4"
