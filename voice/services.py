"""The verbs of a call: start, connect, queue, answer, hold, record, transfer, end.

Each verb is one transaction on the call's row. After it commits, it tells the parties
(groups `call.<id>` for the caller's socket, `agent.<user id>` for the workspace) and the
media process (group MEDIA_GROUP) what changed; the media process does what it is told and
reports back through `leg_connected`, `leg_lost` and `recording_store`.
"""

from __future__ import annotations

import datetime
import hashlib
import time
import uuid

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Avg, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.realtime import publish_on_commit
from routing import hours
from routing import services as routing
from routing.models import AgentProfile, Channel, Contact, Queue, WorkItem
from routing.services import RoutingError

from . import prompts
from .models import Call, CallEvent, QueueVoice, Recording, new_token_nonce

MEDIA_GROUP = "voice.media"
LIVE_CALLS_GROUP = "voice.calls"  # supervisors' sockets: every live call's state
MONITOR = "monitor:"
TOKEN_SALT = "voice.caller-token"  # noqa: S105 - a signing salt, not a secret
RECORDING_ACTIONS = ("start", "pause", "resume", "mask", "unmask")


class VoiceError(Exception):
    """A call verb cannot be done; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def call_group(call_id) -> str:
    return f"call.{call_id}"


def media_command(kind: str, call: Call, **data) -> None:
    """Tell the media process, once this transaction commits."""
    publish_on_commit(
        groups=[MEDIA_GROUP], event={"type": kind, "call_id": str(call.pk), "agent_id": call.agent_id, **data}
    )


def caller_token_for(call: Call) -> str:
    return signing.dumps({"c": str(call.pk), "n": call.customer_token_nonce}, salt=TOKEN_SALT)


def call_for_caller_token(token: str) -> Call:
    try:
        payload = signing.loads(token, salt=TOKEN_SALT)
        call = Call.objects.select_related("queue", "agent__user").get(pk=payload["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, Call.DoesNotExist):
        raise VoiceError("unauthorized", _("Unknown or revoked token.")) from None
    if payload.get("n") != call.customer_token_nonce:
        raise VoiceError("unauthorized", _("Unknown or revoked token."))
    return call


def recording_possible() -> bool:
    return bool(settings.CC_RECORDINGS_CERTIFICATE)


def state_frame(call: Call) -> dict:
    """What the caller's socket shows: the call's state and who answered."""
    agent = call.agent
    return {
        "type": "state",
        "call_id": str(call.pk),
        "state": call.state,
        "agent": {"name": agent.display_name or agent.user.first_name} if agent is not None else None,
        "recorded": call.record and not call.recording_paused,
        "end_reason": call.end_reason or None,
    }


def agent_call_frame(call: Call, kind: str) -> dict:
    """What the workspace's softphone shows about a call."""
    return {
        "type": kind,
        "call_id": str(call.pk),
        "state": call.state,
        "queue": {"id": call.queue_id, "name": call.queue.name},
        "caller": {"name": call.caller_name, "number": call.caller_number},
        "recording": {
            "on": call.record,
            "paused": call.recording_paused,
            "masked": call.recording_masked,
            "possible": recording_possible(),
        },
        "agent": {"id": call.agent_id, "name": str(call.agent)} if call.agent is not None else None,
        "started_at": call.started_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
    }


def _tell_parties(call: Call) -> None:
    publish_on_commit(groups=[call_group(call.pk)], event=state_frame(call))
    frame = agent_call_frame(call, "call_state")
    publish_on_commit(groups=[LIVE_CALLS_GROUP], event=frame)
    if call.agent is not None:
        publish_on_commit(groups=[f"agent.{call.agent.user_id}"], event=frame)


def _event(call: Call, kind: str, agent: AgentProfile | None = None, **data) -> None:
    CallEvent.objects.create(call=call, kind=kind, agent=agent, data=data)


