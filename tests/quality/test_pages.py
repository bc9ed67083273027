"""The quality pages: who may open them, what they list, the review form, a removed transcript,
an agent's own reviews, the navigation and the console."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation
from chat.services import conversation_start
from quality import services
from quality.models import QueueRetention, Review, ReviewForm, ReviewItem
from tests.factories import QueueMembershipFactory, WidgetFactory
from tests.quality.conftest import all_scores, ended_chat, items


@pytest.fixture
def conversation(widget, agent):
    return ended_chat(widget, agent, lines=("My radiator leaks",), note="Check the lease first")


@pytest.fixture
def outsider_conversation(outsider_agent):
    return ended_chat(WidgetFactory(queue=outsider_agent.queues.get()), outsider_agent, lines=("Elsewhere",))


def page(client, user, url, status=200):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


# --- who may open what ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_pages_need_a_login(client, conversation):
    for url in (reverse("quality-conversations"), reverse("quality-review", args=[conversation.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_an_agent_cannot_open_the_review_pages(client, agent, conversation):
    page(client, agent.user, reverse("quality-conversations"), status=403)
    page(client, agent.user, reverse("quality-review", args=[conversation.pk]), status=403)


@pytest.mark.django_db
def test_a_reviewer_lists_only_ended_conversations_they_may_see(
    client, reviewer, widget, conversation, outsider_conversation
):
    open_one, _ = conversation_start(widget=widget, prechat={}, locale="en")
    content = page(client, reviewer, reverse("quality-conversations"))
    assert reverse("quality-review", args=[conversation.pk]) in content
    assert reverse("quality-review", args=[outsider_conversation.pk]) not in content
    assert str(open_one.pk) not in content
    page(client, reviewer, reverse("quality-review", args=[outsider_conversation.pk]), status=404)
    page(client, reviewer, reverse("quality-review", args=[open_one.pk]), status=404)


@pytest.mark.django_db
def test_the_list_filters_by_queue_agent_dates_and_not_yet_reviewed(
    client, supervisor, widget, agent, conversation, outsider_conversation, outsider_agent, checklist
):
    url = reverse("quality-conversations")
    link, other_link = (reverse("quality-review", args=[c.pk]) for c in (conversation, outsider_conversation))

    content = page(client, supervisor, url)
    assert link in content
    assert other_link in content
    content = page(client, supervisor, f"{url}?queue={widget.queue_id}")
    assert link in content
    assert other_link not in content
    content = page(client, supervisor, f"{url}?agent={outsider_agent.user_id}")
    assert link not in content
    assert other_link in content

    Conversation.objects.filter(pk=conversation.pk).update(created_at=timezone.now() - datetime.timedelta(days=10))
    today = timezone.localdate()
    content = page(client, supervisor, f"{url}?date_from={today}&date_to={today}")
    assert link not in content
    assert other_link in content

    services.review_submit(
        conversation_id=outsider_conversation.pk,
        reviewer=supervisor,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
    )
    content = page(client, supervisor, f"{url}?unreviewed=on")
    assert link in content
    assert other_link not in content
    assert "reviewed by you" in page(client, supervisor, url)


@pytest.mark.django_db
def test_bad_filters_are_reported_not_crashed_on(client, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("quality-conversations"), {"date_from": "yesterday", "queue": "999999"})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()


# --- the review page --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_review_page_shows_the_transcript_with_notes_marked_and_the_form(client, reviewer, conversation, checklist):
    content = page(client, reviewer, reverse("quality-review", args=[conversation.pk]))
    assert "My radiator leaks" in content
    assert "Check the lease first" in content
    assert "Hidden note" in content
    assert "Aino joined" in content
    assert "Ended by Customer" in content
    for item in items(checklist):
        assert f'name="score-{item.pk}"' in content
    assert content.count('<span class="tag">critical</span>') == 1


@pytest.mark.django_db
def test_a_review_is_saved_from_the_page_and_shown_again(client, reviewer, conversation, checklist):
    greet, identity, answer = items(checklist)
    client.force_login(reviewer)
    url = reverse("quality-review", args=[conversation.pk])
    response = client.post(
        url,
        {
            "form": checklist.pk,
            f"score-{greet.pk}": "1",
            f"score-{identity.pk}": "0",
            f"score-{answer.pk}": "4",
            f"note-{identity.pk}": "Did not ask for the date of birth",
            "comment": "Otherwise good",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{url}?form={checklist.pk}"
    review = Review.objects.get()
    assert (review.reviewer, review.total_score, review.passed) == (reviewer, 5, False)
    content = client.get(response["Location"]).content.decode()
    assert "Review saved." in content
    assert "Did not ask for the date of birth" in content
    assert "Failed on a critical item" in content
    assert f'name="score-{answer.pk}" value="4" checked' in content


@pytest.mark.django_db
def test_a_missing_score_is_explained_next_to_the_item(client, reviewer, conversation, checklist):
    greet, identity, answer = items(checklist)
    client.force_login(reviewer)
    response = client.post(
        reverse("quality-review", args=[conversation.pk]),
        {"form": checklist.pk, f"score-{greet.pk}": "1", f"score-{answer.pk}": "3", "comment": "Draft"},
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert 'role="alert"' in content
    assert f'id="score-{identity.pk}-error" class="error">Score this item.' in content
    assert f'aria-describedby="score-{identity.pk}-error"' in content
    assert ">Draft</textarea>" in content
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_the_reviewer_chooses_among_the_forms_of_the_queue(client, reviewer, conversation, checklist):
    own = ReviewForm.objects.create(name="Housing checklist", queue=conversation.queue)
    ReviewItem.objects.create(form=own, text="Knows the housing rules")
    url = reverse("quality-review", args=[conversation.pk])
    content = page(client, reviewer, url)
    assert 'id="form-choice"' in content
    assert "Knows the housing rules" in content  # the queue's own form first
    assert "Greets the customer" in page(client, reviewer, f"{url}?form={checklist.pk}")


@pytest.mark.django_db
def test_a_removed_transcript_shows_a_notice(client, reviewer, widget, agent, checklist):
    QueueRetention.objects.create(queue=widget.queue, transcript_days=30)
    conversation = ended_chat(widget, agent, lines=("Old secret",), ended_days_ago=31)
    services.transcripts_purge()
    content = page(client, reviewer, reverse("quality-review", args=[conversation.pk]))
    assert "The transcript was removed on" in content
    assert "keeps transcripts for 30 days" in content
    assert "Old secret" not in content
    assert f'name="score-{items(checklist)[0].pk}"' in content  # it can still be reviewed
    assert "transcript removed" in page(client, reviewer, reverse("quality-conversations"))


# --- an agent's own reviews -------------------------------------------------------------


@pytest.mark.django_db
def test_agents_see_only_their_own_reviews(client, widget, agent, supervisor, conversation, checklist):
    colleague = QueueMembershipFactory(queue=widget.queue, agent__user__username="bertta").agent
    theirs = ended_chat(widget, colleague)
    services.review_submit(
        conversation_id=conversation.pk,
        reviewer=supervisor,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 0, 2),
        notes={items(checklist)[1].pk: "Ask for the date of birth"},
        comment="For Aino",
    )
    services.review_submit(
        conversation_id=theirs.pk,
        reviewer=supervisor,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
        comment="For Bertta",
    )
    content = page(client, agent.user, reverse("quality-mine"))
    assert "For Aino" in content
    assert "For Bertta" not in content
    assert "Ask for the date of birth" in content
    assert "Failed on a critical item" in content
    assert content.count('class="failed-row"') == 2
    assert "For Bertta" in page(client, colleague.user, reverse("quality-mine"))
    assert "None of your conversations has been reviewed yet." in page(client, supervisor, reverse("quality-mine"))


# --- navigation and console -------------------------------------------------------------


@pytest.mark.django_db
def test_the_navigation_links_follow_permissions(client, agent, reviewer):
    content = page(client, agent.user, reverse("quality-mine"))
    assert f'href="{reverse("quality-mine")}"' in content
    assert f'href="{reverse("quality-conversations")}"' not in content
    content = page(client, reviewer, reverse("quality-mine"))
    assert f'href="{reverse("quality-conversations")}"' in content


@pytest.mark.django_db
def test_the_console_pages_render(admin_client, conversation, supervisor, checklist):
    services.review_submit(
        conversation_id=conversation.pk,
        reviewer=supervisor,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
    )
    review = Review.objects.get()
    for name in ("reviewform", "review", "queueretention", "purgedtranscript"):
        assert admin_client.get(reverse(f"admin:quality_{name}_changelist")).status_code == 200, name
    assert admin_client.get(reverse("admin:quality_reviewform_add")).status_code == 200
    assert admin_client.get(reverse("admin:quality_reviewform_change", args=[checklist.pk])).status_code == 200
    assert admin_client.get(reverse("admin:quality_review_change", args=[review.pk])).status_code == 200
    assert admin_client.get(reverse("admin:quality_queueretention_add")).status_code == 200


@pytest.mark.django_db
def test_a_stale_form_link_shows_the_first_form_but_a_post_never_switches_forms(
    client, reviewer, conversation, checklist
):
    url = reverse("quality-review", args=[conversation.pk])
    assert "Greets the customer" in page(client, reviewer, f"{url}?form=999999")
    response = client.post(url, {"form": "999999", "comment": "x"})
    assert response.status_code == 400
    assert "This review form is not used for this conversation" in response.content.decode()
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_the_console_refuses_to_delete_an_item_already_scored(admin_client, conversation, supervisor, checklist):
    services.review_submit(
        conversation_id=conversation.pk,
        reviewer=supervisor,
        form_id=checklist.pk,
        scores=all_scores(checklist, 1, 1, 5),
    )
    greet, identity, answer = items(checklist)
    data = {
        "name": checklist.name,
        "is_active": "on",
        "items-TOTAL_FORMS": "3",
        "items-INITIAL_FORMS": "3",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for n, item in enumerate((greet, identity, answer)):
        data |= {
            f"items-{n}-id": item.pk,
            f"items-{n}-form": checklist.pk,
            f"items-{n}-order": item.order,
            f"items-{n}-text": item.text,
            f"items-{n}-max_score": item.max_score,
            f"items-{n}-pass_score": item.pass_score,
        }
    data["items-0-DELETE"] = "on"
    response = admin_client.post(reverse("admin:quality_reviewform_change", args=[checklist.pk]), data)
    assert response.status_code == 200  # the form again, with the reason
    assert "would require deleting the following protected related objects" in response.content.decode()
    assert ReviewItem.objects.filter(pk=greet.pk).exists()
