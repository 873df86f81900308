"""Log lines as the project's JSON formatter renders them (api.logging), captured in memory."""

import io
import json
import logging

import structlog

from api.logging import FOREIGN_PRE_CHAIN, json_renderer


def capture_json_lines(logger_name):
    """A generator for fixtures: adds a JSON handler to `logger_name` (None: the root logger),
    yields a function returning the lines written so far as dicts, removes the handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=json_renderer, foreign_pre_chain=FOREIGN_PRE_CHAIN
        )
    )
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
