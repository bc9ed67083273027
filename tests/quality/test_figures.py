"""The figures the agent reports show: agent_quality and errors_history, on hand-made reviews."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from quality.models import Review, ReviewForm, ReviewItem, ReviewScore
from quality.selectors import agent_quality, errors_history
from tests.factories import QueueMembershipFactory, UserFactory
from tests.quality.conftest import ended_chat

T0 = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def setup(widget, agent, roles):
    """Agents Aino (`agent`) and Bertta, one form with three items, reviews on days 0–10."""
    bertta = QueueMembershipFactory(queue=widget.queue, agent__user__username="bertta").agent
    form = ReviewForm.objects.create(name="Basics")
    greet = ReviewItem.objects.create(form=form, order=1, text="Greets")
    identity = ReviewItem.objects.create(form=form, order=2, text="Checks identity", critical=True)
    answer = ReviewItem.objects.create(form=form, order=3, text="Clear answer", max_score=5, pass_score=3)
    conversations = {agent.user_id: ended_chat(widget, agent), bertta.user_id: ended_chat(widget, bertta)}
    reviewers = iter(UserFactory(username=f"reviewer{n}") for n in range(10))

    def review(agent_user, at, percent, *, failed=(), passed=True):
        made = Review.objects.create(
            conversation=conversations[agent_user.pk],
            form=form,
            reviewer=next(reviewers),
            agent=agent_user,
            created_at=at,
            updated_at=at,
            total_score=0,
            max_score=7,
            percent=Decimal(percent),
            passed=passed,
        )
        for item in (greet, identity, answer):
            ReviewScore.objects.create(
                review=made,
                item=item,
                score=0,
                max_score=item.max_score,
                failed=item in failed,
                critical=item.critical,
            )

    aino, bertta = agent.user, bertta.user
    review(aino, T0, "80.0", failed=[answer])  # the start is in
    review(aino, T0 + 2 * DAY, "60.0", failed=[identity, answer], passed=False)
    review(aino, T0 + 5 * DAY, "10.0", failed=[greet])  # the end is out
    review(bertta, T0 + 2 * DAY, "50.5", failed=[greet])
    review(bertta, T0 - DAY, "0.0", failed=[greet, identity], passed=False)  # before the start
    return {"aino": aino, "bertta": bertta, "greet": greet, "identity": identity, "answer": answer}


@pytest.mark.django_db
def test_agent_quality_counts_reviews_in_the_half_open_period(setup):
    aino, bertta = setup["aino"], setup["bertta"]
    assert agent_quality(start=T0, end=T0 + 5 * DAY) == {
        aino.pk: {"reviews": 2, "mean_percent": 70.0, "critical_failures": 1},
        bertta.pk: {"reviews": 1, "mean_percent": 50.5, "critical_failures": 0},
    }


@pytest.mark.django_db
def test_agent_quality_answers_for_the_agents_asked_even_without_reviews(setup):
    aino = setup["aino"]
    nobody = UserFactory(username="nobody")
    assert agent_quality(agent_user_ids=[aino.pk, nobody.pk], start=T0, end=T0 + 6 * DAY) == {
        aino.pk: {"reviews": 3, "mean_percent": 50.0, "critical_failures": 1},
        nobody.pk: {"reviews": 0, "mean_percent": None, "critical_failures": 0},
    }
    assert agent_quality(agent_user_ids=[], start=T0, end=T0 + 6 * DAY) == {}


@pytest.mark.django_db
def test_errors_history_counts_failed_items_most_frequent_first(setup):
    history = errors_history(start=T0, end=T0 + 5 * DAY)
    assert [(row["text"], row["count"], row["critical"]) for row in history] == [
        ("Clear answer", 2, False),
        ("Checks identity", 1, True),
        ("Greets", 1, False),
    ]
    assert history[0]["form"] == "Basics"
    assert history[0]["item_id"] == setup["answer"].pk
    assert history[0]["last_at"] == T0 + 2 * DAY


@pytest.mark.django_db
def test_errors_history_of_one_agent(setup):
    history = errors_history(agent_user_id=setup["bertta"].pk, start=T0 - DAY, end=T0 + 10 * DAY)
    assert [(row["text"], row["count"]) for row in history] == [("Greets", 2), ("Checks identity", 1)]
    assert errors_history(agent_user_id=setup["aino"].pk, start=T0 + 6 * DAY, end=T0 + 7 * DAY) == []
