"""The agent's toolkit as services: canned responses, links, transfer, conference,
consultation, leaving (A5–A8, W8)."""

import uuid

import pytest

from chat import canned, handover, selectors
from chat import services as chat
from chat.models import CannedResponse, Conversation, Invitation, Message, Participant
from chat.services import ChatError
from routing import services as routing
from routing.models import Queue, WeeklySlot, WorkItem
from tests.factories import QueueFactory, QueueMembershipFactory, UserFactory


def answered_chat(widget, agent, **start):
    conversation, _ = chat.conversation_start(widget=widget, prechat={}, **start)
    item = WorkItem.objects.get(reference=str(conversation.pk))
    routing.work_item_pick(agent=agent, item_id=item.pk)
    conversation.refresh_from_db()
    return conversation


def colleague(queue, name="olga"):
    agent = QueueMembershipFactory(queue=queue, agent__user__username=name, agent__user__first_name=name.title()).agent
    routing.presence_set(agent=agent, presence="ready")
    return agent


def visible_texts(conversation):
    return [
        frame.get("text")
        for frame in selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=False)
    ]


# --- canned responses -------------------------------------------------------------------


@pytest.mark.django_db
def test_canned_responses_by_scope_filled_for_the_chat(widget, ready_agent, outsider_agent):
    other_queue = QueueFactory(name="Elsewhere")
    user = ready_agent.user
    CannedResponse.objects.create(scope="global", shortcut="hello", title="Hello", text="Hei {customer_name}!")
    hours_text = "{queue} palvelee tänään {opening_hours}. T. {agent_name} {unknown}"
    CannedResponse.objects.create(scope="team", queue=widget.queue, shortcut="hours", title="Hours", text=hours_text)
    CannedResponse.objects.create(scope="team", queue=other_queue, shortcut="other", title="Other team", text="x")
    CannedResponse.objects.create(scope="personal", owner=user, shortcut="bye", title="Mine", text="Moi!")
    CannedResponse.objects.create(
        scope="personal", owner=outsider_agent.user, shortcut="secret", title="Not mine", text="y"
    )
    conversation, _ = chat.conversation_start(widget=widget, prechat={}, locale="fi")
    WeeklySlot.objects.filter(queue=widget.queue).update(opens="09:00", closes="14:30")
    Conversation.objects.filter(pk=conversation.pk).update(prechat={"name": "Liisa"})
    routing.work_item_pick(agent=ready_agent, item_id=WorkItem.objects.get(reference=str(conversation.pk)).pk)

    listed = canned.for_conversation(user=user, conversation_id=conversation.pk)
    assert [r["shortcut"] for r in listed] == ["bye", "hours", "hello"]  # own, team, everyone's
    texts = {r["shortcut"]: r["text"] for r in listed}
    assert texts["hello"] == "Hei Liisa!"
    assert texts["hours"] == f"{widget.queue.name} palvelee tänään 9:00–14:30. T. Aino {{unknown}}"
    assert [r["shortcut"] for r in canned.for_conversation(user=user, conversation_id=conversation.pk, q="ho")] == [
        "hours"
    ]
    with pytest.raises(ChatError) as hidden:
        canned.for_conversation(user=outsider_agent.user, conversation_id=conversation.pk)
    assert hidden.value.code == "not_found"


@pytest.mark.django_db
def test_an_agent_manages_only_their_own_canned_responses(agent, outsider_agent):
    mine = canned.own_create(user=agent.user, shortcut="thanks", title="Thanks", text="Kiitos!")
    assert (mine.scope, mine.owner) == ("personal", agent.user)
    assert canned.own_update(user=agent.user, response_id=mine.pk, text="Kiitos paljon!").text == "Kiitos paljon!"
    with pytest.raises(ChatError) as invalid:
        canned.own_create(user=agent.user, shortcut="not a slug!", title="", text="x")
    assert invalid.value.code == "invalid"
    assert {"shortcut", "title"} <= set(invalid.value.fields)
    with pytest.raises(ChatError) as foreign:
        canned.own_update(user=outsider_agent.user, response_id=mine.pk, text="hijack")
    assert foreign.value.code == "not_found"
    global_one = CannedResponse.objects.create(scope="global", shortcut="g", title="G", text="g")
    with pytest.raises(ChatError):
        canned.own_delete(user=agent.user, response_id=global_one.pk)
    canned.own_delete(user=agent.user, response_id=mine.pk)
    assert list(CannedResponse.objects.values_list("shortcut", flat=True)) == ["g"]


