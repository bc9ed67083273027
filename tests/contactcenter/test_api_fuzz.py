"""schemathesis against our own /api/schema/: a bounded number of generated requests per
operation, as an agent with a token. No response may be a 5xx, and every documented response
must match its schema."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def api_schema(db):
    # As Django's test client does: requests must not close the test's connection, which
    # holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_generated_requests_never_break_the_api(api_schema, agent, widget):
    token, _ = Token.objects.get_or_create(user=agent.user)
    headers = {"Authorization": f"Token {token.key}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20  # the whole API, not an empty schema
    calls = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def generated(case):
            calls.append(case.operation.label)
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        generated()
    assert len(set(calls)) == len(operations)  # every operation was really called
