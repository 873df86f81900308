"""The scopes a key can carry (API.md §1). A scope never implies another."""

NUMBERS_READ = "numbers:read"
NUMBERS_WRITE = "numbers:write"
BILLING_READ = "billing:read"
PLATFORM_INVENTORY_WRITE = "platform:inventory:write"
WEBHOOKS_READ = "webhooks:read"
WEBHOOKS_WRITE = "webhooks:write"
APIKEYS_READ = "apikeys:read"
APIKEYS_WRITE = "apikeys:write"

ALL = (
    NUMBERS_READ,
    NUMBERS_WRITE,
    BILLING_READ,
    PLATFORM_INVENTORY_WRITE,
    WEBHOOKS_READ,
    WEBHOOKS_WRITE,
    APIKEYS_READ,
    APIKEYS_WRITE,
)
# What a customer key gets unless told otherwise: everything but the staff-grade scope.
CUSTOMER_DEFAULT = tuple(scope for scope in ALL if scope != PLATFORM_INVENTORY_WRITE)
# What a key may give another through POST /v1/api-keys (within its own scopes): never the
# staff-grade scope, so a leaked customer key can never mint one.
GRANTABLE_THROUGH_API = CUSTOMER_DEFAULT
