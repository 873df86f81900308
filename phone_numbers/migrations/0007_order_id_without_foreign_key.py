"""PhoneNumber.order and PhoneNumberEvent.order become plain `order_id` UUID columns: orders
sits above phone_numbers (README: Layout), so phone_numbers keeps no foreign key into it. The
column and its values stay; only the constraint goes."""

from django.db import migrations, models


def without_foreign_key(model_name, *, db_index):
    return [
        migrations.AlterField(
            model_name=model_name,
            name="order",
            field=models.UUIDField(null=True, blank=True, db_column="order_id", db_index=db_index),
        ),
        migrations.RenameField(model_name=model_name, old_name="order", new_name="order_id"),
        migrations.AlterField(
            model_name=model_name,
            name="order_id",
            field=models.UUIDField(null=True, blank=True, db_index=db_index),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("phone_numbers", "0006_lean_number_history"),
    ]

    operations = [
        *without_foreign_key("phonenumber", db_index=True),
        *without_foreign_key("phonenumberevent", db_index=False),
    ]
