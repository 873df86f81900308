from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0003_encrypt_existing_secrets")]

    operations = [migrations.RemoveField(model_name="webhookendpoint", name="secret")]