@pytest.mark.django_db
def test_canned_responses_import_and_export_with_the_scope_rules(agent, queue):
    import tablib

    from chat.admin import CannedResponseResource

    dataset = tablib.Dataset(headers=["scope", "owner", "queue", "shortcut", "title", "text", "language"])
    dataset.append(["team", "", queue.name, "hours", "Hours", "Open 9–14:30", "en"])
    dataset.append(["personal", agent.user.username, "", "bye", "Bye", "Moi", "fi"])
    result = CannedResponseResource().import_data(dataset, dry_run=False, raise_errors=False)
    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert CannedResponse.objects.get(shortcut="hours").queue == queue

    bad = tablib.Dataset(headers=["scope", "owner", "queue", "shortcut", "title", "text", "language"])
    bad.append(["personal", "", "", "nobody", "No owner", "x", ""])
    result = CannedResponseResource().import_data(bad, dry_run=False, raise_errors=False)
    assert result.has_validation_errors()
    assert not CannedResponse.objects.filter(shortcut="nobody").exists()

    exported = CannedResponseResource().export()
    assert {row["shortcut"] for row in exported.dict} == {"hours", "bye"}
    assert {row["owner"] for row in exported.dict} == {"", agent.user.username}


# --- links --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_links_under_an_alias_only_with_safe_schemes(widget, ready_agent):
    conversation = answered_chat(widget, ready_agent)
    post = lambda url, text="Opas": chat.message_post_by_agent(  # noqa: E731
        conversation_id=conversation.pk, user=ready_agent.user, client_id=str(uuid.uuid4()), text=text, link_url=url
    )
    for url in ("https://example.fi/opas", "mailto:neuvonta@example.fi", "tel:+358401234567"):
        message, _ = post(url)
        assert message.link_url == url
    message, _ = post("https://example.fi/x", text="")
    assert message.text == "https://example.fi/x"  # no alias: the address itself
    for bad in ("javascript:alert(1)", "data:text/html,x", "https://", "http://exa mple.fi", "ftp://x.fi", "", None):
        with pytest.raises(ChatError) as refused:
            post(bad) if bad is not None else chat.validate_link(bad)
        assert refused.value.code == "invalid"
    frames = selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=False)
    assert [f["link"] for f in frames if f.get("link")][:3] == [
        "https://example.fi/opas", "mailto:neuvonta@example.fi", "tel:+358401234567",
    ]  # fmt: skip


# --- transfer, conference, consultation ---------------------------------------------------


@pytest.mark.django_db
def test_transfer_to_a_colleague_who_accepts(widget, ready_agent):
    conversation = answered_chat(widget, ready_agent)
    olga = colleague(widget.queue)
    invitation = handover.invite(
        conversation_id=conversation.pk, sender=ready_agent.user, receiver_id=olga.user_id, kind="transfer",
        note="Asks about rent arrears",
    )  # fmt: skip
    assert Participant.objects.get(conversation=conversation, left_at__isnull=True).agent == ready_agent.user
    handover.invitation_accept(invitation_id=invitation.pk, user=olga.user)

    conversation.refresh_from_db()
    assert conversation.agent == olga.user
    assert list(
        Participant.objects.filter(conversation=conversation, left_at__isnull=True).values_list("agent", flat=True)
    ) == [olga.user_id]
    item = WorkItem.objects.get(reference=str(conversation.pk))
    assert (item.state, item.agent) == ("assigned", olga)
    kinds = [
        f.get("event") for f in selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=False)
    ]
    assert kinds[-3:] == ["transferred", "agent_joined", "agent_left"]  # the customer is told
    note = Message.objects.get(conversation=conversation, internal=True)
    assert "Asks about rent arrears" in note.text
    assert "Asks about rent arrears" not in visible_texts(conversation)
    with pytest.raises(ChatError) as twice:
        handover.invitation_accept(invitation_id=invitation.pk, user=olga.user)
    assert twice.value.code == "invitation_gone"


