"""Staff roles. Support staff ("support" group) can view everything, retry and close orders and
adjust credit within SUPPORT_CREDIT_ADJUSTMENT_LIMIT_CENTS; superusers can do everything,
including returning numbers to the carrier and editing prices. The group is kept in sync after
every migrate, like Django keeps permissions in sync."""

from django.apps import apps as global_apps
from django.db.models.signals import post_migrate

SUPPORT_GROUP = "support"
STAFF_APPS = ("accounts", "phone_numbers", "orders", "webhooks")
# Besides viewing every model of STAFF_APPS.
SUPPORT_ACTIONS = (
    ("orders", "close_bulkorder"),
    ("orders", "retry_bulkorder"),
    ("accounts", "adjust_credit"),
)


class MissingPermission(LookupError):
    """A permission the support group needs does not exist (a model's Meta.permissions lost it
    or its migration was not applied)."""


def sync_support_group(apps=global_apps, **kwargs) -> None:
    """Create or update the support group's permissions. Idempotent. Raises MissingPermission if
    one of SUPPORT_ACTIONS does not exist, rather than silently granting less."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    wanted = list(
        Permission.objects.filter(
            content_type__app_label__in=STAFF_APPS, codename__startswith="view_"
        )
    )
    for app_label, codename in SUPPORT_ACTIONS:
        found = list(
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )
        if not found:
            raise MissingPermission(
                f"permission {app_label}.{codename} of the {SUPPORT_GROUP!r} group does not exist; "
                "add it to the model's Meta.permissions with a migration"
            )
        wanted += found
    group.permissions.set(wanted)


def connect() -> None:
    post_migrate.connect(_after_migrate, dispatch_uid="config.staff.sync_support_group")


def _after_migrate(sender, app_config=None, using="default", apps=global_apps, **kwargs):
    # post_migrate fires once per app, and auth creates an app's permissions in its own
    # receiver, which may run after this one: create them first (it is idempotent).
    # Every staff app triggers it (an app without models sends no signal); it is idempotent.
    if app_config is None or app_config.label not in STAFF_APPS:
        return
    if kwargs.get("plan") is None:
        # `flush` (TransactionTestCase teardown) sends post_migrate too, without a plan. The
        # group is data, not schema: recreating it there would clash with the rows a
        # serialized_rollback test restores. Tests that need it call sync_support_group().
        return
    from django.contrib.auth.management import create_permissions

    for label in STAFF_APPS:
        config = global_apps.get_app_config(label)
        if config.models_module is not None:
            create_permissions(config, verbosity=0, using=using, apps=apps)
    sync_support_group(apps=apps)