def _locked(call_id) -> Call:
    call = Call.objects.select_for_update(of=("self",)).select_related("queue", "agent__user").filter(pk=call_id)
    found = call.first()
    if found is None:
        raise VoiceError("not_found", _("No such call."))
    return found


# --- the caller ---------------------------------------------------------------------------


@transaction.atomic
def call_start(
    *, queue: Queue, locale: str, caller_name: str = "", visitor_id: uuid.UUID | None = None, origin: str = "web"
) -> tuple[Call, str]:
    """A caller rings: the call exists, and waits for the caller's media to connect."""
    if not queue.serves(Channel.VOICE) or not queue.is_active:
        raise VoiceError("no_calls", _("Calls are not taken here."))
    if not hours.is_open(queue=queue, at=timezone.now()):
        raise VoiceError("closed", queue.closed_message or _("We are closed now."))
    contact = None
    if visitor_id is not None:
        contact, _created = Contact.objects.get_or_create(visitor_id=visitor_id)
    voice_settings = QueueVoice.objects.filter(queue=queue).first()
    call = Call.objects.create(
        queue=queue,
        contact=contact,
        caller_name=caller_name[:120],
        origin=origin,
        locale=locale,
        record=bool(voice_settings and voice_settings.record_calls and recording_possible()),
    )
    _event(call, "started", origin=origin)
    return call, caller_token_for(call)


@transaction.atomic
def caller_offer(*, call_id, sdp: str) -> None:
    """The caller's browser offers its media; the media process answers on the call group."""
    call = _locked(call_id)
    if not call.is_live:
        raise VoiceError("ended", _("This call has ended."))
    media_command("leg.open", call, leg="caller", sdp=sdp, reply_group=call_group(call.pk))


@transaction.atomic
def caller_digit(*, call_id, digit: str) -> None:
    call = _locked(call_id)
    if not call.is_live:
        raise VoiceError("ended", _("This call has ended."))
    media_command("call.digit", call, digit=digit)


# --- the media process reports ------------------------------------------------------------


@transaction.atomic
def leg_connected(*, call_id, leg: str) -> None:
    """A party's media is up. The caller's: the call joins its queue. The agent's: talking."""
    call = _locked(call_id)
    if not call.is_live:
        media_command("call.end", call)
        return
    if leg == "caller" and call.state == Call.State.CONNECTING:
        flow = prompts.call_flow(queue=call.queue, language=call.locale, recorded=call.record)
        if flow is None:
            _enqueue(call)
        else:
            call.state = Call.State.IVR
            call.save(update_fields=["state"])
            _event(call, "ivr")
            media_command("call.ivr", call, flow=flow)
            _tell_parties(call)
    elif leg == "agent" and call.agent is not None and call.state == Call.State.QUEUED:
        call.state = Call.State.TALKING
        call.answered_at = call.answered_at or timezone.now()
        call.save(update_fields=["state", "answered_at"])
        _event(call, "answered", agent=call.agent)
        media_command("call.bridge", call, record=_recording_on(call), masked=call.recording_masked)
        _tell_parties(call)


def _recording_on(call: Call) -> bool:
    return call.record and not call.recording_paused


def _enqueue(call: Call) -> None:
    try:
        item = routing.work_item_enqueue(channel=Channel.VOICE, reference=str(call.pk), queue=call.queue)
    except RoutingError as error:
        _end(call, Call.EndReason.MEDIA_FAILED, note=error.code)
        return
    call.state = Call.State.QUEUED
    call.queued_at = timezone.now()
    call.save(update_fields=["state", "queued_at"])
    _event(call, "queued", queue=item.queue_id)
    media_command("call.wait", call, **prompts.waiting_media(queue=item.queue, language=call.locale))
    _tell_parties(call)


