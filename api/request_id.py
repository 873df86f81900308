import structlog


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")
