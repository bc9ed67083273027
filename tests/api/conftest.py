"""Fixtures of the API tests; the world and personas are in personas.py."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api.personas import World, build_world
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def generous_rates(settings):
    """Rate limits are counted per address in Redis across the run; these tests are not
    about them (test_errors.py sets a tight one where it is)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            scope: "100000/minute" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        },
    }


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """Every persona has a password; hashing them the production way costs most of a second
    each, in two hundred tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(widget, agent, outsider_agent, supervisor, admin_user) -> World:
    return build_world(
        widget=widget, agent=agent, outsider_agent=outsider_agent, supervisor=supervisor, admin_user=admin_user
    )


@pytest.fixture
def api_for():
    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def staff(roles):
    """A signed-in user with no contact-center role."""
    return UserFactory(username="toimisto")
