"""Submitting a review (S7): the scoring formula, critical items, who may review what, every
refusal storing nothing, and a second submit replacing the first."""

from __future__ import annotations

from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from chat.services import conversation_end, conversation_start
from quality.models import Review, ReviewForm, ReviewItem, ReviewScore
from quality.services import QualityError, review_submit
from tests.factories import QueueFactory, QueueMembershipFactory, UserFactory, WidgetFactory
from tests.quality.conftest import all_scores, ended_chat, items


def submit(conversation, reviewer, form, *values, **kwargs):
    return review_submit(
        conversation_id=conversation.pk,
        reviewer=reviewer,
        form_id=form.pk,
        scores=kwargs.pop("scores", None) or all_scores(form, *values),
        **kwargs,
    )


def refused(code: str, **kwargs) -> QualityError:
    with pytest.raises(QualityError) as error:
        review_submit(**kwargs)
    assert error.value.code == code, error.value.message
    assert not Review.objects.exists()
    assert not ReviewScore.objects.exists()
    return error.value


@pytest.fixture
def conversation(widget, agent):
    return ended_chat(widget, agent)


@pytest.mark.django_db
def test_a_review_scores_every_item_and_computes_the_percentage(conversation, agent, reviewer, checklist):
    greet, identity, answer = items(checklist)
    review = submit(
        conversation,
        reviewer,
        checklist,
        notes={greet.pk: "  Warm  ", answer.pk: ""},
        comment="Nice work",
        scores={str(greet.pk): "1", identity.pk: 1, answer.pk: 3},
    )
    review.refresh_from_db()
    assert (review.agent_id, review.reviewer_id, review.form_id) == (agent.user_id, reviewer.pk, checklist.pk)
    assert (review.total_score, review.max_score, review.percent, review.passed) == (5, 7, Decimal("71.4"), True)
    assert review.comment == "Nice work"
    rows = {s.item_id: (s.score, s.max_score, s.failed, s.critical, s.note) for s in review.scores.all()}
    assert rows == {
        greet.pk: (1, 1, False, False, "Warm"),
        identity.pk: (1, 1, False, True, ""),
        answer.pk: (3, 5, False, False, ""),
    }


@pytest.mark.django_db
def test_a_failed_critical_item_fails_the_whole_review(conversation, reviewer, checklist):
    review = submit(conversation, reviewer, checklist, 1, 0, 5)
    assert (review.percent, review.passed) == (Decimal("85.7"), False)
    assert review.scores.get(item__critical=True).failed


@pytest.mark.django_db
def test_below_the_passing_score_is_an_error_but_not_critical(conversation, reviewer, checklist):
    review = submit(conversation, reviewer, checklist, 1, 1, 2)
    assert review.passed
    assert list(review.scores.filter(failed=True).values_list("item__text", flat=True)) == ["Clear answer"]


@pytest.mark.django_db
def test_submitting_again_updates_the_same_review(conversation, reviewer, checklist):
    first = submit(conversation, reviewer, checklist, 0, 0, 0, comment="Harsh")
    second = submit(conversation, reviewer, checklist, 1, 1, 5, comment="On reflection, fine")
    assert second.pk == first.pk
    assert Review.objects.count() == 1
    second.refresh_from_db()
    assert (second.total_score, second.percent, second.passed, second.comment) == (
        7,
        Decimal("100.0"),
        True,
        "On reflection, fine",
    )
    assert second.created_at == first.created_at
    assert sorted(second.scores.values_list("score", flat=True)) == [1, 1, 5]
    assert ReviewScore.objects.count() == 3


@pytest.mark.django_db
def test_another_reviewer_makes_another_review(conversation, reviewer, supervisor, checklist):
    submit(conversation, reviewer, checklist, 1, 1, 5)
    submit(conversation, supervisor, checklist, 0, 1, 5)
    assert Review.objects.filter(conversation=conversation).count() == 2


@pytest.mark.django_db
def test_a_refused_resubmit_leaves_the_stored_review_as_it_was(conversation, reviewer, checklist):
    review = submit(conversation, reviewer, checklist, 1, 1, 4, comment="Kept")
    greet, identity, _answer = items(checklist)
    with pytest.raises(QualityError):
        submit(conversation, reviewer, checklist, scores={greet.pk: 0, identity.pk: 0}, comment="Lost")
    review.refresh_from_db()
    assert (review.total_score, review.comment) == (6, "Kept")
    assert sorted(review.scores.values_list("score", flat=True)) == [1, 1, 4]


# --- the validation matrix --------------------------------------------------------------


@pytest.mark.django_db
def test_every_item_must_be_scored(conversation, reviewer, checklist):
    greet, identity, answer = items(checklist)
    error = refused(
        "invalid",
        conversation_id=conversation.pk,
        reviewer=reviewer,
        form_id=checklist.pk,
        scores={greet.pk: 1, answer.pk: ""},
    )
    assert set(error.fields) == {identity.pk, answer.pk}
    assert error.fields[identity.pk] == "Score this item."


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [2, -1, "x", "1.5", True])
def test_a_pass_fail_item_takes_only_0_or_1(conversation, reviewer, checklist, bad):
    greet, identity, answer = items(checklist)
    error = refused(
        "invalid",
        conversation_id=conversation.pk,
        reviewer=reviewer,
        form_id=checklist.pk,
        scores={greet.pk: bad, identity.pk: 1, answer.pk: 3},
    )
    assert error.fields == {greet.pk: "Give a score from 0 to 1."}


