from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """One Idempotency-Key of one organization (API.md §4). The row is inserted (insert-or-
    conflict on the unique constraint) when a request claims the key, and the request holds a
    row lock on it while it runs; its response is stored in the same transaction as the
    order's own writes. See api/idempotency.py."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    id = models.BigAutoField(primary_key=True)
    # A plain column, not a foreign key: this app sits below accounts (README: Layout).
    organization_id = models.UUIDField()
    key = models.CharField(max_length=255)
    # sha256 of method, path and the canonical JSON body.
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=200)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=26, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "idempotency key"
        constraints = [
            models.UniqueConstraint(
                fields=["organization_id", "key"], name="api_idempotency_key_unique_per_org"
            ),
        ]

    def __str__(self):
        return self.key