@pytest.mark.django_db
def test_a_transfer_to_a_full_colleague_is_refused_and_nothing_changes(widget, ready_agent):
    conversation = answered_chat(widget, ready_agent)
    olga = colleague(widget.queue)
    type(olga).objects.filter(pk=olga.pk).update(chat_capacity=1)
    answered_chat(widget, olga)  # Olga is full now
    invitation = handover.invite(
        conversation_id=conversation.pk, sender=ready_agent.user, receiver_id=olga.user_id, kind="transfer"
    )
    with pytest.raises(ChatError) as full:
        handover.invitation_accept(invitation_id=invitation.pk, user=olga.user)
    assert full.value.code == "at_capacity"
    conversation.refresh_from_db()
    assert conversation.agent == ready_agent.user
    assert Invitation.objects.get(pk=invitation.pk).state == "pending"


@pytest.mark.django_db
def test_invitations_are_checked(widget, ready_agent, outsider_agent):
    conversation = answered_chat(widget, ready_agent)
    olga = colleague(widget.queue)
    invite = lambda **kw: handover.invite(  # noqa: E731
        **{
            "conversation_id": conversation.pk,
            "sender": ready_agent.user,
            "receiver_id": olga.user_id,
            "kind": "conference",
            **kw,
        }
    )
    for kwargs, code in [
        ({"kind": "kidnap"}, "invalid"),
        ({"receiver_id": ready_agent.user_id}, "invalid"),
        ({"receiver_id": UserFactory().pk}, "not_found"),
        ({"sender": olga.user}, "forbidden"),
        ({"note": "x" * 2001}, "invalid"),
    ]:
        with pytest.raises(ChatError) as refused:
            invite(**kwargs)
        assert refused.value.code == code, kwargs
    routing.presence_set(agent=outsider_agent, presence="offline")
    with pytest.raises(ChatError) as offline:
        invite(receiver_id=outsider_agent.user_id)
    assert offline.value.code == "offline"
    invitation = invite()
    with pytest.raises(ChatError) as again:
        invite()
    assert again.value.code == "already_invited"
    with pytest.raises(ChatError):
        handover.invitation_accept(invitation_id=invitation.pk, user=ready_agent.user)  # not the receiver
    handover.invitation_decline(invitation_id=invitation.pk, user=olga.user)
    assert Participant.objects.filter(conversation=conversation, left_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_conference_both_see_everything_and_either_can_leave(widget, ready_agent):
    conversation = answered_chat(widget, ready_agent)
    olga = colleague(widget.queue)
    invitation = handover.invite(
        conversation_id=conversation.pk, sender=ready_agent.user, receiver_id=olga.user_id, kind="conference"
    )
    handover.invitation_accept(invitation_id=invitation.pk, user=olga.user)
    for user in (ready_agent.user, olga.user):
        chat.message_post_by_agent(
            conversation_id=conversation.pk, user=user, client_id=None, text=f"from {user.username}"
        )
    assert {"from aino", "from olga"} <= set(visible_texts(conversation))

    handover.conversation_leave(conversation_id=conversation.pk, user=ready_agent.user)  # the holder leaves
    conversation.refresh_from_db()
    item = WorkItem.objects.get(reference=str(conversation.pk))
    assert (conversation.agent, item.agent) == (olga.user, olga)
    with pytest.raises(ChatError) as last:
        handover.conversation_leave(conversation_id=conversation.pk, user=olga.user)
    assert last.value.code == "last_agent"


@pytest.mark.django_db
def test_a_consultant_sees_notes_writes_notes_and_stays_unseen_by_the_customer(widget, ready_agent):
    conversation = answered_chat(widget, ready_agent)
    olga = colleague(widget.queue)
    invitation = handover.invite(
        conversation_id=conversation.pk, sender=ready_agent.user, receiver_id=olga.user_id, kind="consultation",
        note="Is this a rent arrears case?",
    )  # fmt: skip
    handover.invitation_accept(invitation_id=invitation.pk, user=olga.user)
    chat.message_post_by_agent(
        conversation_id=conversation.pk, user=olga.user, client_id=None, text="Yes, transfer it", internal=True
    )
    with pytest.raises(ChatError) as refused:
        chat.message_post_by_agent(conversation_id=conversation.pk, user=olga.user, client_id=None, text="Hi customer")
    assert refused.value.code == "forbidden"
    customer_view = selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=False)
    assert not any(f.get("event") == "agent_joined" and f["data"]["name"] == "Olga" for f in customer_view)
    assert not any(
        "transfer it" in (f.get("text") or "") or "rent arrears" in (f.get("text") or "") for f in customer_view
    )
    agent_view = selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=True)
    assert any(f.get("text") == "Yes, transfer it" for f in agent_view)
    [consulting] = [c for c in selectors.active_conversations_of(user=olga.user)]
    assert consulting.my_role == "consultant"
    handover.conversation_leave(conversation_id=conversation.pk, user=olga.user)
    assert WorkItem.objects.get(reference=str(conversation.pk)).agent == ready_agent


