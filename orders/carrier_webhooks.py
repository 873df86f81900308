"""Carrier pushes: `POST /carrier/telnyx/webhooks` (API.md §6.1).

Outside /v1/: no API key (the Ed25519 signature is the authentication), no CSRF token (a
carrier cannot have one), its own body cap. A push only makes fulfilment run now; polling stays
the source of truth, so a lost or refused push only delays an order.
"""

import json
import time

import structlog
from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders import services
from phone_numbers.carriers.telnyx import webhook_signature_valid

log = structlog.get_logger(__name__)
APPLIED_EVENTS = {"number_order.complete"}


def _refuse(status: int, message: str) -> JsonResponse:
    return JsonResponse({"success": False, "error": {"message": message}}, status=status)


@csrf_exempt
@require_POST
def telnyx_webhook(request):
    cap = settings.CARRIER_WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return _refuse(413, f"body larger than {cap} bytes")
    body = request.body
    if len(body) > cap:
        return _refuse(413, f"body larger than {cap} bytes")
    if not webhook_signature_valid(
        body=body,
        signature=request.headers.get("telnyx-signature-ed25519"),
        timestamp=request.headers.get("telnyx-timestamp"),
        public_key=settings.TELNYX_PUBLIC_KEY,
        now=time.time(),
    ):
        log.warning(
            "carrier_webhook_bad_signature",
            carrier="telnyx",
            configured=bool(settings.TELNYX_PUBLIC_KEY),
            remote_addr=request.META.get("REMOTE_ADDR"),
        )
        return _refuse(401, "invalid signature")
    try:
        event = json.loads(body)
        data = event["data"]
        event_id, event_type = str(data["id"]), str(data.get("event_type") or "")
        payload = data.get("payload") or {}
        if not isinstance(payload, dict):
            raise TypeError("payload is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        # Signed by the carrier but not what we expect: answered 200 so it is not redelivered
        # for ever; logged for staff.
        log.warning("carrier_webhook_unreadable", carrier="telnyx", error=str(exc))
        return JsonResponse({"success": True, "applied": False})
    if event_type not in APPLIED_EVENTS:
        return JsonResponse({"success": True, "applied": False})
    applied = services.carrier_webhook_apply(
        carrier="telnyx", event_id=event_id, event_type=event_type, payload=payload
    )
    return JsonResponse({"success": True, "applied": applied})
