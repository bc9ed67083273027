"""Working on a chat together (A6, A7): transfer to a colleague, a queue or a category,
conference and consultation, and leaving a chat others carry on.

A colleague is asked with an invitation they accept or decline within a minute; until then
nothing changes for the customer. Accepting a transfer moves the work item to the colleague
(their capacity is checked under lock) and the sender leaves; a conference adds the colleague
beside the sender; a consultant sees the chat and its notes and writes notes only, unseen
by the customer. A transfer to a queue re-queues the work with its original waiting time;
the sender may stay in the chat until the next agent joins.
"""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.realtime import publish_on_commit
from routing import services as routing
from routing.models import AgentProfile, Queue
from routing.selectors import can_serve, is_supervisor

from .frames import assigned_frame, conversation_summary
from .models import Conversation, Invitation, Message, Participant, PrechatChoice
from .services import CHANNEL, ChatError, _store_event, _store_message, shown_agent_name

NOTE_MAX = 2000


def _active_participant(conversation: Conversation, user, *, role=Participant.Role.AGENT) -> Participant:
    participant = Participant.objects.filter(
        conversation=conversation, agent=user, left_at__isnull=True, role=role
    ).first()
    if participant is None:
        raise ChatError("forbidden", _("You are not in this chat."))
    return participant


def _locked_conversation(conversation_id) -> Conversation:
    conversation = (
        Conversation.objects.select_for_update(no_key=True, of=("self",))
        .select_related("widget", "queue", "contact")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise ChatError("not_found", _("No such conversation."))
    if conversation.state == Conversation.State.ENDED:
        raise ChatError("ended", _("This chat has ended."))
    return conversation


def _note(conversation: Conversation, text: str, *, user=None, name: str = "") -> None:
    """A line only agents see: who joined to consult, the sender's note for the receiver."""
    _store_message(conversation, role=Message.Role.SYSTEM, text=text[:4000], name=name, user=user, internal=True)


def _clean_note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise ChatError("invalid", _("A note is text of at most %(max)s characters.") % {"max": NOTE_MAX})
    return note.strip()


# --- invitations ------------------------------------------------------------------------


def invitation_frame(invitation: Invitation) -> dict:
    return {
        "type": "invitation",
        "id": str(invitation.pk),
        "kind": invitation.kind,
        "state": invitation.state,
        "sender_id": invitation.sender_id,
        "receiver_id": invitation.receiver_id,
        "from": invitation.sender.get_full_name() or invitation.sender.get_username(),
        "to": invitation.receiver.get_full_name() or invitation.receiver.get_username(),
        "note": invitation.note,
        "expires_at": invitation.expires_at.isoformat(),
        "conversation": conversation_summary(invitation.conversation),
    }


def _tell(invitation: Invitation) -> None:
    frame = invitation_frame(invitation)
    publish_on_commit(groups=[f"agent.{invitation.sender_id}", f"agent.{invitation.receiver_id}"], event=frame)


@transaction.atomic
def invite(*, conversation_id, sender, receiver_id, kind: str, note: str = "") -> Invitation:
    """Ask a logged-on colleague to take over, join or advise on a chat the sender is in."""
    if kind not in Invitation.Kind.values:
        raise ChatError("invalid", _("Unknown kind of invitation."))
    note = _clean_note(note)
    conversation = _locked_conversation(conversation_id)
    _active_participant(conversation, sender)
    receiver = get_user_model().objects.filter(pk=receiver_id, is_active=True).first()
    profile = AgentProfile.objects.filter(user=receiver).first() if receiver else None
    if receiver is None or profile is None or not can_serve(receiver):
        raise ChatError("not_found", _("No such colleague."))
    if receiver.pk == sender.pk:
        raise ChatError("invalid", _("Choose a colleague, not yourself."))
    if profile.presence == AgentProfile.Presence.OFFLINE:
        raise ChatError("offline", _("Your colleague is offline."))
    if Participant.objects.filter(conversation=conversation, agent=receiver, left_at__isnull=True).exists():
        raise ChatError("already_in", _("Your colleague is in this chat already."))
    Invitation.objects.filter(
        conversation=conversation, receiver=receiver, state=Invitation.State.PENDING, expires_at__lt=timezone.now()
    ).update(state=Invitation.State.EXPIRED)
    if Invitation.objects.filter(conversation=conversation, receiver=receiver, state=Invitation.State.PENDING).exists():
        raise ChatError("already_invited", _("Your colleague has been asked already."))
    invitation = Invitation.objects.create(
        conversation=conversation,
        kind=kind,
        sender=sender,
        receiver=receiver,
        note=note,
        expires_at=timezone.now() + datetime.timedelta(seconds=Invitation.TIMEOUT_SECONDS),
    )
    _tell(invitation)
    return invitation


def _pending(invitation_id, *, user, as_receiver: bool) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("sender", "receiver", "conversation__queue", "conversation__contact")
        .filter(pk=invitation_id)
        .first()
    )
    owner_id = invitation.receiver_id if invitation and as_receiver else invitation.sender_id if invitation else None
    if invitation is None or owner_id != user.pk:
        raise ChatError("not_found", _("No such invitation."))
    if invitation.state == Invitation.State.PENDING and invitation.expires_at < timezone.now():
        invitation.state = Invitation.State.EXPIRED
        invitation.save(update_fields=["state"])
    if invitation.state != Invitation.State.PENDING:
        raise ChatError("invitation_gone", _("This invitation is no longer open."))
    return invitation