@pytest.mark.django_db
def test_transfer_to_a_queue_keeps_the_waiting_time_and_the_sender_until_the_next_agent(
    widget, ready_agent, django_capture_on_commit_callbacks
):
    conversation = answered_chat(widget, ready_agent)
    enqueued = WorkItem.objects.get(reference=str(conversation.pk)).enqueued_at
    arrears = QueueFactory(name="Rent arrears")
    handover.transfer_to_queue(
        conversation_id=conversation.pk, user=ready_agent.user, queue_id=arrears.pk, note="Arrears"
    )
    item = WorkItem.objects.get(reference=str(conversation.pk))
    assert (item.state, item.queue, item.enqueued_at) == ("waiting", arrears, enqueued)
    assert Participant.objects.get(conversation=conversation, left_at__isnull=True).handing_over
    # The sender still talks with the customer meanwhile.
    chat.message_post_by_agent(conversation_id=conversation.pk, user=ready_agent.user, client_id=None, text="Hetki")

    olga = QueueMembershipFactory(queue=arrears, agent__user__username="olga", agent__user__first_name="Olga").agent
    with django_capture_on_commit_callbacks(execute=True):
        routing.presence_set(agent=olga, presence="ready")
    offered = WorkItem.objects.get(reference=str(conversation.pk))
    assert (offered.state, offered.agent) == ("offered", olga)
    routing.offer_accept(agent=olga, item_id=offered.pk)
    assert list(
        Participant.objects.filter(conversation=conversation, left_at__isnull=True).values_list("agent", flat=True)
    ) == [olga.user_id]
    kinds = [
        f.get("event") for f in selectors.items_after(conversation_id=conversation.pk, after_seq=0, for_agent=False)
    ]
    assert kinds.count("transferred") == 1
    assert kinds[-2:] == ["agent_joined", "agent_left"]


@pytest.mark.django_db
def test_transfer_to_a_category_and_leaving_at_once(widget, ready_agent):
    from chat.models import PrechatChoice, PrechatField

    arrears = QueueFactory(name="Rent arrears")
    field = PrechatField.objects.create(queue=widget.queue, name="topic", label="Topic", type="choice")
    choice = PrechatChoice.objects.create(field=field, value="arrears", label="Rent arrears", route_to=arrears)
    conversation = answered_chat(widget, ready_agent)
    with pytest.raises(ChatError):
        handover.transfer_to_queue(conversation_id=conversation.pk, user=ready_agent.user)  # neither queue nor category
    handover.transfer_to_queue(conversation_id=conversation.pk, user=ready_agent.user, choice_id=choice.pk, stay=False)
    conversation.refresh_from_db()
    assert (conversation.queue, conversation.state) == (arrears, Conversation.State.QUEUED)
    assert not Participant.objects.filter(conversation=conversation, left_at__isnull=True).exists()
    voice_only = QueueFactory(name="Phones", channels=["voice"])
    other = answered_chat(widget, ready_agent)
    with pytest.raises(ChatError) as refused:
        handover.transfer_to_queue(conversation_id=other.pk, user=ready_agent.user, queue_id=voice_only.pk)
    assert refused.value.code == "not_found"
    assert Queue.objects.filter(pk=voice_only.pk).exists()