@transaction.atomic
def ivr_finished(*, call_id, outcome: dict) -> None:
    """The caller walked the menu: to a queue (with what they keyed), or the call ends (closed,
    or no choice made)."""
    call = _locked(call_id)
    if call.state != Call.State.IVR:
        return
    call.collected = outcome.get("collected") or {}
    call.save(update_fields=["collected"])
    _event(call, "menu_done", keys="".join(outcome.get("path", [])), collected=call.collected)
    if outcome.get("hang_up"):
        reason = Call.EndReason.CLOSED if outcome["hang_up"] == "closed" else Call.EndReason.NO_CHOICE
        _end(call, reason)
        return
    queue_id = outcome.get("queue")
    if queue_id and queue_id != call.queue_id:
        queue = Queue.objects.filter(pk=queue_id).first()
        if queue is not None:
            call.queue = queue
            call.save(update_fields=["queue"])
    _enqueue(call)


DEFAULT_CALL_HANDLE_SECONDS = 300


def call_wait_figures(*, call_id) -> dict | None:
    """What a waiting caller is told: their place, and the estimated wait in whole minutes
    (None when nobody who takes calls is ready). None if the caller no longer waits.

    The estimate: places ahead and this one × the mean call (last 8 hours; 5 minutes without
    any) ÷ the ready agents of the queue who take calls."""
    position = call_wait_position(call_id=call_id)
    if position is None:
        return None
    item = WorkItem.objects.filter(channel=Channel.VOICE, reference=str(call_id)).order_by("-enqueued_at").first()
    now = timezone.now()
    ready = AgentProfile.objects.filter(
        presence=AgentProfile.Presence.READY,
        call_capacity__gte=1,
        memberships__queue_id=item.queue_id,
        memberships__logged_on=True,
    ).count()
    handle = WorkItem.objects.filter(
        channel=Channel.VOICE,
        queue_id=item.queue_id,
        state=WorkItem.State.DONE,
        assigned_at__isnull=False,
        finished_at__gte=now - datetime.timedelta(hours=8),
    ).aggregate(mean=Avg(F("finished_at") - F("assigned_at")))["mean"]
    handle_seconds = handle.total_seconds() if handle else DEFAULT_CALL_HANDLE_SECONDS
    minutes = max(1, round(position * handle_seconds / ready / 60)) if ready else None
    return {"position": position, "minutes": minutes}


def call_wait_position(*, call_id) -> int | None:
    """The caller's place among the calls waiting in their queue, or None if not waiting."""
    item = WorkItem.objects.filter(
        channel=Channel.VOICE, reference=str(call_id), state__in=(WorkItem.State.WAITING, WorkItem.State.OFFERED)
    ).first()
    if item is None:
        return None
    ahead = WorkItem.objects.filter(
        channel=Channel.VOICE, queue_id=item.queue_id, state__in=(WorkItem.State.WAITING, WorkItem.State.OFFERED)
    ).filter(Q(priority__gt=item.priority) | Q(priority=item.priority, enqueued_at__lt=item.enqueued_at))
    return ahead.count() + 1


@transaction.atomic
def leg_lost(*, call_id, leg: str) -> None:
    """A party's connection failed or closed: the caller's ends the call; the agent's puts
    the caller back in the queue, ahead of later callers (their waiting time is kept)."""
    call = _locked(call_id)
    if not call.is_live:
        return
    if leg.startswith(MONITOR):
        _monitor_ended(call, user_id=int(leg.removeprefix(MONITOR)), reason="lost")
        return
    if leg == "caller" or call.agent is None:
        _end(call, Call.EndReason.CONNECTION_LOST)
        return
    _requeue(call, queue=call.queue, kind="agent_lost")


# --- the agent ----------------------------------------------------------------------------


def call_of_agent(*, call_id, agent: AgentProfile) -> Call:
    """The live call this agent holds, locked."""
    call = _locked(call_id)
    if call.agent_id != agent.pk or not call.is_live:
        raise VoiceError("not_yours", _("This call is not yours."))
    return call


