"""Benchmark-only: counts the SQL statements a request runs, server-side, and answers the count
in `X-Bench-Query-Count`. Installed only when BENCH_QUERY_COUNT=1 (config/settings.py), which
only `make bench` sets."""

from django.db import connections

HEADER = "X-Bench-Query-Count"


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = 0

        def counter(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connections["default"].execute_wrapper(counter):
            response = self.get_response(request)
        response[HEADER] = str(count)
        return response
