from django.db import transaction
from django.urls import reverse

from accounts.models import StaffAction
from tests.support.factories import make_endpoint, make_terminal_order
from webhooks import services
from webhooks.models import WebhookDelivery

Status = WebhookDelivery.Status


def test_it_never_shows_the_secret_in_the_endpoint_admin(admin_client, alice_org):
    endpoint, secret = make_endpoint(alice_org, "https://hooks.example.com/in")

    change = admin_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    listing = admin_client.get(reverse("admin:webhooks_webhookendpoint_changelist"))

    assert change.status_code == 200 and listing.status_code == 200
    assert secret not in change.content.decode()
    assert secret not in listing.content.decode()


def test_it_lists_deliveries_with_filters_and_attempts(admin_client, alice_org, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    make_endpoint(alice_org, "http://hooks.example.com/in")
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    delivery = event.deliveries.get()
    services.delivery_attempt(delivery_id=delivery.id)

    listing = admin_client.get(
        reverse("admin:webhooks_webhookdelivery_changelist")
        + f"?status__exact=failed-retrying&organization__id__exact={alice_org.id}"
    )
    change = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))

    assert listing.status_code == 200
    assert str(delivery.pk) in listing.content.decode()
    assert "plain http:// is only allowed in development" in change.content.decode()


def test_it_redelivers_from_the_admin_action(
    admin_client, alice_org, django_capture_on_commit_callbacks, monkeypatch
):
    make_endpoint(alice_org, "https://hooks.example.com/in")
    with transaction.atomic():
        event = services.bulk_order_completed(order=make_terminal_order(alice_org))
    delivery = event.deliveries.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.DEAD, next_attempt_at=None)
    sent = []
    from webhooks.tasks import deliver_webhook

    monkeypatch.setattr(deliver_webhook, "apply_async", lambda args, **kw: sent.append(args))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "redeliver", "_selected_action": [str(delivery.pk)]},
            follow=True,
        )

    assert response.status_code == 200
    assert "1 queued for redelivery." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert sent == [(str(delivery.pk),)]


def endpoint_form(endpoint, **changes):
    return {
        "url": endpoint.url,
        "events": '["phone_number.bulk_order.completed"]',
        "description": endpoint.description,
        "is_active": "on",
        **changes,
    }


def test_a_staff_edit_of_an_endpoint_is_validated_like_the_api(
    superuser_client, alice_org, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    endpoint, _ = make_endpoint(alice_org, "https://hooks.example.com/in")
    url = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])

    for changes, message in (
        ({"url": "https://10.0.0.5/in"}, "target address not allowed"),
        ({"url": "https://hooks.example.com:2375/"}, "target address not allowed"),
        ({"url": "http://hooks.example.com/"}, "must be an absolute https://"),
        ({"events": '["webhook.test"]'}, "must be a non-empty list of event types"),
    ):
        response = superuser_client.post(url, endpoint_form(endpoint, **changes))
        assert response.status_code == 200  # the form again, with the error
        assert message in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/in"
    assert not StaffAction.objects.exists()


def test_a_staff_edit_of_an_endpoint_is_audited(superuser_client, superuser, alice_org):
    endpoint, _ = make_endpoint(alice_org, "https://hooks.example.com/in")
    url = reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])

    response = superuser_client.post(
        url, endpoint_form(endpoint, url="https://hooks.example.com/new", is_active="")
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.is_active) == ("https://hooks.example.com/new", False)
    [action] = StaffAction.objects.all()
    assert (action.user, action.action, action.target_id) == (
        superuser,
        "webhook_endpoint_change",
        str(endpoint.pk),
    )
    assert action.details == {
        "is_active": {"old": True, "new": False},
        "url": {"old": "https://hooks.example.com/in", "new": "https://hooks.example.com/new"},
    }
