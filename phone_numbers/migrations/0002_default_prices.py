from django.db import migrations

DEFAULT_PRICES = {"local": 100, "toll_free": 200}


def create_default_prices(apps, schema_editor):
    NumberPrice = apps.get_model("phone_numbers", "NumberPrice")
    for number_type, price_cents in DEFAULT_PRICES.items():
        NumberPrice.objects.get_or_create(
            number_type=number_type, defaults={"price_cents": price_cents}
        )


class Migration(migrations.Migration):
    dependencies = [("phone_numbers", "0001_initial")]
    operations = [migrations.RunPython(create_default_prices, migrations.RunPython.noop)]
