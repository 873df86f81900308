from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_staff_permissions"),
        ("api", "0001_initial"),  # the rows are copied there first
    ]

    operations = [
        migrations.DeleteModel(name="IdempotencyKey"),
    ]
