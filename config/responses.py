from rest_framework.response import Response


def ok(data, *, status=200, headers=None, meta=None) -> Response:
    """The success envelope of API.md §1; `meta` only on lists."""
    body = {"success": True, "data": data}
    if meta is not None:
        body["meta"] = meta
    return Response(body, status=status, headers=headers)
