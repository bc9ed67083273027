"""The WebSocket edges of voice: `/ws/call/` for a caller's browser or app, and the softphone's
frames on the workspace socket `/ws/agent/` (docs/protocol.md, "Calls"). Media never passes
here: these sockets carry the WebRTC offer and answer, digits, and the call's state.
"""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _

from chat.consumers import CLOSE_UNAUTHORIZED, AgentConsumer, FrameConsumer, database_sync_to_async
from chat.services import ChatError
from contactcenter import realtime
from routing import services as routing
from routing.models import Channel, Queue, WorkItem
from routing.services import RoutingError
from supervision.consumers import SupervisorConsumer

from . import services
from .models import Call
from .routing_handlers import offer_frame
from .services import VoiceError

DIGITS = frozenset("0123456789*#")
MAX_SDP_CHARACTERS = 30_000
CLOSE_NORMAL, CLOSE_GOING_AWAY = 1000, 1001


def _sdp(frame: dict) -> str:
    sdp = frame.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP_CHARACTERS:
        raise VoiceError("invalid", _("sdp must be a WebRTC session description (an offer)."))
    return sdp


def _call_id(frame: dict) -> str:
    try:
        return str(uuid.UUID(str(frame.get("call_id"))))
    except ValueError:
        raise VoiceError("invalid", _("call_id is missing or malformed.")) from None


class CallerConsumer(FrameConsumer):
    """The caller's side: offer media, key digits, hang up; hear the call's state."""

    frame_errors = (VoiceError,)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.call_id: str | None = None

    async def authenticate(self, frame: dict) -> None:
        token = frame.get("token")
        if not isinstance(token, str) or len(token) > 500:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        try:
            call = await database_sync_to_async(services.call_for_caller_token)(token)
        except VoiceError:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        self.authenticated = True
        self.call_id = str(call.pk)
        self.language = call.locale
        await self.join(services.call_group(self.call_id))
        await self.send_frame(services.state_frame(call))
        realtime.watch(self)

    async def catch_up(self) -> None:
        """The process went deaf for a while (realtime.watch): the call's state may have
        changed unheard, so the caller gets it now."""
        call = await database_sync_to_async(_call_of)(self.call_id)
        if call is not None:
            await self.send_frame(services.state_frame(call))

    async def disconnect(self, code):
        # Closing the page (1001) or the widget's own close (1000) is hanging up. Any other
        # end is the socket alone (a network blip, a server restart): the call goes on, the
        # widget reconnects with its token, and if the caller's media is gone too, the media
        # process reports the leg lost and the call ends then.
        if self.call_id is not None and code in (CLOSE_NORMAL, CLOSE_GOING_AWAY):
            await database_sync_to_async(services.call_end)(call_id=self.call_id, reason=Call.EndReason.CALLER_HUNG_UP)
        await super().disconnect(code)

    async def realtime_event(self, message: dict) -> None:
        await self.send_frame(message["event"])

    async def frame_sdp(self, frame: dict) -> None:
        await database_sync_to_async(services.caller_offer)(call_id=self.call_id, sdp=_sdp(frame))

    async def frame_digit(self, frame: dict) -> None:
        digit = frame.get("digit")
        if not isinstance(digit, str) or digit not in DIGITS:
            raise VoiceError("invalid", _("digit is one of 0-9, * and #."))
        await database_sync_to_async(services.caller_digit)(call_id=self.call_id, digit=digit)

    async def frame_hangup(self, frame: dict) -> None:
        await database_sync_to_async(services.call_end)(call_id=self.call_id, reason=Call.EndReason.CALLER_HUNG_UP)


def _call_of(call_id: str) -> Call | None:
    return Call.objects.select_related("queue", "agent__user").filter(pk=call_id).first()


def _call_snapshot(agent) -> list[dict]:
    frames = []
    offered = WorkItem.objects.filter(agent=agent, state=WorkItem.State.OFFERED, channel=Channel.VOICE)
    calls = Call.objects.select_related("queue").in_bulk([uuid.UUID(item.reference) for item in offered])
    for item in offered:
        frames.append(offer_frame(item, calls[uuid.UUID(item.reference)]))
    for call in Call.objects.select_related("queue").filter(agent=agent, state__in=Call.LIVE_STATES):
        frames.append(services.agent_call_frame(call, "call_assigned"))
    return frames


def _offered_call_item(*, call_id: str, agent):
    item = (
        WorkItem.objects.filter(channel=Channel.VOICE, reference=call_id, state=WorkItem.State.OFFERED, agent=agent)
        .values_list("pk", flat=True)
        .first()
    )
    if item is None:
        raise RoutingError("offer_gone", _("This offer is no longer yours."))
    return item


def _voice_queue(queue_id) -> Queue:
    if not isinstance(queue_id, int):
        raise VoiceError("invalid", _("queue_id is missing or malformed."))
    queue = Queue.objects.filter(pk=queue_id, is_active=True).first()
    if queue is None:
        raise VoiceError("not_found", _("No such queue."))
    return queue


