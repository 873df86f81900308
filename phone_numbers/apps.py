from django.apps import AppConfig


class PhoneNumbersConfig(AppConfig):
    # Not "numbers": a top-level package of that name shadows the standard library's `numbers`
    # module, which decimal (and through it Django and Celery) imports.
    name = "phone_numbers"
    verbose_name = "Phone numbers"
