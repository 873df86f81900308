import structlog

from config.celery_app import app

seen_request_ids: list = []


@app.task(name="tests.config.record_request_id")
def record_request_id():
    seen_request_ids.append(structlog.contextvars.get_contextvars().get("request_id"))
    structlog.get_logger("tests.task").info("task ran")
