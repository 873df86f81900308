from rest_framework.negotiation import DefaultContentNegotiation


class AlwaysJSON(DefaultContentNegotiation):
    """Every answer is JSON (API.md §1), whatever the client's Accept header says: a client
    asking for text/html gets the envelope, not a 406 or an error about its headers."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