def _answer(invitation: Invitation, state: str) -> None:
    invitation.state = state
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["state", "answered_at"])
    _tell(invitation)


def invitation_accept(*, invitation_id, user) -> Invitation:
    try:
        with transaction.atomic():
            invitation = _pending(invitation_id, user=user, as_receiver=True)
            conversation = _locked_conversation(invitation.conversation_id)
            if invitation.kind == Invitation.Kind.TRANSFER:
                _take_over(conversation, sender=invitation.sender, receiver=user, note=invitation.note)
            else:
                _join(conversation, user=user, kind=invitation.kind, sender=invitation.sender, note=invitation.note)
            _answer(invitation, Invitation.State.ACCEPTED)
            return invitation
    except routing.RoutingError as error:
        raise ChatError(error.code, str(error)) from None


@transaction.atomic
def invitation_decline(*, invitation_id, user) -> Invitation:
    invitation = _pending(invitation_id, user=user, as_receiver=True)
    _answer(invitation, Invitation.State.DECLINED)
    return invitation


@transaction.atomic
def invitation_withdraw(*, invitation_id, user) -> Invitation:
    invitation = _pending(invitation_id, user=user, as_receiver=False)
    _answer(invitation, Invitation.State.WITHDRAWN)
    return invitation


def pending_invitations_for(*, user) -> list[Invitation]:
    return list(
        Invitation.objects.filter(receiver=user, state=Invitation.State.PENDING, expires_at__gte=timezone.now())
        .select_related("sender", "receiver", "conversation__queue", "conversation__contact")
        .order_by("created_at")
    )


def _joined_name(conversation: Conversation, user) -> str:
    return shown_agent_name(conversation.widget, user)


def _open_for(conversation: Conversation, user, *, role: str = Participant.Role.AGENT) -> None:
    """The colleague's workspace opens the chat and replays its history."""
    frame = assigned_frame(conversation)
    frame["role"] = role
    publish_on_commit(groups=[f"agent.{user.pk}"], event=frame)


def _take_over(conversation: Conversation, *, sender, receiver, note: str) -> None:
    sender_part = _active_participant(conversation, sender)
    profile = AgentProfile.objects.get(user=receiver)
    routing.work_item_transfer(channel=CHANNEL, reference=str(conversation.pk), to_agent=profile)
    name = _joined_name(conversation, receiver)
    if note:
        _note(conversation, _("Note from %(name)s: %(note)s") % {"name": sender_part.shown_name, "note": note})
    Participant.objects.create(conversation=conversation, agent=receiver, shown_name=name)
    conversation.agent = receiver
    conversation.save(update_fields=["agent"])
    _store_event(conversation, "transferred", {"to": name}, actor=sender)
    _store_event(conversation, "agent_joined", {"name": name}, actor=receiver)
    _open_for(conversation, receiver)
    _leave(conversation, sender_part)


