"""The reader's address: the peer, or what our trusted proxies say in X-Forwarded-For."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """Finds the reader behind a chain of proxies we run (the edge, a load balancer).

    Each proxy appends the address it was reached from to X-Forwarded-For, so the list is
    read from the right: hops that are our proxies are skipped, and the first that is not
    is the reader. Everything left of it was written by the reader and is not believed.
    """

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = tuple(networks)
        # IPv4 is checked on integers: this runs for every hit.
        self.ipv4 = tuple(
            (int(net.network_address), int(net.netmask))
            for net in self.networks
            if isinstance(net, ipaddress.IPv4Network)
        )
        self.ipv6 = tuple(net for net in self.networks if isinstance(net, ipaddress.IPv6Network))

    def client_address(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The reader's address, given the connection's peer and every X-Forwarded-For
        header line in the order received (several lines are one comma-separated list).

        A hop that is not an address ends the walk at the proxy that passed it on: nothing
        it reports can be believed.
        """
        address = canonical(peer)
        if address is None or not forwarded_for or not self.trusted(address):
            return address if address is not None else peer
        for line in reversed(forwarded_for):
            for hop in reversed(line.split(",")):
                if not hop.strip():
                    continue  # "a,,b" and trailing commas: empty members are not hops
                found = canonical(hop.strip())
                if found is None:
                    return address
                address = found
                if not self.trusted(address):
                    return address
        return address

    def trusted(self, address: str) -> bool:
        """Is this canonical address (see `canonical`) one of our proxies?"""
        if ":" not in address:
            value = int.from_bytes(socket.inet_pton(socket.AF_INET, address), "big")
            for net, mask in self.ipv4:  # noqa: SIM110 (a loop: any() over a generator costs 2x)
                if value & mask == net:
                    return True
            return False
        ip = ipaddress.IPv6Address(address)
        return any(ip in net for net in self.ipv6)


def canonical(text: str) -> str | None:
    """One spelling per address (IPv6 compressed, IPv4-mapped IPv6 as IPv4), or None when
    `text` is not an IP address. Dotted quads are strict: no "127.1", octal or hex forms."""
    if ":" not in text:
        try:
            socket.inet_pton(socket.AF_INET, text)
        except (OSError, ValueError):  # ValueError: a NUL or a lone surrogate in the text
            return None
        return text
    try:
        ip = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if ip.ipv4_mapped is not None:  # a dual-stack socket's view of an IPv4 peer
        return str(ip.ipv4_mapped)
    return ip.compressed