@transaction.atomic
def call_assigned(*, item: WorkItem, agent: AgentProfile) -> Call:
    """The router gave the call to the agent (they accepted the offer, or it was assigned)."""
    call = _locked(item.reference)
    call.agent = agent
    call.save(update_fields=["agent"])
    _event(call, "assigned", agent=agent)
    publish_on_commit(groups=[f"agent.{agent.user_id}"], event=agent_call_frame(call, "call_assigned"))
    return call


@transaction.atomic
def agent_offer(*, call_id, agent: AgentProfile, sdp: str) -> None:
    """The agent's softphone offers its media for the call it was given."""
    call = call_of_agent(call_id=call_id, agent=agent)
    media_command("leg.open", call, leg="agent", sdp=sdp, reply_group=f"agent.{agent.user_id}")


@transaction.atomic
def call_hold(*, call_id, agent: AgentProfile, on: bool) -> Call:
    call = call_of_agent(call_id=call_id, agent=agent)
    wanted, current = (Call.State.ON_HOLD, Call.State.TALKING) if on else (Call.State.TALKING, Call.State.ON_HOLD)
    if call.state != current:
        raise VoiceError("wrong_state", _("The call is not in a state to do that."))
    call.state = wanted
    call.save(update_fields=["state"])
    _event(call, "held" if on else "resumed", agent=agent)
    media_command("call.hold" if on else "call.bridge", call, record=_recording_on(call), masked=call.recording_masked)
    _tell_parties(call)
    return call


@transaction.atomic
def call_recording(*, call_id, agent: AgentProfile, action: str) -> Call:
    """Start, pause, resume the recording, or mask (silence) a sensitive part of it."""
    call = call_of_agent(call_id=call_id, agent=agent)
    if action not in RECORDING_ACTIONS:
        raise VoiceError(
            "invalid", _("action must be one of: %(actions)s.") % {"actions": ", ".join(RECORDING_ACTIONS)}
        )
    if action == "start":
        if not recording_possible():
            raise VoiceError("no_recording", _("Recording is not set up: no recordings certificate."))
        if call.record:
            raise VoiceError("wrong_state", _("The call is being recorded already."))
        call.record, call.recording_paused = True, False
    elif not call.record:
        raise VoiceError("wrong_state", _("The call is not being recorded."))
    elif action in ("pause", "resume"):
        call.recording_paused = action == "pause"
    else:
        call.recording_masked = action == "mask"
    call.save(update_fields=["record", "recording_paused", "recording_masked"])
    _event(call, f"recording_{action}", agent=agent)
    if call.state == Call.State.TALKING:
        media_command("call.record", call, record=_recording_on(call), masked=call.recording_masked)
    _tell_parties(call)
    return call


@transaction.atomic
def call_transfer(*, call_id, agent: AgentProfile, queue: Queue) -> Call:
    """Send the caller to a queue to wait again (their waiting time is kept)."""
    call = call_of_agent(call_id=call_id, agent=agent)
    if not queue.serves(Channel.VOICE):
        raise VoiceError("invalid", _("That queue takes no calls."))
    _requeue(call, queue=queue, kind="transferred")
    return call


@transaction.atomic
def call_transfer_to_agent(*, call_id, agent: AgentProfile, to_agent_id: int) -> Call:
    """Hand the call straight to a colleague with room for a call (a blind transfer): the
    caller hears music until the colleague's softphone connects, which it does at once."""
    call = call_of_agent(call_id=call_id, agent=agent)
    colleague = AgentProfile.objects.select_related("user").filter(pk=to_agent_id).first()
    if colleague is None or colleague.pk == agent.pk:
        raise VoiceError("invalid", _("Choose a colleague to transfer the call to."))
    if colleague.call_capacity < 1:
        raise VoiceError("no_calls", _("Your colleague takes no calls."))
    routing.work_item_transfer(channel=Channel.VOICE, reference=str(call.pk), to_agent=colleague)
    publish_on_commit(
        groups=[f"agent.{agent.user_id}"], event={"type": "call_left", "call_id": str(call.pk), "reason": "transferred"}
    )
    call.agent = colleague
    call.state = Call.State.QUEUED
    call.save(update_fields=["agent", "state"])
    _event(call, "transferred_to_agent", agent=colleague, by=agent.pk)
    media_command("call.wait", call, **prompts.waiting_media(queue=call.queue, language=call.locale))
    publish_on_commit(groups=[f"agent.{colleague.user_id}"], event=agent_call_frame(call, "call_assigned"))
    _tell_parties(call)
    return call


