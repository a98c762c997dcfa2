"""The outbound policy (providers/outbound.py): which addresses user-given URLs may connect to."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from meetgraph.settings import Settings
from providers.outbound import Endpoint, InvalidAllowance, OutboundPolicy, embedded_ipv4, is_public

NOT_PUBLIC_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
NOT_PUBLIC_V6 = ["::1/128", "::/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32", "::ffff:0:0/96"]
PUBLIC = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]

v4 = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)
v6 = st.integers(min_value=0, max_value=2**128 - 1).map(ipaddress.IPv6Address)
ports = st.integers(min_value=1, max_value=65535)


def _inside(block: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    network = ipaddress.ip_network(block)
    return st.integers(min_value=0, max_value=network.num_addresses - 1).map(
        lambda offset: network.network_address + offset
    )


not_public = st.sampled_from(NOT_PUBLIC_V4 + NOT_PUBLIC_V6).flatmap(_inside)


def _wrapped(address: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    """IPv6 spellings of an IPv4 address: mapped, NAT64, 6to4."""
    value = int(address)
    return [
        ipaddress.IPv6Address(0xFFFF << 32 | value),
        ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | value),
        ipaddress.IPv6Address(0x2002 << 112 | value << 80),
    ]


@given(not_public, ports, st.booleans())
def test_a_non_public_address_is_refused_without_an_allowance(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, https: bool
) -> None:
    assert not is_public(address)
    assert not OutboundPolicy().allows(host=str(address), address=address, port=port, https=https)


@given(st.sampled_from(NOT_PUBLIC_V4).flatmap(_inside))
def test_ipv6_spellings_of_a_non_public_ipv4_address_are_not_public(address: ipaddress.IPv4Address) -> None:
    for spelled in _wrapped(address):  # type: ignore[arg-type]
        assert embedded_ipv4(spelled) == address
        assert not is_public(spelled), spelled


@given(v4)
def test_an_ipv6_spelling_is_never_more_public_than_the_ipv4_address(address: ipaddress.IPv4Address) -> None:
    for spelled in _wrapped(address):
        assert not is_public(spelled) or is_public(address)


@given(st.one_of(v4, v6))
def test_public_means_globally_routable_unicast(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if is_public(address):
        assert address.is_global and not address.is_multicast and not address.is_private
        assert not address.is_loopback and not address.is_link_local and not address.is_reserved


@pytest.mark.parametrize(
    "text",
    ["169.254.169.254", "192.0.0.8", "100.64.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1",
     "2002:7f00:1::", "::127.0.0.1", "fd00::1", "fe80::1", "0.0.0.0", "255.255.255.255", "239.1.1.1", "ff02::1"],
)  # fmt: skip
def test_addresses_the_fuzzer_tried_are_not_public(text: str) -> None:
    assert not is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_need_https(text: str) -> None:
    address = ipaddress.ip_address(text)
    policy = OutboundPolicy()
    assert policy.allows(host=text, address=address, port=443, https=True)
    assert not policy.allows(host=text, address=address, port=80, https=False)


@given(not_public, ports, st.booleans())
def test_inside_an_allowed_network_http_and_https_are_allowed(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, https: bool
) -> None:
    network = ipaddress.ip_network(f"{address}/{address.max_prefixlen - 4}", strict=False)
    policy = OutboundPolicy.parse(f"{network}")
    assert policy.allows(host=str(address), address=address, port=port, https=https)


@given(v4, st.sampled_from(["10.0.0.0/8", "192.168.0.0/16", "fd00::/8"]), ports, st.booleans())
def test_outside_the_allowed_networks_only_public_https_is_allowed(
    address: ipaddress.IPv4Address, networks: str, port: int, https: bool
) -> None:
    policy = OutboundPolicy.parse(networks)
    inside = policy.in_allowed_network(address)
    assert policy.allows(host=str(address), address=address, port=port, https=https) == (
        inside or (https and is_public(address))
    )


@given(not_public, ports, ports)
def test_an_allowed_endpoint_allows_its_port_only(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int, other: int
) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    policy = OutboundPolicy.parse(f"{host}:{port}")
    assert policy.allows(host=str(address), address=address, port=port, https=False)
    assert policy.allows(host=str(address), address=address, port=other, https=False) == (other == port)


def test_an_allowed_endpoint_by_name_matches_the_name_and_port() -> None:
    policy = OutboundPolicy.parse("LocalHost:8000")
    loopback = ipaddress.ip_address("127.0.0.1")
    assert policy.allows(host="localhost", address=loopback, port=8000, https=False)
    assert not policy.allows(host="localhost", address=loopback, port=8001, https=False)
    assert not policy.allows(host="evil.example", address=loopback, port=8000, https=False)


def test_one_refused_address_refuses_the_name() -> None:
    policy = OutboundPolicy()
    public, loopback = ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")
    assert policy.allows_all(host="a.example", addresses=[public], port=443, https=True)
    assert not policy.allows_all(host="a.example", addresses=[public, loopback], port=443, https=True)
    assert not policy.allows_all(host="a.example", addresses=[], port=443, https=True)


networks = st.one_of(
    st.tuples(v4, st.integers(8, 32)).map(lambda t: ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False)),
    st.tuples(v6, st.integers(16, 128)).map(lambda t: ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False)),
)
endpoints = st.builds(
    Endpoint,
    st.one_of(v4.map(str), v6.map(str), st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}", fullmatch=True)),
    ports,
)


@given(st.lists(networks, max_size=4), st.frozensets(endpoints, max_size=4))
def test_the_setting_text_round_trips(nets: list[ipaddress.IPv4Network], ends: frozenset[Endpoint]) -> None:
    policy = OutboundPolicy(tuple(nets), ends)
    assert OutboundPolicy.parse(str(policy)) == policy


@pytest.mark.parametrize(
    "text", ["10.0.0.0/33", "exchange.corp.example", "host:99999", "user@host:80", "[::1:80", "host:80/path", "::1:x"]
)
def test_a_malformed_allowance_is_refused(text: str) -> None:
    with pytest.raises(InvalidAllowance):
        OutboundPolicy.parse(f"10.0.0.0/8, {text}")


def test_the_empty_setting_allows_nothing_private() -> None:
    assert OutboundPolicy.parse(" , ") == OutboundPolicy()


def test_a_malformed_setting_stops_the_server_at_start() -> None:
    with pytest.raises(ValidationError, match="exchange_private_networks"):
        Settings(exchange_private_networks="10.0.0.0/8,exchange.corp.example", _env_file=None)  # type: ignore[call-arg]
