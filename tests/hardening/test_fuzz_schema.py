"""schemathesis against the app (in-process WSGI) with the schema it serves and a valid key:
every operation of /v1/openapi.json (plus the test-only routes of tests/hardening/urls.py), every
default check (not_a_server_error, status code / content type / headers / response schema
conformance, negative data rejection, positive data acceptance, ...), positive and negative
examples. MAX_EXAMPLES examples per operation and mode; also run by `.ci/run` through
`make test`. The organization has plenty of credit and some inventory, so write routes can
succeed, not only fail."""

import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts import scopes
from accounts.services import api_key_create
from phone_numbers.models import PhoneNumber
from tests.support.factories import make_org

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "100"))
INVENTORY = [f"+1415555{n:04d}" for n in range(40)] + [f"+1800555{n:04d}" for n in range(10)]


@pytest.fixture
def api_key(db, settings):
    settings.ROOT_URLCONF = "tests.hardening.urls"
    organization = make_org("Fuzz Telecom", credit_cents=1_000_000_000)
    PhoneNumber.objects.bulk_create(
        PhoneNumber(number=number, number_type=kind, area_code=number[2:5])
        for number in INVENTORY
        for kind in ["toll_free" if number.startswith("+1800") else "local"]
    )
    _, secret = api_key_create(organization=organization, scopes=scopes.ALL, label="fuzz")
    # As Django's test client does: the raw WSGI app would otherwise close the test's database
    # connection at the end of each request, in the middle of the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield secret
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def load_schema():
    """The schema /v1/openapi.json serves (test_schema.py checks they are equal), generated with
    the test-only routes mounted. Loaded at collection so each operation is its own test (the
    lazy `from_fixture` loader does not work with pytest 9)."""
    generated = SchemaGenerator(urlconf="tests.hardening.urls").get_schema(public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(generated)))
    loaded.app = get_wsgi_application()
    loaded.config.generation.update(
        modes=["positive", "negative"],
        max_examples=MAX_EXAMPLES,
        database="none",
        # Unknown query parameters are ignored, as by most HTTP APIs (docs/api.md); unknown
        # body fields are still refused (the request schemas say additionalProperties: false).
        allow_extra_parameters=False,
    )
    return loaded


schema = load_schema()


# Rules JSON Schema cannot state, so schema-valid data may still be refused with a 422 naming
# only these fields; any other refusal of positive data fails (it is schemathesis'
# positive_data_acceptance check, with this allowance).
POSITIVE_LEEWAY = {
    "cursor": "opaque: only cursors this API returned are valid",
    "area_code": "N11 codes and toll-free prefixes, and the fit with number_type (cross-field)",
    "exchange": "needs area_code (cross-field)",
    "contains": "not together with pattern, its other name (cross-field)",
    "label": "printable means Unicode categories (not Cc/Cf/Cn/Co/Z*) a pattern cannot name",
    "description": "printable, as for label",
    "search": "free text without NUL characters (Django's form fields refuse them)",
    "inbound_url": "Django's URL validation is stricter than any JSON Schema pattern",
    "status_url": "Django's URL validation is stricter than any JSON Schema pattern",
    "url": "Django's URL validation is stricter than any JSON Schema pattern",
    "fill_by": "5 minutes to 30 days from now: a range relative to the clock, no schema says it",
    "expires_at": "must be in the future, which a date-time schema cannot say",
    "id": "a revoked or expired API key cannot be rotated (its state, not the request's shape)",
}


@schema.parametrize()
# The organization and its inventory are meant to persist across the examples of an operation.
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_it_passes_every_default_check(case, api_key):
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {api_key}"},
        excluded_checks=[positive_data_acceptance],
    )

    if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
        assert response.status_code not in (400, 415), response.text
        if response.status_code == 422:
            error = response.json()["error"]
            if error["code"] == "IDEMPOTENCY_KEY_REUSED":
                return  # the generator sent a key again with another body: the right answer
            details = error.get("details") or {}
            assert details and set(details) <= set(POSITIVE_LEEWAY), response.text
