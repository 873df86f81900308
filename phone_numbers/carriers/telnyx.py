"""Telnyx (API v2, JSON, bearer key): every wire fact is in API.md §6.1 and docs/carriers.md.

Written from Telnyx's published wire format; verified against the fake in tests/fakes/telnyx.py.
Errors: 429 (its `x-ratelimit-reset`), 5xx, timeouts and connection failures are CarrierError
(transient); any other 4xx is CarrierRejected with the carrier's `detail`.
"""

import base64
import binascii
import json
import time

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings

from phone_numbers import numbering
from phone_numbers.allocation import Criteria
from phone_numbers.carriers.base import (
    Carrier,
    CarrierError,
    CarrierOrderStatus,
    CarrierRejected,
)

# Criteria fields passed to Telnyx as the ordering group's `phone_number[...]` (API.md §6.1).
# `pattern` (the API's `contains`) means "the digits appear anywhere": Telnyx's `contains`.
# Telnyx's starts_with excludes the area code when one is given, as ours does. It has no
# exchange or feature filter: those are checked on delivery (phone_numbers.services.provisioning).
DIGIT_FILTERS = {
    "pattern": "contains",
    "starts_with": "starts_with",
    "ends_with": "ends_with",
}
PHONE_NUMBER_TYPES = {numbering.LOCAL: "local", numbering.TOLL_FREE: "toll_free"}
MAX_RESPONSE_BYTES = 4 * 2**20
LIST_PAGE_SIZE = 250
LIST_MAX_PAGES = 20
GROUP_PENDING = {"pending", "processing"}


def _error_detail(response: httpx.Response, body) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors and isinstance(errors, list) and isinstance(errors[0], dict):
        first = errors[0]
        parts = [str(first.get(key)) for key in ("code", "title", "detail") if first.get(key)]
        if parts:
            return f"HTTP {response.status_code}: " + " - ".join(parts)
    return f"HTTP {response.status_code}"