@pytest.mark.django_db
def test_a_scale_item_takes_0_to_its_maximum(conversation, reviewer, checklist):
    greet, identity, answer = items(checklist)
    error = refused(
        "invalid",
        conversation_id=conversation.pk,
        reviewer=reviewer,
        form_id=checklist.pk,
        scores={greet.pk: 1, identity.pk: 1, answer.pk: 6},
    )
    assert error.fields == {answer.pk: "Give a score from 0 to 5."}


@pytest.mark.django_db
def test_scores_for_items_of_another_form_are_refused(conversation, reviewer, checklist):
    stray = ReviewItem.objects.create(form=ReviewForm.objects.create(name="Other"), text="Stray")
    error = refused(
        "invalid",
        conversation_id=conversation.pk,
        reviewer=reviewer,
        form_id=checklist.pk,
        scores={**all_scores(checklist, 1, 1, 5), stray.pk: 1},
    )
    assert "form" in error.fields


@pytest.mark.django_db
def test_a_form_of_another_queue_or_inactive_or_unknown_is_refused(conversation, reviewer, checklist):
    elsewhere = ReviewForm.objects.create(name="Rent desk", queue=QueueFactory(name="Rent"))
    ReviewItem.objects.create(form=elsewhere, text="Explains the rent rules")
    for form_id in (elsewhere.pk, "nonsense", 999999):
        refused("wrong_form", conversation_id=conversation.pk, reviewer=reviewer, form_id=form_id, scores={})
    ReviewForm.objects.filter(pk=checklist.pk).update(is_active=False)
    refused(
        "wrong_form",
        conversation_id=conversation.pk,
        reviewer=reviewer,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
    )


@pytest.mark.django_db
def test_the_queues_own_form_applies(conversation, reviewer, checklist):
    own = ReviewForm.objects.create(name="Housing", queue=conversation.queue)
    item = ReviewItem.objects.create(form=own, text="Knows the housing rules", max_score=3)
    review = review_submit(conversation_id=conversation.pk, reviewer=reviewer, form_id=own.pk, scores={item.pk: 2})
    assert (review.total_score, review.max_score, review.percent) == (2, 3, Decimal("66.7"))


@pytest.mark.django_db
def test_an_agent_without_the_permission_cannot_review(conversation, widget, checklist):
    colleague = QueueMembershipFactory(queue=widget.queue).agent.user
    refused(
        "forbidden",
        conversation_id=conversation.pk,
        reviewer=colleague,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
    )


@pytest.mark.django_db
def test_a_reviewer_who_cannot_see_the_conversation_gets_not_found(conversation, outsider_agent, checklist):
    outsider = outsider_agent.user
    outsider.user_permissions.add(Permission.objects.get(codename="review_conversations"))
    for conversation_id in (conversation.pk, "not-a-uuid"):
        refused(
            "not_found",
            conversation_id=conversation_id,
            reviewer=outsider,
            form_id=checklist.pk,
            scores=all_scores(checklist, 1, 1, 5),
        )


@pytest.mark.django_db
def test_an_agent_cannot_review_their_own_conversation(conversation, agent, checklist):
    agent.user.user_permissions.add(Permission.objects.get(codename="review_conversations"))
    refused(
        "own_work",
        conversation_id=conversation.pk,
        reviewer=agent.user,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
    )


@pytest.mark.django_db
def test_open_and_unanswered_conversations_cannot_be_reviewed(widget, reviewer, checklist):
    open_one, _ = conversation_start(widget=widget, prechat={}, locale="en")
    refused("not_ended", conversation_id=open_one.pk, reviewer=reviewer, form_id=checklist.pk, scores={})
    conversation_end(conversation_id=open_one.pk, ended_by="customer")
    refused(
        "no_agent",
        conversation_id=open_one.pk,
        reviewer=reviewer,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
    )


@pytest.mark.django_db
def test_another_agent_who_served_may_be_named_but_nobody_else(conversation, agent, reviewer, supervisor, checklist):
    refused(
        "wrong_agent",
        conversation_id=conversation.pk,
        reviewer=reviewer,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
        agent_user_id=supervisor.pk,
    )
    review = submit(conversation, reviewer, checklist, 1, 1, 5, agent_user_id=agent.user_id)
    assert review.agent_id == agent.user_id


@pytest.mark.django_db
def test_a_supervisor_reviews_any_queue(widget, agent, supervisor, checklist):
    other = QueueMembershipFactory(agent=agent, queue=QueueFactory(name="Elsewhere")).queue
    conversation = ended_chat(WidgetFactory(queue=other), agent)
    assert submit(conversation, supervisor, checklist, 1, 1, 5).passed


# --- roles ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_roles_migration_gives_supervisors_and_admins_the_review_permission():
    Group.objects.all().delete()
    import_module("quality.migrations.0002_roles_review_conversations").sync_roles(apps, None)
    holders = set(Group.objects.filter(permissions__codename="review_conversations").values_list("name", flat=True))
    assert holders == {"Supervisor", "Admin"}
    supervisor = UserFactory(username="sirpa", roles=["Supervisor"])
    agent = UserFactory(username="antti", roles=["Agent"])
    assert supervisor.has_perm("quality.review_conversations")
    assert not agent.has_perm("quality.review_conversations")