# --- wrap-up ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_wrap_up_disposition_and_note_within_the_wrap_up_time(widget, ready_agent, outsider_agent):
    import datetime

    from chat import wrapup
    from routing.models import DispositionCode

    advice = DispositionCode.objects.create(name="Advice given")
    other_queue_code = DispositionCode.objects.create(name="Sale", queue=QueueFactory(name="Sales"))
    conversation = answered_chat(widget, ready_agent)
    with pytest.raises(ChatError) as early:
        wrapup.wrap_up_set(conversation_id=conversation.pk, user=ready_agent.user, disposition_id=advice.pk)
    assert early.value.code == "not_ended"
    chat.conversation_end(conversation_id=conversation.pk, ended_by="agent", actor=ready_agent.user)

    form = wrapup.wrap_up_form(conversation_id=conversation.pk, user=ready_agent.user)
    assert [code["name"] for code in form["codes"]] == ["Advice given"]  # not another queue's
    assert form["open"]
    with pytest.raises(ChatError):
        wrapup.wrap_up_set(conversation_id=conversation.pk, user=ready_agent.user, disposition_id=other_queue_code.pk)
    with pytest.raises(ChatError) as outsider:
        wrapup.wrap_up_set(conversation_id=conversation.pk, user=outsider_agent.user, disposition_id=advice.pk)
    assert outsider.value.code == "not_found"
    wrapup.wrap_up_set(
        conversation_id=conversation.pk, user=ready_agent.user, disposition_id=advice.pk, note="Sent the form"
    )
    conversation.refresh_from_db()
    assert (conversation.disposition, conversation.wrap_up_note) == (advice, "Sent the form")

    Conversation.objects.filter(pk=conversation.pk).update(
        ended_at=conversation.ended_at - datetime.timedelta(seconds=wrapup.MIN_WRAP_UP_SECONDS + 1)
    )
    with pytest.raises(ChatError) as late:
        wrapup.wrap_up_set(conversation_id=conversation.pk, user=ready_agent.user, note="too late")
    assert late.value.code == "wrap_up_over"


@pytest.mark.django_db
def test_the_queue_wrap_up_time_holds_the_agent_back(widget, ready_agent, django_capture_on_commit_callbacks):
    Queue.objects.filter(pk=widget.queue_id).update(wrap_up_seconds=45)
    conversation = answered_chat(widget, ready_agent)
    chat.conversation_end(conversation_id=conversation.pk, ended_by="agent", actor=ready_agent.user)
    ready_agent.refresh_from_db()
    conversation.refresh_from_db()
    assert ready_agent.presence == "wrap_up"
    assert 40 <= (ready_agent.wrap_up_until - conversation.ended_at).total_seconds() <= 50


@pytest.mark.django_db
def test_the_agent_page_for_their_own_canned_responses(client, agent, outsider_agent):
    from django.urls import reverse

    url = reverse("my-canned-responses")
    client.force_login(agent.user)
    assert client.get(url).status_code == 200
    response = client.post(url, {"action": "save", "shortcut": "moi", "title": "Moi", "text": "Moi {customer_name}!"})
    assert response.status_code == 302
    mine = CannedResponse.objects.get(shortcut="moi")
    assert (mine.scope, mine.owner) == ("personal", agent.user)
    bad = client.post(url, {"action": "save", "shortcut": "no spaces", "title": "", "text": "x"})
    assert bad.status_code == 400
    assert 'aria-invalid="true"' in bad.content.decode()
    assert CannedResponse.objects.count() == 1  # nothing half-stored
    client.post(url, {"action": "save", "id": mine.pk, "shortcut": "moi", "title": "Hei", "text": "Hei!"})
    mine.refresh_from_db()
    assert (mine.title, mine.text) == ("Hei", "Hei!")

    client.force_login(outsider_agent.user)
    assert client.post(url, {"action": "delete", "id": mine.pk}).status_code == 400  # not theirs
    assert "Hei!" not in client.get(url).content.decode()
    client.force_login(agent.user)
    client.post(url, {"action": "delete", "id": mine.pk})
    assert not CannedResponse.objects.exists()


@pytest.mark.django_db
def test_a_note_from_outside_a_chat_needs_the_right_to_see_it(widget, ready_agent, outsider_agent, supervisor):
    conversation = answered_chat(widget, ready_agent)
    with pytest.raises(ChatError) as hidden:
        chat.message_post_by_agent(conversation_id=conversation.pk, user=outsider_agent.user, client_id=None,
                                   text="sneaky", internal=True)  # fmt: skip
    assert hidden.value.code == "not_found"
    assert not Message.objects.filter(text="sneaky").exists()
    note, _ = chat.message_post_by_agent(
        conversation_id=conversation.pk, user=supervisor, client_id=None, text="From the supervisor", internal=True
    )
    assert note.internal