def _join(conversation: Conversation, *, user, kind: str, sender, note: str) -> None:
    name = _joined_name(conversation, user)
    if kind == Invitation.Kind.CONSULTATION:
        Participant.objects.create(
            conversation=conversation, agent=user, shown_name=name, role=Participant.Role.CONSULTANT
        )
        _note(conversation, _("%(name)s is consulting on this chat.") % {"name": name})
        if note:
            _note(conversation, note, user=sender, name=sender.get_full_name() or sender.get_username())
        _open_for(conversation, user, role=Participant.Role.CONSULTANT)
        return
    Participant.objects.create(conversation=conversation, agent=user, shown_name=name)
    if note:
        _note(conversation, note, user=sender, name=sender.get_full_name() or sender.get_username())
    _store_event(conversation, "agent_joined", {"name": name}, actor=user)
    _open_for(conversation, user)


# --- supervisors listening in (S1) ------------------------------------------------------


@transaction.atomic
def monitor_start(*, conversation_id, supervisor) -> tuple[Conversation, bool]:
    """A supervisor listens in on any open chat, without an invitation: as a consultant, who
    sees the chat and its notes and writes notes only (the whisper to the agents), and of
    whom the customer is never told. Agents get a note that the supervisor listens.
    Returns the conversation and whether this call joined it (False: the supervisor was in
    it already). Leaving is `conversation_leave`."""
    if not is_supervisor(supervisor):
        raise ChatError("forbidden", _("Supervisors only."))
    conversation = _locked_conversation(conversation_id)
    if Participant.objects.filter(conversation=conversation, agent=supervisor, left_at__isnull=True).exists():
        return conversation, False
    # The customer never sees a consultant's name; agents see who writes the notes.
    name = supervisor.get_full_name() or supervisor.get_username()
    Participant.objects.create(
        conversation=conversation, agent=supervisor, shown_name=name, role=Participant.Role.CONSULTANT
    )
    _note(conversation, _("%(name)s is listening.") % {"name": name})
    _open_for(conversation, supervisor, role=Participant.Role.CONSULTANT)
    return conversation, True


# --- leaving and transfers to a queue ----------------------------------------------------


def _leave(conversation: Conversation, participant: Participant) -> None:
    participant.left_at = timezone.now()
    participant.handing_over = False
    participant.save(update_fields=["left_at", "handing_over"])
    if participant.role == Participant.Role.CONSULTANT:
        _note(conversation, _("%(name)s stopped consulting.") % {"name": participant.shown_name})
    else:
        _store_event(conversation, "agent_left", {"name": participant.shown_name}, actor=participant.agent)
    publish_on_commit(
        groups=[f"agent.{participant.agent_id}"],
        event={"type": "left", "conversation_id": str(conversation.pk)},
    )


@transaction.atomic
def conversation_leave(*, conversation_id, user) -> Conversation:
    """Leave a chat others carry on: a conference, a consultation, or a transfer to a queue
    whose next agent has not joined yet. The last agent of an answered chat ends it instead."""
    conversation = _locked_conversation(conversation_id)
    participant = Participant.objects.filter(conversation=conversation, agent=user, left_at__isnull=True).first()
    if participant is None:
        raise ChatError("forbidden", _("You are not in this chat."))
    others = Participant.objects.filter(
        conversation=conversation, left_at__isnull=True, role=Participant.Role.AGENT
    ).exclude(pk=participant.pk)
    if participant.role == Participant.Role.AGENT and not participant.handing_over:
        successor = others.first()
        if successor is None:
            raise ChatError("last_agent", _("You are the last agent here: end the chat or transfer it instead."))
        if conversation.agent_id == user.pk:
            # The work item follows the chat to the agent who stays.
            profile = AgentProfile.objects.get(user=successor.agent)
            try:
                routing.work_item_transfer(channel=CHANNEL, reference=str(conversation.pk), to_agent=profile)
            except routing.RoutingError as error:
                raise ChatError(error.code, str(error)) from None
            conversation.agent = successor.agent
            conversation.save(update_fields=["agent"])
    _leave(conversation, participant)
    if participant.handing_over and not others.exists():
        conversation.state = Conversation.State.QUEUED
        conversation.save(update_fields=["state"])
    return conversation


