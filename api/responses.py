from rest_framework.response import Response


def ok(data, *, status=200, headers=None, meta=None) -> Response:
    """The success envelope of API.md §1; `meta` only on lists."""
    body = {"success": True, "data": data}
    if meta is not None:
        body["meta"] = meta
    return Response(body, status=status, headers=headers)


def iso8601(moment) -> str | None:
    """A datetime as the API writes it (UTC with a Z), like DRF's DateTimeField; None stays
    None."""
    return moment.isoformat().replace("+00:00", "Z") if moment else None
