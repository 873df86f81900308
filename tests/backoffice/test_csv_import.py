"""Inventory CSV import from the admin: the import_inventory command's validation and service."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import StaffAction
from phone_numbers.models import PhoneNumber

URL = "/admin/phone_numbers/phonenumber/import-csv/"


def upload(client, content: bytes, name="numbers.csv", follow=False):
    return client.post(URL, {"file": SimpleUploadedFile(name, content)}, follow=follow)


def test_the_url_is_the_one_linked_from_the_changelist(superuser_client):
    assert reverse("admin:phone_numbers_phonenumber_import_csv") == URL
    changelist = superuser_client.get(reverse("admin:phone_numbers_phonenumber_changelist"))
    assert URL in changelist.content.decode()


def test_a_good_file_is_imported_and_numbers_already_there_are_skipped(superuser_client):
    PhoneNumber.objects.create(number="+14155550100", number_type="local", area_code="415")

    response = upload(
        superuser_client,
        b"\xef\xbb\xbfnumber,number_type\n+14155550100,local\n+14155550101,local\n\n"
        b"+18885550100,toll_free\n",
        follow=True,
    )

    assert response.status_code == 200
    assert "Imported 2 number(s) from numbers.csv; skipped 1 already in inventory." in (
        response.content.decode()
    )
    assert set(PhoneNumber.objects.values_list("number", "number_type", "state")) == {
        ("+14155550100", "local", "available"),
        ("+14155550101", "local", "available"),
        ("+18885550100", "toll_free", "available"),
    }


def test_a_bad_file_is_reported_by_line_and_nothing_is_imported(superuser_client):
    response = upload(
        superuser_client,
        b"number,number_type\n"
        b"+14155550100,local\n"
        b"+1415555010,local\n"
        b"+18005550100,local\n"
        b"+14155550100,local\n"
        b"+14155550102,mobile\n",
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "4 bad lines; nothing was imported." in page
    assert "line 3: &#x27;+1415555010&#x27; is not a valid US E.164 number" in page
    assert "line 4: +18005550100 has a toll_free prefix but number_type is local" in page
    assert "line 5: +14155550100 is already on line 2" in page
    assert "line 6: number_type &#x27;mobile&#x27; must be one of" in page
    assert not PhoneNumber.objects.exists()
    assert not StaffAction.objects.exists()


def test_a_wrong_header_or_a_binary_file_is_refused(superuser_client):
    header = upload(superuser_client, b"phone,type\n+14155550100,local\n").content.decode()
    binary = upload(superuser_client, b"\xff\xfe\x00garbage").content.decode()

    assert "line 1: header must be exactly: number,number_type" in header
    assert "The file is not UTF-8 text." in binary
    assert not PhoneNumber.objects.exists()


def test_support_cannot_import(support_client):
    response = upload(support_client, b"number,number_type\n+14155550100,local\n")

    assert response.status_code == 403
    assert not PhoneNumber.objects.exists()
