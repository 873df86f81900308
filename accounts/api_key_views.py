"""/v1/api-keys (API.md §7): a customer manages its own keys with a key.

Both POSTs honour Idempotency-Key (API.md §4): a retried create gets the same key, and a
retried rotation the same new secret (rotating twice would end the grace of the secret the
client still holds). Their answers hold a secret, so the idempotency store keeps them with the
secret encrypted (api.crypto), for the key's 24 hours, never in plain text."""

from drf_spectacular.utils import extend_schema

from accounts import scopes
from accounts.api_key_selectors import api_keys_for
from accounts.api_key_serializers import (
    ApiKeyCreateInput,
    ApiKeyRotatedSerializer,
    ApiKeyRotateInput,
    ApiKeySerializer,
    ApiKeyWithSecretSerializer,
)
from accounts.models import ApiKey
from accounts.services import KeyNotActive, api_key_issue, api_key_revoke_by, api_key_rotate
from api.errors import ValidationFailed
from api.idempotency import IdempotentCreateMixin
from api.responses import ok
from api.serializers import validated_body
from api.views import ApiViewSet


class ApiKeyViewSet(IdempotentCreateMixin, ApiViewSet):
    required_scopes = {
        "list": scopes.APIKEYS_READ,
        "create": scopes.APIKEYS_WRITE,
        "rotate": scopes.APIKEYS_WRITE,
        "destroy": scopes.APIKEYS_WRITE,
    }
    queryset = ApiKey.objects.none()  # the model, for the schema
    serializer_class = ApiKeySerializer
    idempotent_actions = frozenset({"create", "rotate"})
    answer_holds_secret = True

    def get_queryset(self):
        return api_keys_for(self.request.organization)

    @extend_schema(
        summary="Your organization's API keys, newest first (never a secret)",
        responses={200: ApiKeySerializer(many=True)},
    )
    def list(self, request):
        page = self.page_of(self.get_queryset())
        return self.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        summary="Create a key with some of your key's scopes (its secret is shown once)",
        request=ApiKeyCreateInput,
        responses={201: ApiKeyWithSecretSerializer},
    )
    def create(self, request):
        return super().create(request)

    def validate_input(self, request):
        return validated_body(request, ApiKeyCreateInput)

    def create_validated(self, request, body):
        key, secret = api_key_issue(caller=request.auth, request_id=request.request_id, **body)
        return ok(ApiKeyWithSecretSerializer({**_fields(key), "secret": secret}).data, status=201)

    @extend_schema(
        summary="Give a key a new secret; the old one works for grace_seconds more",
        request=ApiKeyRotateInput,
        responses={200: ApiKeyRotatedSerializer},
    )
    def rotate(self, request, id):
        key = self.get_object()
        body = validated_body(request, ApiKeyRotateInput)
        return self.idempotently(request, lambda: self._rotated(request, key, body))

    def _rotated(self, request, key, body):
        try:
            key, secret = api_key_rotate(
                api_key=key, caller=request.auth, request_id=request.request_id, **body
            )
        except KeyNotActive as exc:
            raise ValidationFailed({"id": "the key is revoked or expired"}) from exc
        data = {
            **_fields(key),
            "secret": secret,
            "previous_secret_expires_at": key.previous_secret_expires_at,
        }
        return ok(ApiKeyRotatedSerializer(data).data)

    @extend_schema(
        summary="Revoke a key at once (a key may revoke itself)",
        responses={200: ApiKeySerializer},
    )
    def destroy(self, request, id):
        key = self.get_object()
        key = api_key_revoke_by(api_key=key, caller=request.auth, request_id=request.request_id)
        return ok(ApiKeySerializer(key).data)


def _fields(key) -> dict:
    return {name: getattr(key, name) for name in ApiKeySerializer().fields}