def _requeue(call: Call, *, queue: Queue, kind: str) -> None:
    previous = call.agent
    routing.work_item_requeue(channel=Channel.VOICE, reference=str(call.pk), queue=queue)
    if previous is not None:
        publish_on_commit(
            groups=[f"agent.{previous.user_id}"], event={"type": "call_left", "call_id": str(call.pk), "reason": kind}
        )
    call.agent = None
    call.queue = queue
    call.state = Call.State.QUEUED
    call.save(update_fields=["agent", "queue", "state"])
    _event(call, kind, agent=previous, queue=queue.pk)
    media_command("call.wait", call, **prompts.waiting_media(queue=queue, language=call.locale))
    _tell_parties(call)


# --- supervisors listening (V7) -----------------------------------------------------------


def monitor_group(user_id: int) -> str:
    return f"monitor.{user_id}"


def _supervised_call(call_id, user) -> Call:
    from routing.selectors import is_supervisor

    if not is_supervisor(user):
        raise VoiceError("forbidden", _("Only supervisors listen to calls."))
    call = _locked(call_id)
    if call.state not in (Call.State.TALKING, Call.State.ON_HOLD):
        raise VoiceError("wrong_state", _("Only a call an agent is on can be listened to."))
    return call


def _tell_agent_monitored(call: Call, *, user, listening: bool, whisper: bool, heard: bool = False) -> None:
    """Tell the agent, if the queue shows listeners; a whisper the agent hears (`heard`: it
    starts, stops, or ends with the listening) is always told."""
    voice_settings = QueueVoice.objects.filter(queue=call.queue).first()
    visible = voice_settings.agent_sees_monitoring if voice_settings else True
    if call.agent is not None and (visible or heard):
        frame = {
            "type": "call_monitored",
            "call_id": str(call.pk),
            "by": user.get_full_name() or user.get_username(),
            "listening": listening,
            "whisper": whisper,
        }
        publish_on_commit(groups=[f"agent.{call.agent.user_id}"], event=frame)


@transaction.atomic
def monitor_start(*, call_id, user, sdp: str) -> Call:
    """A supervisor listens to a live call: they hear both sides; nobody hears them."""
    call = _supervised_call(call_id, user)
    _event(call, "monitor_started", by=user.get_username())
    media_command("monitor.open", call, monitor=f"{MONITOR}{user.pk}", sdp=sdp, reply_group=monitor_group(user.pk))
    _tell_agent_monitored(call, user=user, listening=True, whisper=False)
    return call


@transaction.atomic
def monitor_whisper(*, call_id, user, on: bool) -> Call:
    """The listening supervisor speaks to the agent, or stops; the caller never hears it."""
    call = _supervised_call(call_id, user)
    _event(call, "whisper_started" if on else "whisper_ended", by=user.get_username())
    media_command("monitor.whisper", call, monitor=f"{MONITOR}{user.pk}", on=on)
    _tell_agent_monitored(call, user=user, listening=True, whisper=on, heard=True)
    return call


@transaction.atomic
def monitor_stop(*, call_id, user) -> None:
    call = _locked(call_id)
    media_command("monitor.close", call, monitor=f"{MONITOR}{user.pk}")
    if call.is_live:
        _monitor_ended(call, user_id=user.pk, reason="stopped")


