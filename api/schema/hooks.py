"""drf-spectacular's hooks (SPECTACULAR_SETTINGS): which routes the schema shows, and the
shared components every operation refers to."""

import copy

from api.schema.components import ERROR_ENVELOPE, HEADERS


def only_api_routes(endpoints):
    """Preprocessing hook: the public /v1/ routes, without the 404 catch-all and the schema
    view itself."""
    from api.views import UnknownApiRoute

    kept = []
    for path, path_regex, method, callback in endpoints:
        view_class = getattr(callback, "cls", None)
        if not path.startswith("/v1/") or view_class is UnknownApiRoute:
            continue
        if view_class is not None and view_class.__module__.startswith("drf_spectacular"):
            continue
        kept.append((path, path_regex, method, callback))
    return kept


def add_shared_components(result, generator, request, public):
    """Postprocessing hook: the components the operations refer to."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["ErrorEnvelope"] = ERROR_ENVELOPE
    components["headers"] = copy.deepcopy(HEADERS)
    return result
