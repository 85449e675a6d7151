"""schemathesis over the whole OpenAPI schema, in-process against the test database:
every documented operation, anonymous and with a staff token, answers no 5xx and
exactly what its schema says (status code, content type, body).

Fixed seed (derandomize) and a small budget per operation keep it short (~2 min on 2
cores: the schema's own examples, schemathesis' coverage cases — boundary and invalid
values of every parameter — and 10 fuzzed cases per operation and caller). For a longer
run: SCHEMA_FUZZ_EXAMPLES=200, SCHEMA_FUZZ_PHASES=examples,coverage,fuzzing.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
schema.config.phases.update(phases=os.environ.get("SCHEMA_FUZZ_PHASES", "examples,coverage,fuzzing").split(","))
# The schema and docs pages document nothing of ours; the live stream is not in the schema.
schema = schema.exclude(path_regex=r"^/api/v1/(schema|docs)/")


@pytest.fixture(autouse=True)
def _in_the_test_transaction(settings):
    """The app runs in-process on the test's own connection: Django must not close it
    after each request (the test client does the same)."""
    settings.RATELIMIT_ENABLE = False
    settings.SMS_BACKEND = "geo_portal.accounts.sms.ConsoleSmsBackend"
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    operator = get_user_model().objects.get(username="+84900000001")
    return Token.objects.get_or_create(user=operator)[0].key


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_anonymous(case):
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_staff(case, staff_token):
    case.call_and_validate(checks=CHECKS, headers={"Authorization": f"Token {staff_token}"})
