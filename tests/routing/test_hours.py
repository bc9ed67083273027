"""Opening hours: weekly slots in the queue's time zone, exceptions, public holidays (W3)."""

import datetime
import zoneinfo

import pytest

from routing.hours import holiday_name, is_open, open_states
from routing.models import OpeningException, WeeklySlot
from tests.factories import QueueFactory

HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")


def at(*args):
    return datetime.datetime(*args, tzinfo=HELSINKI)


@pytest.fixture
def housing_desk(db):
    """Open Monday to Friday 9:00–14:30, Helsinki time, closed on Finnish public holidays."""
    queue = QueueFactory(name="Housing advice", time_zone="Europe/Helsinki", holiday_country="FI", always_open=False)
    for weekday in range(5):
        WeeklySlot.objects.create(queue=queue, weekday=weekday, opens=datetime.time(9), closes=datetime.time(14, 30))
    return queue


def test_weekly_slots_in_the_queues_time_zone(housing_desk):
    assert is_open(queue=housing_desk, at=at(2026, 11, 23, 9, 0))  # Monday
    assert is_open(queue=housing_desk, at=at(2026, 11, 23, 14, 29))
    assert not is_open(queue=housing_desk, at=at(2026, 11, 23, 14, 30))
    assert not is_open(queue=housing_desk, at=at(2026, 11, 23, 8, 59))
    assert not is_open(queue=housing_desk, at=at(2026, 11, 28, 10, 0))  # Saturday
    # 07:30 UTC is 09:30 in Helsinki in winter
    assert is_open(queue=housing_desk, at=datetime.datetime(2026, 11, 23, 7, 30, tzinfo=datetime.UTC))


def test_public_holidays_close_the_queue(housing_desk):
    christmas_day = datetime.date(2026, 12, 25)  # a Friday
    assert holiday_name(queue=housing_desk, day=christmas_day)
    assert not is_open(queue=housing_desk, at=at(2026, 12, 25, 10, 0))
    assert is_open(queue=housing_desk, at=at(2026, 12, 23, 10, 0))


def test_an_exception_overrides_the_week_and_holidays(housing_desk):
    OpeningException.objects.create(
        queue=housing_desk,
        date=datetime.date(2026, 12, 25),
        closed=False,
        opens=datetime.time(10),
        closes=datetime.time(12),
    )
    OpeningException.objects.create(queue=housing_desk, date=datetime.date(2026, 11, 24), closed=True, note="Training")
    assert is_open(queue=housing_desk, at=at(2026, 12, 25, 11, 0))
    assert not is_open(queue=housing_desk, at=at(2026, 12, 25, 12, 30))
    assert not is_open(queue=housing_desk, at=at(2026, 11, 24, 10, 0))


def test_midnight_closing_means_the_end_of_the_day(db):
    queue = QueueFactory(always_open=True)
    assert is_open(queue=queue, at=at(2026, 11, 22, 23, 59))
    assert is_open(queue=queue, at=at(2026, 11, 22, 0, 0))


def test_a_slot_that_closes_before_it_opens_is_refused(housing_desk):
    from django.core.exceptions import ValidationError

    slot = WeeklySlot(queue=housing_desk, weekday=5, opens=datetime.time(12), closes=datetime.time(9))
    with pytest.raises(ValidationError):
        slot.full_clean()


def test_open_states_of_many_queues_agree_with_is_open(housing_desk, django_assert_num_queries):
    """The API lists queues with their state now in two queries, by the same rule."""
    OpeningException.objects.create(queue=housing_desk, date=datetime.date(2026, 11, 24), closed=True, note="Training")
    tokyo = QueueFactory(name="Tokyo desk", time_zone="Asia/Tokyo", always_open=False)
    WeeklySlot.objects.create(queue=tokyo, weekday=0, opens=datetime.time(9), closes=datetime.time(17))
    queues = [housing_desk, tokyo, QueueFactory(always_open=True)]
    moments = [
        at(2026, 11, 23, 9, 0),
        at(2026, 11, 23, 14, 30),
        at(2026, 11, 24, 10, 0),
        at(2026, 12, 25, 10, 0),
        at(2026, 11, 23, 3, 0),  # 10:00 Monday in Tokyo
        at(2026, 11, 28, 10, 0),
    ]
    for moment in moments:
        with django_assert_num_queries(2):
            states = open_states(queues=queues, at=moment)
        assert states == {queue.pk: is_open(queue=queue, at=moment) for queue in queues}, moment