def _monitor_ended(call: Call, *, user_id: int, reason: str) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    last_whisper = (
        CallEvent.objects.filter(call=call, kind__in=("whisper_started", "whisper_ended"), data__by=user.get_username())
        .order_by("-at", "-id")
        .values_list("kind", flat=True)
        .first()
    )
    _event(call, "monitor_ended", by=user.get_username(), reason=reason)
    _tell_agent_monitored(call, user=user, listening=False, whisper=False, heard=last_whisper == "whisper_started")
    frame = {"type": "call_listen_ended", "call_id": str(call.pk), "reason": reason}
    publish_on_commit(groups=[monitor_group(user_id)], event=frame)


# --- the end ------------------------------------------------------------------------------


@transaction.atomic
def call_end(*, call_id, reason: str, agent: AgentProfile | None = None) -> Call:
    """Hang up. An agent may hang up only a call they hold; the caller always may."""
    call = call_of_agent(call_id=call_id, agent=agent) if agent is not None else _locked(call_id)
    if call.is_live:
        _end(call, reason)
    return call


def _end(call: Call, reason: str, note: str = "") -> None:
    previous = call.agent
    call.state = Call.State.ENDED
    call.ended_at = timezone.now()
    call.end_reason = reason
    call.customer_token_nonce = new_token_nonce()  # the caller's socket can do nothing more
    call.save(update_fields=["state", "ended_at", "end_reason", "customer_token_nonce"])
    _event(call, "ended", agent=previous, reason=reason, **({"note": note} if note else {}))
    routing.work_item_finish(channel=Channel.VOICE, reference=str(call.pk))
    media_command("call.end", call)
    _tell_parties(call)


def media_state(*, call_id) -> dict | None:
    """What the call's media should be now, for a media process that may have missed commands
    (it could not hear the channel layer for a while). None: the call has ended."""
    call = Call.objects.select_related("queue").filter(pk=call_id).first()
    if call is None or not call.is_live:
        return None
    return {
        "state": call.state,
        "record": _recording_on(call),
        "masked": call.recording_masked,
        "agent_id": call.agent_id,
        "waiting": prompts.waiting_media(queue=call.queue, language=call.locale),
    }


def calls_end_unmanaged() -> int:
    """A media process starts with no calls: calls it held before a restart cannot go on."""
    ended = 0
    for call_id in Call.objects.filter(state__in=Call.LIVE_STATES).values_list("pk", flat=True):
        with transaction.atomic():
            call = _locked(call_id)
            if call.is_live:
                _end(call, Call.EndReason.MEDIA_FAILED)
                ended += 1
    return ended


# --- recordings ---------------------------------------------------------------------------


def recording_seal_and_store(
    *, call_id, agent_id: int | None, audio: bytes, started_at: datetime.datetime, ended_at: datetime.datetime
) -> Recording:
    """Seal a finished recording (in memory) to the recordings certificate and keep it."""
    from cryptography.hazmat.primitives import hashes

    from . import sealing

    certificate = sealing.load_certificate(settings.CC_RECORDINGS_CERTIFICATE)
    return recording_store(
        call_id=call_id,
        agent_id=agent_id,
        sealed=sealing.seal(audio, certificate),
        fingerprint=certificate.fingerprint(hashes.SHA256()).hex(),
        started_at=started_at,
        ended_at=ended_at,
    )


@transaction.atomic
def recording_store(
    *,
    call_id,
    agent_id: int | None,
    sealed: bytes,
    fingerprint: str,
    started_at: datetime.datetime,
    ended_at: datetime.datetime,
) -> Recording:
    """Keep a sealed recording: write it (already sealed) and index it for search."""
    call = Call.objects.select_related("queue").get(pk=call_id)
    voice_settings = QueueVoice.objects.filter(queue=call.queue).first()
    months = voice_settings.recording_retention_months if voice_settings else QueueVoice.Retention.ONE_MONTH
    recording_id = uuid.uuid4()
    file_name = f"{started_at:%Y/%m/%d}/{recording_id}.cms"
    path = settings.CC_RECORDINGS_DIR / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_bytes(sealed)
    temporary.rename(path)
    recording = Recording.objects.create(
        id=recording_id,
        call=call,
        agent_id=agent_id,
        queue=call.queue,
        file_name=file_name,
        size_bytes=len(sealed),
        certificate_fingerprint=fingerprint,
        started_at=started_at,
        ended_at=ended_at,
        keep_until=ended_at + relativedelta(months=months),
    )
    _event(call, "recorded", recording=str(recording.pk), sha256=hashlib.sha256(sealed).hexdigest())
    return recording


