import ipaddress

import pytest
from django.db import transaction

from tests.support.factories import make_endpoint, make_terminal_order
from webhooks import services, transport
from webhooks.models import WebhookDelivery

BLOCKED = {
    "IPv4 loopback": "127.0.0.1",
    "IPv4 loopback, not .1": "127.1.2.3",
    "IPv6 loopback": "::1",
    "private 10/8": "10.0.0.1",
    "private 172.16/12": "172.16.5.4",
    "private 192.168/16": "192.168.1.1",
    "link-local / cloud metadata": "169.254.169.254",
    "IPv6 link-local": "fe80::1",
    "unique-local fc00::/7": "fc00::1",
    "unique-local fd00::/8": "fd12:3456::1",
    "shared 100.64/10": "100.64.0.1",
    "unspecified IPv4": "0.0.0.0",
    "unspecified IPv6": "::",
    "IPv4 multicast": "224.0.0.1",
    "IPv6 multicast": "ff02::1",
    "reserved 240/4": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "benchmarking 198.18/15": "198.18.0.1",
    "documentation 192.0.2/24": "192.0.2.10",
    "IPv4-mapped loopback": "::ffff:127.0.0.1",
    "IPv4-mapped private": "::ffff:10.0.0.1",
    "IPv4-mapped metadata": "::ffff:169.254.169.254",
    "IPv4-compatible loopback": "::127.0.0.1",
    "NAT64 of private": "64:ff9b::a00:1",
    "NAT64 of loopback": "64:ff9b::7f00:1",
    "local-use NAT64": "64:ff9b:1::1",
    "6to4 of private": "2002:a00:1::1",
    "IPv6 documentation": "2001:db8::1",
    "site-local": "fec0::1",
}
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.fixture
def connection_spy(monkeypatch):
    """Replaces the only function that opens connections; records whether it ran."""
    calls = []

    def never_connect(**kwargs):
        calls.append(kwargs)
        raise AssertionError("a connection was opened to a refused address")

    monkeypatch.setattr(transport, "post_pinned", never_connect)
    return calls


def deliver_to(org, url):
    make_endpoint(org, url)
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(org))
    delivery = event.deliveries.get()
    attempt = services.delivery_attempt(delivery_id=delivery.id)
    delivery.refresh_from_db()
    return delivery, attempt


@pytest.mark.parametrize("address", BLOCKED.values(), ids=BLOCKED.keys())
def test_it_refuses_each_non_public_address_class(
    address, alice_org, private_targets_refused, monkeypatch, connection_spy
):
    resolved = []

    def resolve(hostname, port):
        resolved.append(hostname)
        return [ipaddress.ip_address(address)]

    monkeypatch.setattr(transport, "resolve_host", resolve)

    delivery, attempt = deliver_to(alice_org, "https://hooks.example.com/amcore")

    assert resolved == ["hooks.example.com"]
    assert connection_spy == []
    assert attempt.status_code is None and attempt.latency_ms is None
    assert attempt.error == "refused: target address not allowed"
    assert str(ipaddress.ip_address(address)) not in attempt.error
    assert delivery.status == WebhookDelivery.Status.FAILED_RETRYING


@pytest.mark.parametrize("address", PUBLIC)
def test_it_accepts_public_addresses(address):
    assert transport.is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", BLOCKED.values(), ids=BLOCKED.keys())
def test_it_classifies_every_blocked_address_as_non_public(address):
    assert not transport.is_public_address(ipaddress.ip_address(address))


def test_it_refuses_a_name_with_one_public_and_one_private_address(
    alice_org, private_targets_refused, monkeypatch, connection_spy
):
    monkeypatch.setattr(
        transport,
        "resolve_host",
        lambda hostname, port: [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.1.1.1")],
    )

    _, attempt = deliver_to(alice_org, "https://mixed.example.com/")

    assert attempt.error == "refused: target address not allowed"
    assert connection_spy == []


def test_it_refuses_localhost_resolved_for_real_and_the_receiver_gets_nothing(
    alice_org, receiver, private_targets_refused
):
    # No patching: "localhost" really resolves to 127.0.0.1 / ::1, where a receiver listens.
    delivery, attempt = deliver_to(alice_org, receiver.url(host="localhost", scheme="https"))

    assert attempt.error == "refused: target address not allowed"
    assert "127.0.0.1" not in delivery.last_error
    assert receiver.requests == []
    assert delivery.status == WebhookDelivery.Status.FAILED_RETRYING


def test_it_refuses_a_loopback_literal_and_the_receiver_gets_nothing(
    alice_org, receiver, private_targets_refused
):
    _, attempt = deliver_to(alice_org, receiver.url(scheme="https"))

    assert attempt.error == "refused: target address not allowed"
    assert receiver.requests == []


def test_it_refuses_plain_http_when_private_targets_are_refused(
    alice_org, receiver, private_targets_refused, connection_spy
):
    _, attempt = deliver_to(alice_org, "http://hooks.example.com/")

    assert attempt.error == "refused: plain http:// is only allowed in development"
    assert connection_spy == []


def test_it_records_a_name_that_does_not_resolve(
    alice_org, private_targets_refused, monkeypatch, connection_spy
):
    def no_such_name(hostname, port):
        raise transport.TargetRefused(
            f"could not resolve {hostname}: no such name", public=f"could not resolve {hostname}"
        )

    monkeypatch.setattr(transport, "resolve_host", no_such_name)

    _, attempt = deliver_to(alice_org, "https://nowhere.example.com/")

    assert attempt.error == "could not resolve nowhere.example.com"
    assert connection_spy == []


def test_it_connects_to_the_checked_address_with_the_original_host_header(
    alice_org, receiver, private_targets_allowed, monkeypatch
):
    # The name resolves once, to the receiver's address; the request goes there, carrying the
    # name in Host, and nothing resolves the name a second time.
    resolved = []

    def resolve(hostname, port):
        resolved.append(hostname)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(transport, "resolve_host", resolve)

    delivery, attempt = deliver_to(alice_org, f"http://hooks.example.test:{receiver.port}/in")

    assert attempt.status_code == 200
    assert resolved == ["hooks.example.test"]
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.example.test:{receiver.port}"
    assert delivery.status == WebhookDelivery.Status.DELIVERED


def test_it_tries_the_next_checked_address_when_one_refuses_the_connection(
    alice_org, receiver, private_targets_allowed, monkeypatch
):
    closed = ipaddress.ip_address("127.0.0.2")  # nothing listens there on the receiver's port
    monkeypatch.setattr(
        transport,
        "resolve_host",
        lambda hostname, port: [closed, ipaddress.ip_address("127.0.0.1")],
    )

    delivery, attempt = deliver_to(alice_org, f"http://two.example.test:{receiver.port}/in")

    assert attempt.status_code == 200
    assert len(receiver.requests) == 1
