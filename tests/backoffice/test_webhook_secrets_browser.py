"""A support user browsing every admin page about webhooks and stored requests sees no signing
secret (real browser, live server)."""

import pytest

from api.models import IdempotencyKey
from tests.backoffice.conftest import log_in
from tests.support.factories import make_api, make_org
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.usefixtures("transactional_db")
EVENT = "phone_number.bulk_order.completed"


def test_a_support_user_sees_no_webhook_secret_in_the_admin(page, live_server, support_user):
    api = make_api(make_org("Secretive"))
    body = {"url": "https://hooks.example.com/in", "events": [EVENT], "description": "prod"}
    created = api.post("/v1/webhooks", body, HTTP_IDEMPOTENCY_KEY="browser-1").json()["data"]
    rotated = api.post(f"/v1/webhooks/{created['id']}/rotate-secret").json()["data"]
    secrets = [created["secret"], rotated["secret"]]
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    stored = IdempotencyKey.objects.get(key="browser-1")

    log_in(page, live_server, support_user)
    pages = [
        "/admin/webhooks/webhookendpoint/",
        f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/",
        "/admin/api/idempotencykey/",
        f"/admin/api/idempotencykey/{stored.pk}/change/",
        "/admin/webhooks/webhookdelivery/",
        "/admin/webhooks/webhookevent/",
        "/admin/accounts/staffaction/",
    ]
    seen = []
    for path in pages:
        response = page.goto(f"{live_server.url}{path}")
        # Support cannot open the stored requests of the api app at all (403); the rest it
        # can read.
        assert response.status == (403 if "/api/" in path else 200), path
        html = page.content()
        seen.append(path)
        for secret in secrets:
            assert secret not in html, path
            assert secret.removeprefix("whsec_") not in html, path
        assert "fernet:" not in html, path  # nor the ciphertext
    assert "hooks.example.com" in page.goto(f"{live_server.url}{pages[0]}").text()
    assert len(seen) == len(pages)
