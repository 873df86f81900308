"""Sending one webhook POST without letting it reach our own network (API.md §5).

SSRF defence in three steps, all at send time (a DNS name can point anywhere by then):
1. `resolve_host` resolves the URL's hostname once.
2. `refuse_non_public` refuses the delivery if ANY resolved address is not a public unicast
   address (loopback, private, link-local incl. 169.254.169.254, unique-local, shared 100.64/10,
   multicast, reserved, unspecified, documentation, and the IPv6 forms that embed an IPv4
   address: IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4).
   Refusing on any (not only the first) keeps a name with one public and one private record
   from being used to reach the private one.
3. `post_pinned` connects to a checked address itself, never to the hostname, so there is no
   second DNS lookup for an attacker to answer differently (DNS rebinding). urllib3 is told the
   original hostname for the TLS SNI and certificate check (`server_hostname`,
   `assert_hostname`) and we send the original `Host` header, so the receiving server sees an
   ordinary request for its own name. Redirects are never followed (a 3xx is a failed attempt)
   and urllib3 ignores proxy environment variables here, so nothing re-resolves the name.

WEBHOOKS_ALLOW_PRIVATE_TARGETS turns step 2 off for local development and tests only.

Ports: only WEBHOOKS_ALLOWED_PORTS (443 and 8443 by default), any port with private targets
allowed. Customers are told "target address not allowed" and nothing about what their name
resolved to (that would map our resolver's view for them); the address goes to our log only.

The attempt has one wall-clock deadline (TIMEOUT_SECONDS) covering connect, TLS, headers and
body. urllib3's timeouts bound each socket operation, so a receiver sending one byte every few
seconds would never trip them; a timer shuts the socket down when the deadline passes, which
ends whatever read or write is blocked on it.
"""

import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass

import structlog
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import parse_url

TIMEOUT_SECONDS = 10
DEFAULT_ALLOWED_PORTS = (443, 8443)
NOT_ALLOWED = "refused: target address not allowed"

log = structlog.get_logger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Blocked on top of what the ipaddress flags say, so the list does not depend on the Python
# version's idea of "private" (it changed in 3.12/3.13).
_BLOCKED_V4 = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network", includes the unspecified address
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata at 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes 255.255.255.255
    )
]
_BLOCKED_V6 = [
    ipaddress.ip_network(net)
    for net in (
        "::/128",
        "::1/128",
        "::/96",  # IPv4-compatible (deprecated); the embedded address is checked as well
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, ...)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique-local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class TargetRefused(Exception):
    """The delivery must not be sent to this address; nothing was connected. `public` is what
    the customer may read; str(exc) may name resolved addresses and is for our log only."""

    def __init__(self, detail: str, public: str = NOT_ALLOWED):
        super().__init__(detail)
        self.public = public


@dataclass(frozen=True)
class Result:
    status_code: int | None
    latency_ms: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64 or (int(address) >> 32 == 0 and int(address) > 1):
        # NAT64 well-known prefix, or IPv4-compatible ::a.b.c.d: the low 32 bits are IPv4.
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """True only for a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(address.compressed.split("%")[0])  # drop a scope id
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public_address(embedded):
            return False
        if address.ipv4_mapped or address in _NAT64:
            # ::ffff:a.b.c.d is the IPv4 address in disguise, and a NAT64 gateway forwards
            # 64:ff9b::a.b.c.d to a.b.c.d: either is as public as the embedded address.
            return True
        blocked = _BLOCKED_V6
    else:
        blocked = _BLOCKED_V4
    if any(address in network for network in blocked):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def resolve_host(hostname: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to (an IP literal resolves to itself). Raises
    TargetRefused when it does not resolve."""
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(
            f"could not resolve {hostname}: {exc}", public=f"could not resolve {hostname}"
        ) from exc
    addresses = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"could not resolve {hostname}", public=f"could not resolve {hostname}")
    return addresses


def refuse_non_public(hostname: str, addresses: list[IPAddress]) -> None:
    for address in addresses:
        if not is_public_address(address):
            raise TargetRefused(
                f"refused: {hostname} resolves to {address}, which is not a public address"
            )


