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
    # A standard-library line logged with exc_info (Django's "Internal Server Error" of a
    # failure outside DRF) keeps its traceback in the JSON line.
    structlog.processors.format_exc_info,
]

json_renderer = structlog.processors.JSONRenderer()

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.filter_by_level,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=structlog.stdlib.BoundLogger,
    cache_logger_on_first_use=True,
)

REQUEST_ID_HEADER = "request_id"


@signals.setup_logging.connect
def _keep_django_logging(**kwargs):
    """Celery would replace the root logger's handlers with its own plain-text ones; connecting
    here tells it not to, so workers and beat log JSON lines through settings.LOGGING too."""


@signals.before_task_publish.connect
def _send_request_id_with_task(headers=None, **kwargs):
    """A task enqueued while serving a request carries that request's id in its headers."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and headers is not None and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id


# Context to restore after an eagerly run task (CELERY_TASK_ALWAYS_EAGER, `task.apply()`): it
# runs inside the caller, whose own request id must survive the task.
_outer_contexts: dict[str, dict] = {}


@signals.task_prerun.connect
def _bind_request_id_in_task(task=None, task_id=None, **kwargs):
    outer = structlog.contextvars.get_contextvars()
    is_eager = bool(task is not None and getattr(task.request, "is_eager", False))
    if is_eager and task_id:
        _outer_contexts[task_id] = outer
    request_id = None
    if task is not None:
        # A worker exposes custom message headers as request attributes; an eagerly applied
        # task keeps them under `headers`, or simply runs inside the request that called it.
        request_id = (
            getattr(task.request, REQUEST_ID_HEADER, None)
            or (getattr(task.request, "headers", None) or {}).get(REQUEST_ID_HEADER)
            or (outer.get("request_id") if is_eager else None)
        )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        task=task.name if task else None, task_id=task_id, request_id=request_id
    )


@signals.task_postrun.connect
def _unbind_request_id_after_task(task_id=None, **kwargs):
    structlog.contextvars.clear_contextvars()
    outer = _outer_contexts.pop(task_id, None)
    if outer:
        structlog.contextvars.bind_contextvars(**outer)