@transaction.atomic
def transfer_to_queue(
    *, conversation_id, user, queue_id=None, choice_id=None, note: str = "", stay: bool = True
) -> Conversation:
    """Send the chat to wait in another queue, or the queue of a pre-chat category (A6); it
    keeps its original waiting time. The sender stays until the next agent joins, or leaves
    now with `stay` false."""
    note = _clean_note(note)
    if (queue_id is None) == (choice_id is None):
        raise ChatError("invalid", _("Choose a queue or a category."))
    category = ""
    if choice_id is not None:
        choice = PrechatChoice.objects.select_related("route_to").filter(pk=choice_id, route_to__isnull=False).first()
        if choice is None:
            raise ChatError("not_found", _("No such category."))
        queue, category = choice.route_to, choice.label
    else:
        queue = Queue.objects.filter(pk=queue_id).first()
    if queue is None or not queue.is_active or not queue.serves(CHANNEL):
        raise ChatError("not_found", _("No such queue."))
    conversation = _locked_conversation(conversation_id)
    participant = _active_participant(conversation, user)
    try:
        routing.work_item_requeue(channel=CHANNEL, reference=str(conversation.pk), queue=queue)
    except routing.RoutingError as error:
        raise ChatError(error.code, str(error)) from None
    conversation.queue = queue
    conversation.save(update_fields=["queue"])
    if note:
        _note(conversation, _("Note from %(name)s: %(note)s") % {"name": participant.shown_name, "note": note})
    _store_event(conversation, "transferred", {"queue": queue.name, "category": category}, actor=user)
    Participant.objects.filter(conversation=conversation, left_at__isnull=True, role=Participant.Role.AGENT).update(
        handing_over=True
    )
    if not stay:
        participant.refresh_from_db()
        _leave(conversation, participant)
        if not Participant.objects.filter(
            conversation=conversation, left_at__isnull=True, role=Participant.Role.AGENT
        ).exists():
            conversation.state = Conversation.State.QUEUED
            conversation.save(update_fields=["state"])
    return conversation


def handed_over(*, conversation: Conversation, to_user) -> None:
    """The next agent joined a chat transferred to a queue: those who stayed to hand it over
    leave now (unless the queue gave it back to one of them). Called inside the router's
    transaction, by agent_join."""
    staying = Participant.objects.filter(conversation=conversation, left_at__isnull=True, handing_over=True)
    staying.filter(agent=to_user).update(handing_over=False)
    for participant in staying.exclude(agent=to_user):
        _leave(conversation, participant)


def colleagues_for(*, user) -> list[dict]:
    """Logged-on colleagues to invite, with their presence and free chat slots."""
    from routing.rules import CHATS
    from routing.selectors import candidates

    agents = list(
        AgentProfile.objects.exclude(presence=AgentProfile.Presence.OFFLINE)
        .exclude(user=user)
        .filter(user__is_active=True)
        .select_related("user")
        .order_by("user__first_name", "user__username")
    )
    slots = candidates(agents)
    return [
        {
            "user_id": agent.user_id,
            "name": agent.user.get_full_name() or agent.user.get_username(),
            "presence": agent.presence,
            "free_chat_slots": slots[agent.pk].free(CHATS),
        }
        for agent in agents
        if can_serve(agent.user)
    ]
