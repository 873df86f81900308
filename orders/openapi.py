"""The OpenAPI declaration of POST /v1/phone-numbers/bulk, with the examples of the product
page (spec/bulk-order-phone-numbers.txt; where API.md is more precise, it wins: 402 carries
details, 409 carries details.available_count, and the 422 examples name this route's fields
instead of the page's copy-pasted `to`/`body`)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema

from api import errors
from api.schema import error_example_value, error_response
from orders.serializers import BulkOrderInput, BulkOrderPlacementSerializer

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
        "Order phone numbers by quantity and criteria rather than by an explicit list. When "
        "the quantity can be filled immediately the call returns 200 with the assigned "
        "numbers; otherwise 202 with an `order_id` to poll at "
        "GET /v1/phone-numbers/bulk/{id}. Only `mode=atomic` is supported today. "
        "`pattern` only applies to immediately available numbers."
    ),
    request=BulkOrderInput,
    responses={
        200: OpenApiResponse(
            response=BulkOrderPlacementSerializer,
            description="Filled immediately.",
            examples=[OpenApiExample("filled", value=BULK_FILLED_EXAMPLE)],
        ),
        202: OpenApiResponse(
            response=BulkOrderPlacementSerializer,
            description="Backordered; poll the Location.",
            examples=[OpenApiExample("backordered", value=BULK_BACKORDERED_EXAMPLE)],
        ),
        402: error_response(
            (errors.InsufficientCredit, {"required_cents": 10_000, "available_cents": 2_500})
        ),
        409: error_response(
            (errors.InsufficientInventory, {"available_count": 12}),
            errors.IdempotencyKeyInUse,
        ),
        422: error_response(
            (errors.ValidationFailed, {"quantity": "must be an integer from 1 to 1000"}),
            OpenApiExample(
                "immediate_partial",
                value=error_example_value(
                    errors.ValidationFailed,
                    details={"mode": "immediate_partial is not yet available; use atomic"},
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
    examples=[OpenApiExample("order", value=BULK_REQUEST_EXAMPLE, request_only=True)],
)
