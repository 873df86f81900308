"""InputSerializer copies its declared fields shallowly per instance (issue 20): what one
instance adjusts on its fields (messages, validators) must never reach the declared field, and
so never the next request's serializer."""

from django.core.validators import MaxValueValidator

from api.serializers import InputSerializer, StrictIntegerField


class Adjusting(InputSerializer):
    count = StrictIntegerField(min_value=0)  # builds its validators list at declaration

    def __init__(self, *args, limit=None, **kwargs):
        super().__init__(*args, **kwargs)
        if limit is not None:  # adjusted in place, as a serializer's __init__ may
            field = self.fields["count"]
            field.error_messages["invalid"] = "a whole number, please"
            field.validators.append(MaxValueValidator(limit, message=f"at most {limit}"))


def test_one_instance_adjusting_its_fields_leaves_the_next_alone():
    limited = Adjusting(data={"count": 9}, limit=5)
    plain = Adjusting(data={"count": 9})
    plain_bad = Adjusting(data={"count": "9"})

    assert not limited.is_valid()
    assert limited.errors == {"count": ["at most 5"]}
    assert plain.is_valid(), plain.errors
    assert not plain_bad.is_valid()
    assert plain_bad.errors == {"count": ["A valid integer is required."]}
