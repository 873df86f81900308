"""The shared HTTP plumbing of /v1/, below every domain app: errors and the envelope, strict
input fields, the JSON parser, pagination, rate limits, request ids, Idempotency-Key and the
OpenAPI schema extension. It imports no domain app (README: Layout)."""