class WorkspaceConsumer(AgentConsumer):
    """The agent's workspace socket: chat (AgentConsumer) and the softphone's frames."""

    frame_errors = (ChatError, VoiceError)

    async def _start(self, user) -> None:
        await super()._start(user)
        if self.authenticated and not self.closing:
            for frame in await database_sync_to_async(_call_snapshot)(self.agent):
                await self.send_frame(frame)

    async def frame_call_accept(self, frame: dict) -> None:
        item_id = await database_sync_to_async(_offered_call_item)(call_id=_call_id(frame), agent=self.agent)
        await database_sync_to_async(routing.offer_accept)(agent=self.agent, item_id=item_id)

    async def frame_call_decline(self, frame: dict) -> None:
        item_id = await database_sync_to_async(_offered_call_item)(call_id=_call_id(frame), agent=self.agent)
        await database_sync_to_async(routing.offer_decline)(agent=self.agent, item_id=item_id)

    async def frame_call_sdp(self, frame: dict) -> None:
        await database_sync_to_async(services.agent_offer)(call_id=_call_id(frame), agent=self.agent, sdp=_sdp(frame))

    async def frame_call_hold(self, frame: dict) -> None:
        if not isinstance(frame.get("on"), bool):
            raise VoiceError("invalid", _("on is true or false."))
        await database_sync_to_async(services.call_hold)(call_id=_call_id(frame), agent=self.agent, on=frame["on"])

    async def frame_call_recording(self, frame: dict) -> None:
        action = frame.get("action")
        if not isinstance(action, str):
            raise VoiceError("invalid", _("action is missing."))
        await database_sync_to_async(services.call_recording)(call_id=_call_id(frame), agent=self.agent, action=action)

    async def frame_call_transfer(self, frame: dict) -> None:
        """To a queue (`queue_id`) or straight to a colleague (`agent_id`)."""
        call_id = _call_id(frame)
        to_agent = frame.get("agent_id")
        if to_agent is not None:
            if not isinstance(to_agent, int) or isinstance(to_agent, bool):
                raise VoiceError("invalid", _("agent_id is malformed."))
            await database_sync_to_async(services.call_transfer_to_agent)(
                call_id=call_id, agent=self.agent, to_agent_id=to_agent
            )
            return
        queue = await database_sync_to_async(_voice_queue)(frame.get("queue_id"))
        await database_sync_to_async(services.call_transfer)(call_id=call_id, agent=self.agent, queue=queue)

    async def frame_call_hangup(self, frame: dict) -> None:
        await database_sync_to_async(services.call_end)(
            call_id=_call_id(frame), agent=self.agent, reason=Call.EndReason.AGENT_HUNG_UP
        )


def _live_calls() -> list[dict]:
    calls = Call.objects.select_related("queue", "agent__user").filter(state__in=Call.LIVE_STATES)
    return [services.agent_call_frame(call, "call_state") for call in calls.order_by("started_at")]


class SupervisionConsumer(SupervisorConsumer):
    """The supervisor's live view (supervision) and listening to calls: `call_listen` with the
    supervisor's WebRTC offer, `call_whisper` on or off, `call_unlisten`."""

    frame_errors = (ChatError, VoiceError)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.monitoring: set[str] = set()

    async def _start(self, user) -> None:
        await super()._start(user)
        if not self.authenticated or self.closing:
            return
        await self.join(services.LIVE_CALLS_GROUP)
        await self.join(services.monitor_group(user.pk))
        for frame in await database_sync_to_async(_live_calls)():
            await self.send_frame(frame)

    async def disconnect(self, code):
        for call_id in list(self.monitoring):
            await self._unlisten(call_id)
        await super().disconnect(code)

    async def realtime_event(self, message: dict) -> None:
        frame = message["event"]
        if frame["type"].startswith("call_") or (frame["type"] == "error" and "call_id" in frame):
            if frame["type"] == "call_listen_ended":
                self.monitoring.discard(frame["call_id"])
            await self.send_frame(frame)
            return
        await super().realtime_event(message)

    async def frame_call_listen(self, frame: dict) -> None:
        call_id = _call_id(frame)
        await database_sync_to_async(services.monitor_start)(call_id=call_id, user=self.user, sdp=_sdp(frame))
        self.monitoring.add(call_id)

    async def frame_call_whisper(self, frame: dict) -> None:
        call_id = _call_id(frame)
        if not isinstance(frame.get("on"), bool):
            raise VoiceError("invalid", _("on is true or false."))
        if call_id not in self.monitoring:
            raise VoiceError("not_listening", _("You are not listening to this call."))
        await database_sync_to_async(services.monitor_whisper)(call_id=call_id, user=self.user, on=frame["on"])

    async def frame_call_unlisten(self, frame: dict) -> None:
        call_id = _call_id(frame)
        if call_id not in self.monitoring:
            raise VoiceError("not_listening", _("You are not listening to this call."))
        await self._unlisten(call_id)

    async def _unlisten(self, call_id: str) -> None:
        self.monitoring.discard(call_id)
        try:
            await database_sync_to_async(services.monitor_stop)(call_id=call_id, user=self.user)
        except VoiceError:
            pass  # the call is gone
