"""Factories for the domain; personas in conftest.py build on these."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from chat.models import Widget
from routing.models import MIDNIGHT, AgentProfile, Queue, QueueMembership, WeeklySlot

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.invalid")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in extracted))


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Queue {n}")

    @factory.post_generation
    def always_open(self, create, extracted, **kwargs):
        """Open around the clock unless `always_open=False` is given."""
        if create and extracted is not False:
            for weekday in range(7):
                WeeklySlot.objects.create(queue=self, weekday=weekday, opens=MIDNIGHT, closes=MIDNIGHT)


class AgentProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentProfile

    user = factory.SubFactory(UserFactory, roles=["Agent"])
    chat_capacity = 3


class QueueMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueueMembership

    agent = factory.SubFactory(AgentProfileFactory)
    queue = factory.SubFactory(QueueFactory)
    logged_on = True


class WidgetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Widget

    key = factory.Sequence(lambda n: f"widget-{n}")
    name = factory.Sequence(lambda n: f"Widget {n}")
    queue = factory.SubFactory(QueueFactory)


def passwordless_user(username: str):
    """A user without a password: hashing one costs a third of a second, and some tests need
    dozens of agents."""
    return get_user_model().objects.create(username=username)
