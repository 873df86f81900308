"""The admin page of ApiKeyEvent, the audit log of key changes made through /v1/api-keys:
read-only for everyone, readable by support staff, searchable by key, organization and action."""

from django.urls import reverse

from accounts import scopes
from accounts.models import ApiKeyEvent
from tests.support.factories import make_api, make_org

CHANGELIST = reverse("admin:accounts_apikeyevent_changelist")


def keys_changed_through_the_api():
    """Alice creates a key and rotates it; Bob creates one: three events."""
    alice = make_api(make_org("Alice Telecom"), [scopes.APIKEYS_READ, scopes.APIKEYS_WRITE])
    bob = make_api(make_org("Bob Networks"), [scopes.APIKEYS_READ, scopes.APIKEYS_WRITE])
    created = alice.post("/v1/api-keys", {"scopes": [scopes.APIKEYS_READ], "label": "ci"})
    key = created.json()["data"]
    assert alice.post(f"/v1/api-keys/{key['id']}/rotate", {}).status_code == 200
    assert bob.post("/v1/api-keys", {"scopes": [scopes.APIKEYS_READ]}).status_code == 201
    return key


def result_rows(response):
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_support_staff_read_and_search_key_events(support_client):
    key = keys_changed_through_the_api()

    everything = result_rows(support_client.get(CHANGELIST))
    by_prefix = result_rows(support_client.get(CHANGELIST, {"q": key["prefix"]}))
    by_org = result_rows(support_client.get(CHANGELIST, {"q": "Bob Networks"}))
    by_action = result_rows(support_client.get(CHANGELIST, {"q": "rotated"}))
    filtered = result_rows(support_client.get(CHANGELIST, {"action__exact": "created"}))

    assert len(everything) == 3
    assert {event.action for event in by_prefix} == {"created", "rotated"}
    assert [event.organization.name for event in by_org] == ["Bob Networks"]
    assert [(event.action, str(event.api_key_id)) for event in by_action] == [
        ("rotated", key["id"])
    ]
    assert len(filtered) == 2
    event = by_action[0]
    detail = support_client.get(reverse("admin:accounts_apikeyevent_change", args=[event.pk]))
    assert detail.status_code == 200
    assert event.request_id and event.request_id in detail.content.decode()


def test_nobody_adds_changes_or_deletes_key_events(superuser_client):
    keys_changed_through_the_api()
    event = ApiKeyEvent.objects.first()
    change_url = reverse("admin:accounts_apikeyevent_change", args=[event.pk])

    add = superuser_client.get(reverse("admin:accounts_apikeyevent_add"))
    post = superuser_client.post(change_url, {"action": "revoked"})
    delete = superuser_client.post(
        reverse("admin:accounts_apikeyevent_delete", args=[event.pk]), {"post": "yes"}
    )

    assert add.status_code == 403 and post.status_code == 403 and delete.status_code == 403
    event.refresh_from_db()
    assert event.action != "revoked" and ApiKeyEvent.objects.count() == 3
    page = superuser_client.get(change_url).content.decode()
    assert 'name="_save"' not in page
