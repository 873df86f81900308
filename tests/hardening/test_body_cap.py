"""A body over 1 MiB is refused on every route by its Content-Length, before a byte is read:
an anonymous client cannot make a process spool an upload to disk (the CSRF check and the
admin's login redirect would otherwise parse the form first)."""

import io

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

TWENTY_MB = 20 * 1024 * 1024


class CountingInput(io.RawIOBase):
    """A request body of `size` bytes that records how much of it the server read."""

    def __init__(self, size):
        self.remaining, self.read_bytes = size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.remaining)
        buffer[:n] = b"x" * n
        self.remaining -= n
        self.read_bytes += n
        return n


def post_raw(path, size, content_type, **extra):
    """POST `size` bytes to `path` through the real WSGI handler (every middleware)."""
    body = CountingInput(size)
    environ = RequestFactory()._base_environ(
        PATH_INFO=path,
        REQUEST_METHOD="POST",
        CONTENT_LENGTH=str(size),
        CONTENT_TYPE=content_type,
        **{"wsgi.input": body},
        **extra,
    )
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    content = b"".join(WSGIHandler()(environ, start_response))
    return answer["status"], answer["headers"], content, body.read_bytes


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # any file that got parsed would be on disk
    return tmp_path


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/admin/accounts/organization/add/", "/"])
def test_an_anonymous_20_mb_post_outside_the_api_is_refused_unread(upload_dir, path):
    status, headers, content, read = post_raw(
        path,
        TWENTY_MB,
        "multipart/form-data; boundary=xyz",
        HTTP_COOKIE="csrftoken=" + "a" * 32,
    )

    assert status == 413
    assert content == b"Request body too large.\n"
    assert read == 0
    assert list(upload_dir.iterdir()) == []


@pytest.mark.django_db
def test_an_oversized_api_body_is_413_in_the_envelope_unread():
    status, headers, content, read = post_raw(
        "/v1/phone-numbers/bulk", 2 * 1024 * 1024, "application/json"
    )

    assert status == 413
    assert b'"PAYLOAD_TOO_LARGE"' in content
    assert headers["Cache-Control"] == "no-store"
    assert read == 0


@pytest.mark.django_db
def test_a_body_of_1_mib_is_read_as_usual(upload_dir):
    status, _, _, read = post_raw(
        "/admin/login/",
        1024 * 1024,
        "application/x-www-form-urlencoded",
        HTTP_COOKIE="csrftoken=" + "a" * 32,
    )

    assert status == 403  # the CSRF check, which read the form: the cap let it through
    assert read == 1024 * 1024


@pytest.mark.django_db
def test_the_csv_import_has_its_own_larger_cap_checked_unread(upload_dir):
    path = "/admin/phone_numbers/phonenumber/import-csv/"

    over, _, _, read_over = post_raw(path, 6 * 1024 * 1024, "multipart/form-data; boundary=x")
    under, _, _, _ = post_raw(path, 3 * 1024 * 1024, "multipart/form-data; boundary=x")

    assert (over, read_over) == (413, 0)
    assert under != 413  # past the cap: the CSRF check or the login redirect answers


def test_it_allows_one_file_per_upload(settings):
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 1
