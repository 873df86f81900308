from django.contrib import admin
from django.urls import include, path, re_path

from api import views as api_views
from api.views import UnknownApiRoute
from config import views
from config.schema_views import ApiDocsView, OpenApiSchemaView
from orders.carrier_webhooks import telnyx_webhook
from phone_numbers.urls import id_urlpatterns as phone_number_id_urls

handler404 = "api.views.handler404"
handler500 = "api.views.handler500"

# Each app owns its /v1/ routes; the last pattern answers 404 in the envelope for the rest.
api_v1 = [
    path("", include("accounts.urls")),
    path("", include("phone_numbers.urls")),
    path("", include("orders.urls")),
    # Last of the phone-numbers routes: /phone-numbers/<id> would capture /bulk, /search...
    path("", include(phone_number_id_urls)),
    path("", include("webhooks.urls")),
    re_path(r"^.*$", UnknownApiRoute.as_view()),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", api_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # Carrier pushes: outside /v1/, signed by the carrier instead of an API key.
    path("carrier/telnyx/webhooks", telnyx_webhook, name="carrier-telnyx-webhooks"),
    # The OpenAPI schema and its docs page (no key needed); before the /v1/ catch-all.
    path("v1/openapi.json", OpenApiSchemaView.as_view(), name="openapi-schema"),
    path("docs/", ApiDocsView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("v1/", include(api_v1)),
]