def recordings_remove_expired(*, now: datetime.datetime | None = None, batch: int = 500) -> int:
    """Delete recordings kept past `keep_until`: the row first (in its transaction), then the
    file once that commits, so a failure leaves at worst a file without a row, never a row
    pointing at nothing. Returns how many were removed."""
    now = now or timezone.now()
    removed = 0
    while True:
        with transaction.atomic():
            expired = list(
                Recording.objects.select_for_update(skip_locked=True)
                .filter(keep_until__lte=now)
                .order_by("keep_until")[:batch]
            )
            for recording in expired:
                CallEvent.objects.create(
                    call_id=recording.call_id, kind="recording_removed", data={"file": recording.file_name}
                )
            paths = [recording.path for recording in expired]
            Recording.objects.filter(pk__in=[recording.pk for recording in expired]).delete()
            transaction.on_commit(lambda paths=paths: _unlink(paths))
        removed += len(expired)
        if len(expired) < batch:
            return removed


ORPHAN_AGE_SECONDS = 3600


ORPHAN_LOOKUP_BATCH = 1000


def recordings_sweep_orphans(*, now: float | None = None) -> int:
    """Sealed files without a row (a commit that failed after the write) and half-written
    `.part` files, older than an hour, are deleted. Returns how many. Only the old files'
    names are looked up, a thousand at a time, never every recording's row."""
    root = settings.CC_RECORDINGS_DIR
    if not root.exists():
        return 0
    now = now if now is not None else time.time()
    old = [
        path
        for path in [*root.rglob("*.cms"), *root.rglob("*.part")]
        if now - path.stat().st_mtime >= ORPHAN_AGE_SECONDS
    ]
    orphans = [path for path in old if path.suffix == ".part"]
    sealed = {path.relative_to(root).as_posix(): path for path in old if path.suffix != ".part"}
    names = sorted(sealed)
    for start in range(0, len(names), ORPHAN_LOOKUP_BATCH):
        chunk = names[start : start + ORPHAN_LOOKUP_BATCH]
        known = set(Recording.objects.filter(file_name__in=chunk).values_list("file_name", flat=True))
        orphans += [sealed[name] for name in chunk if name not in known]
    _unlink(orphans)
    return len(orphans)


def _unlink(paths) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def recording_audio(*, recording: Recording, user) -> bytes:
    """The recording's audio, unsealed with the private key configured here, for playback or
    download; every opening is written to the call's history."""
    from . import sealing

    if not settings.CC_RECORDINGS_PRIVATE_KEY:
        raise VoiceError("no_key", _("Playback is not set up on this server: it has no private key for recordings."))
    certificate = sealing.load_certificate(settings.CC_RECORDINGS_CERTIFICATE)
    private_key = sealing.load_private_key(settings.CC_RECORDINGS_PRIVATE_KEY)
    try:
        envelope = recording.path.read_bytes()
    except FileNotFoundError:
        raise VoiceError("not_found", _("The recording's file is missing.")) from None
    try:
        audio = sealing.unseal(envelope, certificate, private_key)
    except sealing.SealBroken:
        raise VoiceError(
            "broken", _("The recording cannot be opened: it was changed, or sealed for another key.")
        ) from None
    CallEvent.objects.create(call_id=recording.call_id, kind="recording_opened", data={"by": user.get_username()})
    return audio
