"""The OpenAPI declarations of the bulk-order routes that need more than a request and a
response serializer: POST /v1/phone-numbers/bulk, with the examples of the product page
(spec/bulk-order-phone-numbers.txt; where API.md is more precise, it wins: 402 carries details,
409 carries details.available_count, and the 422 examples name this route's fields instead of
the page's copy-pasted `to`/`body`) and one example per immediate_partial outcome; cancel; and
quote."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from api import errors
from api.schema import error_example_value, error_response
from orders.serializers import (
    BulkOrderInput,
    BulkOrderPlacementSerializer,
    BulkOrderQuoteSerializer,
    BulkOrderSerializer,
)

BULK_REQUEST_EXAMPLE = {
    "quantity": 100,
    "number_type": "local",
    "area_code": "415",
    "pattern": "555",
    "inbound_url": "https://customer.example/inbound",
    "status_url": "https://customer.example/status",
    "label": "support-pool",
    "mode": "atomic",
}
BULK_FILLED_EXAMPLE = {
    "success": True,
    "data": {
        "order_id": None,
        "status": "complete",
        "quantity": 3,
        "assigned_count": 3,
        "pending_count": 0,
        "assigned_numbers": ["+14155557001", "+14155557002", "+14155557003"],
    },
}
BULK_IMMEDIATE_PARTIAL_REQUEST_EXAMPLE = {
    "quantity": 5,
    "number_type": "local",
    "area_code": "415",
    "mode": "immediate_partial",
    "fill_by": "2026-12-08T17:00:00Z",
}
# The four outcomes of mode=immediate_partial (API.md §2); 409 is the atomic one.
BULK_PARTIAL_COMPLETE_EXAMPLE = BULK_FILLED_EXAMPLE
BULK_PARTIAL_BACKORDERED_EXAMPLE = {
    "success": True,
    "data": {
        "order_id": "0b7f8e2c-61d4-4f0e-9a57-3c2d9e8b1a40",
        "status": "processing",
        "quantity": 5,
        "assigned_count": 2,
        "pending_count": 3,
        "assigned_numbers": ["+14155557001", "+14155557002"],
    },
}
BULK_PARTIAL_ENDED_EXAMPLE = {
    "success": True,
    "data": {
        "order_id": "5d1c7a9e-2b3f-4e8a-b6c0-9f4e2d1a7b35",
        "status": "partial",
        "quantity": 5,
        "assigned_count": 2,
        "pending_count": 0,
        "failed_count": 3,
        "assigned_numbers": ["+14155557001", "+14155557002"],
    },
}
BULK_BACKORDERED_EXAMPLE = {
    "success": True,
    "data": {
        "order_id": "f3a5b1c2-4d8e-4a91-9c3a-7b6e1d0f2a3b",
        "status": "processing",
        "quantity": 100,
        "assigned_count": 0,
        "pending_count": 100,
        "assigned_numbers": [],
    },
}

bulk_order_create_schema = extend_schema(
    summary="Bulk-order phone numbers by quantity",
    description=(
        "Order phone numbers by quantity and criteria rather than by an explicit list. "
        "`mode=atomic` (default): when inventory holds the whole quantity the call returns 200 "
        "with the assigned numbers; otherwise nothing is assigned now and the call returns 202 "
        "with an `order_id` to poll at GET /v1/phone-numbers/bulk/{id}, or 409 when the "
        "carrier cannot supply it either. `mode=immediate_partial`: what inventory holds now "
        "is assigned and charged at once; the rest is backordered (202 with `assigned_count` "
        "numbers already assigned), or, when the carrier cannot supply the rest, the order "
        "ends `partial` at once (200 with `failed_count`); 409 only when nothing can be had. "
        "The 402 credit check covers the whole quantity in both modes. `fill_by` ends a "
        "still-processing order when it passes, as POST .../cancel does. "
        "`pattern` only applies to immediately available numbers."
    ),
    request=BulkOrderInput,
    responses={
        200: OpenApiResponse(
            response=BulkOrderPlacementSerializer,
            description="Filled immediately (either mode), or, with immediate_partial, ended "
            "`partial` at once because the carrier cannot supply the rest.",
            examples=[
                OpenApiExample("filled", value=BULK_FILLED_EXAMPLE),
                OpenApiExample(
                    "immediate_partial_complete",
                    summary="immediate_partial: all from inventory",
                    value=BULK_PARTIAL_COMPLETE_EXAMPLE,
                ),
                OpenApiExample(
                    "immediate_partial_partial",
                    summary="immediate_partial: some now, no carrier supply for the rest",
                    value=BULK_PARTIAL_ENDED_EXAMPLE,
                ),
            ],
        ),
        202: OpenApiResponse(
            response=BulkOrderPlacementSerializer,
            description="Backordered (with immediate_partial, after assigning what inventory "
            "holds); poll the Location.",
            examples=[
                OpenApiExample("backordered", value=BULK_BACKORDERED_EXAMPLE),
                OpenApiExample(
                    "immediate_partial_backordered",
                    summary="immediate_partial: some now, the rest backordered",
                    value=BULK_PARTIAL_BACKORDERED_EXAMPLE,
                ),
            ],
        ),
        402: error_response(
            (errors.InsufficientCredit, {"required_cents": 10_000, "available_cents": 2_500})
        ),
        # The same 409 in both modes (immediate_partial: nothing in inventory, no supply).
        409: error_response(
            (errors.InsufficientInventory, {"available_count": 12}),
            errors.IdempotencyKeyInUse,
        ),
        422: error_response(
            (errors.ValidationFailed, {"quantity": "must be an integer from 1 to 10000"}),
            OpenApiExample(
                "mode",
                value=error_example_value(
                    errors.ValidationFailed,
                    details={"mode": "must be 'atomic' or 'immediate_partial'"},
                ),
            ),
            OpenApiExample(
                "fill_by",
                value=error_example_value(
                    errors.ValidationFailed,
                    details={"fill_by": "must be from 5 minutes to 30 days ahead"},
                ),
            ),
            errors.IdempotencyKeyReused,
        ),
        503: error_response(
            errors.ServiceUnavailable,
            description="Database or broker unavailable, or (inventory being short) the "
            "carrier's capacity check failed: it fails closed. Nothing was held or recorded; "
            "retry after Retry-After.",
        ),
    },
    examples=[
        OpenApiExample("order", value=BULK_REQUEST_EXAMPLE, request_only=True),
        OpenApiExample(
            "immediate_partial_order",
            summary="immediate_partial order",
            value=BULK_IMMEDIATE_PARTIAL_REQUEST_EXAMPLE,
            request_only=True,
        ),
    ],
)

ORDER_ID_PARAMETER = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)

bulk_order_cancel_schema = extend_schema(
    summary="Cancel a processing bulk order",
    description=(
        "Ends a `processing` order now: numbers already assigned stay assigned and charged, "
        "the rest fails and its hold is released, `cancelled_at` is set and the completion "
        "webhook fires. Numbers the carrier delivers afterwards go to inventory, never to the "
        "order. No body (or an empty object). Idempotent by nature: a retry after success "
        "answers 409 ORDER_NOT_PROCESSING with the terminal status."
    ),
    parameters=[ORDER_ID_PARAMETER],
    request=None,
    responses={
        200: OpenApiResponse(BulkOrderSerializer, description="The order as GET returns it."),
        409: error_response(
            (errors.OrderNotProcessing, {"status": "partial"}),
            description="The order already ended; `details.status` is its terminal status.",
        ),
    },
)

bulk_order_quote_schema = extend_schema(
    summary="What a bulk order would do now (creates, holds and charges nothing)",
    description=(
        "Takes the body of POST /v1/phone-numbers/bulk, validated the same way, and answers "
        "what that POST would do now: `immediate`, `backorder`, `partial_backorder` "
        "(immediate_partial, some in inventory, the carrier has the rest), `partial` "
        "(immediate_partial, some in inventory, no carrier supply for the rest), "
        "`insufficient_credit` or `insufficient_inventory`. A forecast: nothing is reserved. "
        "An Idempotency-Key header is ignored (nothing is stored)."
    ),
    request=BulkOrderInput,
    responses={
        200: OpenApiResponse(
            BulkOrderQuoteSerializer,
            examples=[
                OpenApiExample(
                    "partial_backorder",
                    value={
                        "quantity": 5,
                        "unit_price_cents": 100,
                        "cost_cents": 500,
                        "available_cents": 9_500,
                        "available_now": 2,
                        "outcome": "partial_backorder",
                    },
                )
            ],
        ),
        503: error_response(
            errors.ServiceUnavailable,
            description="Inventory being short, the carrier's capacity check failed (the "
            "same cached check as POST /bulk, failing closed); retry after Retry-After.",
        ),
    },
    examples=[
        OpenApiExample("quote", value=BULK_IMMEDIATE_PARTIAL_REQUEST_EXAMPLE, request_only=True)
    ],
)