class Deadline:
    """One attempt's wall-clock budget. Connections made under it hand over their socket;
    when the budget is spent a timer shuts that socket down, so a read or write blocked on it
    returns at once whatever the receiver is doing."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        self._timer.cancel()
        return False

    def remaining(self) -> float:
        return max(0.001, self.ends_at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to interrupt
        sock.shutdown(socket.SHUT_RDWR)


class _DeadlineHTTPConnection(HTTPConnection):
    def __init__(self, *args, deadline: Deadline, **kwargs):
        self._deadline = deadline
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        # Watched before TLS is set up on it, so a handshake that trickles is cut off too.
        self.timeout = self._deadline.remaining()
        sock = super()._new_conn()
        self._deadline.watch(sock)
        return sock


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, HTTPSConnection):
    pass


def post_pinned(
    *, url: str, address: IPAddress, body: bytes, headers: dict, deadline: Deadline
) -> Result:
    """POST `body` to `url`, connecting to `address` (already checked) and nowhere else, and
    giving up when `deadline` passes."""
    parts = parse_url(url)
    hostname = parts.host.strip("[]")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    default_port = port == (443 if parts.scheme == "https" else 80)
    host_header = parts.host if default_port else f"{parts.host}:{port}"
    remaining = deadline.remaining()
    options = {
        "port": port,
        "timeout": urllib3.Timeout(connect=remaining, read=remaining),
        "retries": False,
        "maxsize": 1,
        "deadline": deadline,
    }
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(address),
            cert_reqs="CERT_REQUIRED",
            server_hostname=hostname,
            assert_hostname=hostname,
            **options,
        )
        pool.ConnectionCls = _DeadlineHTTPSConnection
    else:
        pool = urllib3.HTTPConnectionPool(str(address), **options)
        pool.ConnectionCls = _DeadlineHTTPConnection
    path = parts.request_uri or "/"
    started = time.monotonic()
    timed_out = f"timed out after {deadline.seconds:g} s"
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        # The status line is all we keep; read a little of the body so a well-behaved
        # server is not cut off mid-write, and never more.
        response.read(64 * 1024, decode_content=False)
        response.release_conn()
    except NewConnectionError as exc:  # before timeouts: urllib3 makes it a subclass of them
        if deadline.expired:
            return Result(None, _ms_since(started), timed_out)
        # The cause is the socket error ("[Errno 111] Connection refused"), without urllib3's
        # description of its connection object.
        reason = exc.__cause__ or exc
        return Result(None, _ms_since(started), f"connection failed: {reason}"[:500])
    except (ConnectTimeoutError, ReadTimeoutError, TimeoutError):
        return Result(None, _ms_since(started), timed_out)
    except SSLError as exc:
        if deadline.expired:
            return Result(None, _ms_since(started), timed_out)
        return Result(None, _ms_since(started), f"TLS error: {exc}"[:500])
    except (HTTPError, OSError) as exc:
        if deadline.expired:
            return Result(None, _ms_since(started), timed_out)
        return Result(None, _ms_since(started), f"request failed: {exc}"[:500])
    finally:
        pool.close()
    latency = _ms_since(started)
    if deadline.expired:
        # The status came in time but the rest did not: the receiver did not answer in time.
        return Result(None, latency, timed_out)
    if 300 <= response.status < 400:
        return Result(response.status, latency, "redirects are not followed")
    if not 200 <= response.status < 300:
        return Result(response.status, latency, f"receiver answered {response.status}")
    return Result(response.status, latency)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def allowed_ports() -> tuple[int, ...]:
    from django.conf import settings

    return tuple(getattr(settings, "WEBHOOKS_ALLOWED_PORTS", DEFAULT_ALLOWED_PORTS))


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why this URL may not be a target, in words for the customer, or None. The checks that
    need no DNS: scheme, port and address literals."""
    parts = parse_url(url)
    if parts.scheme not in ("https", "http") or not parts.host:
        return "refused: not an http(s) URL"
    if parts.scheme == "http" and not allow_private:
        return "refused: plain http:// is only allowed in development"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not allow_private and port not in allowed_ports():
        return NOT_ALLOWED
    return None


def send(*, url: str, body: bytes, headers: dict, allow_private: bool) -> Result:
    """Resolve, check, then POST to the checked address, all within one TIMEOUT_SECONDS
    deadline. A refused target is a failed Result with the reason and no latency: no
    connection was opened."""
    problem = url_problem(url, allow_private=allow_private)
    if problem:
        if problem == NOT_ALLOWED:
            log.warning("webhook_target_refused", url=url, reason="port not allowed")
        return Result(None, None, problem)
    parts = parse_url(url)
    hostname = parts.host.strip("[]")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with Deadline(TIMEOUT_SECONDS) as deadline:
        try:
            addresses = resolve_host(hostname, port)
            if not allow_private:
                refuse_non_public(hostname, addresses)
        except TargetRefused as exc:
            log.warning("webhook_target_refused", url=url, reason=str(exc))
            return Result(None, None, exc.public[:500])
        for address in addresses:
            result = post_pinned(
                url=url, address=address, body=body, headers=headers, deadline=deadline
            )
            # Like a browser, try the next checked address when one refuses the connection
            # (an IPv6 record on a host that only listens on IPv4), within the same deadline.
            if not result.error.startswith("connection failed") or deadline.expired:
                break
    return result
