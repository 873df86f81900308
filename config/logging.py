"""Structured logs: every line is one JSON object carrying the request id of the request (or
task) it belongs to. The id lives in a context variable bound by RequestIdMiddleware and by the
Celery signal handlers below, so code that logs never has to pass it along."""

import structlog
from celery import signals

FOREIGN_PRE_CHAIN = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]

json_renderer = structlog.processors.JSONRenderer()

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)

REQUEST_ID_HEADER = "request_id"


@signals.before_task_publish.connect
def _send_request_id_with_task(headers=None, **kwargs):
    """A task enqueued while serving a request carries that request's id in its headers."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and headers is not None and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


@signals.task_prerun.connect
def _bind_request_id_in_task(task=None, task_id=None, **kwargs):
    structlog.contextvars.clear_contextvars()
    request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task else None
    structlog.contextvars.bind_contextvars(
        task=task.name if task else None, task_id=task_id, request_id=request_id
    )


@signals.task_postrun.connect
def _unbind_request_id_after_task(**kwargs):
    structlog.contextvars.clear_contextvars()