class TelnyxCarrier(Carrier):
    supported_criteria = ("area_code", "exchange", *DIGIT_FILTERS)

    def __init__(self):
        self.base_url = settings.TELNYX_API_BASE_URL.rstrip("/")
        self.timeout = float(settings.TELNYX_TIMEOUT_SECONDS)
        self.headers = {
            "Authorization": f"Bearer {settings.TELNYX_API_KEY}",
            "Accept": "application/json",
        }

    # --- HTTP ---------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, params=None, payload=None) -> dict:
        """One call, bounded by TELNYX_TIMEOUT_SECONDS in total: httpx's timeouts bound each
        phase (connect, each read), and the deadline below bounds the whole answer, so a
        carrier trickling bytes cannot hold a worker."""
        deadline = time.monotonic() + self.timeout
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(self.timeout), headers=self.headers) as client,
                client.stream(
                    method, self.base_url + path, params=params, json=payload
                ) as response,
            ):
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise CarrierError(f"Telnyx {method} {path}: answer too large")
                    if time.monotonic() > deadline:
                        raise CarrierError(f"Telnyx {method} {path}: timed out")
                    chunks.append(chunk)
                content = b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise CarrierError(f"Telnyx {method} {path}: timed out") from exc
        except httpx.HTTPError as exc:
            raise CarrierError(f"Telnyx {method} {path}: {exc.__class__.__name__}") from exc
        try:
            body = json.loads(content) if content else {}
        except ValueError:
            body = None
        status = response.status_code
        if status == 429:
            raise CarrierError(
                f"Telnyx {method} {path}: rate limited",
                retry_after_seconds=self._reset_seconds(response),
            )
        if status >= 500:
            raise CarrierError(f"Telnyx {method} {path}: {_error_detail(response, body)}")
        if status >= 400:
            raise CarrierRejected(_error_detail(response, body), status_code=status)
        if not isinstance(body, dict):
            raise CarrierError(f"Telnyx {method} {path}: answer is not a JSON object")
        return body

    @staticmethod
    def _reset_seconds(response: httpx.Response) -> float | None:
        raw = response.headers.get("x-ratelimit-reset")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return None
        # Telnyx documents seconds until the reset; a value that looks like an epoch is turned
        # into seconds from now rather than trusted as a delay of decades.
        if value > 10**9:
            value -= time.time()
        return max(0.0, min(value, 300.0))

    # --- Carrier ------------------------------------------------------------------------------

    def coverage(self, *, criteria: Criteria) -> int | None:
        params = {
            "filter[country_code]": "US",
            "filter[phone_number_type]": PHONE_NUMBER_TYPES[criteria.number_type],
            "filter[count]": "true",
            "filter[groupBy]": "npa",
        }
        if criteria.area_code:
            params["filter[npa]"] = criteria.area_code
        body = self._request("GET", "/inventory_coverage", params=params)
        return sum(int(row.get("count") or 0) for row in body.get("data") or [])

    def ordering_group(self, *, criteria: Criteria, quantity: int) -> dict:
        """The one ordering group we send for `quantity` numbers of `criteria`."""
        group = {
            "count_requested": quantity,
            "country_iso": "US",
            "phone_number_type": PHONE_NUMBER_TYPES[criteria.number_type],
            "strategy": "always",
        }
        if criteria.area_code:
            group["national_destination_code"] = criteria.area_code
        digits = {
            DIGIT_FILTERS[name]: getattr(criteria, name)
            for name in DIGIT_FILTERS
            if getattr(criteria, name)
        }
        if criteria.exchange and not criteria.starts_with:
            # The exchange is the first three digits after the area code: a prefix to Telnyx.
            digits["starts_with"] = criteria.exchange
        if digits:
            group["phone_number"] = digits
        return group

    def place_order(self, *, criteria: Criteria, quantity: int, customer_reference: str) -> str:
        body = self._request(
            "POST",
            "/inexplicit_number_orders",
            payload={
                "customer_reference": customer_reference,
                "ordering_groups": [self.ordering_group(criteria=criteria, quantity=quantity)],
            },
        )
        order_id = (body.get("data") or {}).get("id")
        if not order_id:
            # Accepted but unreadable: the order may exist. Transient, so the next attempt looks
            # it up by reference before placing again.
            raise CarrierError("Telnyx accepted the order but returned no id")
        return str(order_id)

    def find_order(self, *, customer_reference: str) -> str | None:
        # The filter narrows the list where Telnyx honours it; matching the reference below
        # makes the answer right where it does not (then we page through the list).
        use_filter = True
        for page in range(1, LIST_MAX_PAGES + 1):
            params = {"page_number": page, "page_size": LIST_PAGE_SIZE}
            if use_filter:
                params["filter[customer_reference]"] = customer_reference
            try:
                body = self._request("GET", "/inexplicit_number_orders", params=params)
            except CarrierRejected:
                if not use_filter:
                    raise
                # The filter is refused: list everything and match the reference ourselves.
                use_filter = False
                params.pop("filter[customer_reference]")
                body = self._request("GET", "/inexplicit_number_orders", params=params)
            rows = body.get("data") or []
            for row in rows:
                if row.get("customer_reference") == customer_reference and row.get("id"):
                    return str(row["id"])
            total_pages = (body.get("meta") or {}).get("total_pages") or 1
            if len(rows) < LIST_PAGE_SIZE or page >= int(total_pages):
                return None
        raise CarrierError(f"Telnyx: {customer_reference} not found in {LIST_MAX_PAGES} pages")

    def _groups(self, order_id: str) -> list[dict]:
        body = self._request("GET", f"/inexplicit_number_orders/{order_id}")
        return (body.get("data") or {}).get("ordering_groups") or []

    def check_order(self, order_id: str) -> CarrierOrderStatus:
        groups = self._groups(order_id)
        sub_orders = tuple(
            str(sub)
            for group in groups
            for order in group.get("orders") or []
            for sub in order.get("sub_number_order_ids") or []
        )
        if any(group.get("status") in GROUP_PENDING for group in groups) or not groups:
            return CarrierOrderStatus.still_pending(None, sub_order_ids=sub_orders)
        requested = sum(int(group.get("count_requested") or 0) for group in groups)
        numbers: list[str] = []
        for group in groups:
            for order in group.get("orders") or []:
                number_order = self._request("GET", f"/number_orders/{order['number_order_id']}")
                phone_numbers = (number_order.get("data") or {}).get("phone_numbers") or []
                if any(row.get("status") == "pending" for row in phone_numbers):
                    # The group is done but a purchase is not: come back for the numbers.
                    return CarrierOrderStatus.still_pending(None, sub_order_ids=sub_orders)
                numbers += [
                    row["phone_number"]
                    for row in phone_numbers
                    if row.get("status") == "success" and row.get("phone_number")
                ]
        delivered = tuple(dict.fromkeys(numbers))
        return CarrierOrderStatus(
            pending=False,
            numbers=delivered,
            failed_count=max(0, requested - len(delivered)),
            sub_order_ids=sub_orders,
        )

    def cancel_order(self, order_id: str) -> int:
        cancelled = 0
        for group in self._groups(order_id):
            if group.get("status") not in GROUP_PENDING:
                continue
            for order in group.get("orders") or []:
                for sub in order.get("sub_number_order_ids") or []:
                    try:
                        self._request("PATCH", f"/sub_number_orders/{sub}/cancel")
                    except CarrierRejected:
                        continue  # no longer pending: it delivered, or was cancelled already
                    cancelled += 1
        return cancelled

    def release_number(self, number: str) -> bool:
        body = self._request("GET", "/phone_numbers", params={"filter[phone_number]": number})
        ids = [row["id"] for row in body.get("data") or [] if row.get("phone_number") == number]
        if not ids:
            return False
        self._request("DELETE", f"/phone_numbers/{ids[0]}")
        return True


# --- Webhook signatures ---------------------------------------------------------------------

SIGNATURE_TOLERANCE_SECONDS = 300


def webhook_signature_valid(
    *, body: bytes, signature: str | None, timestamp: str | None, public_key: str, now: float
) -> bool:
    """Telnyx signs "<telnyx-timestamp>|<raw body>" with Ed25519; the signature is base64 in
    `telnyx-signature-ed25519` and the key is the account's base64 public key. A timestamp
    more than SIGNATURE_TOLERANCE_SECONDS from now is refused (a replayed capture)."""
    if not (signature and timestamp and public_key):
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent_at) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + b"|" + body)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True
