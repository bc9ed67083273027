"""IVR menus (V2), opening-hours greetings (V3), prompts (V5) and queue announcements, heard
by a caller over real WebRTC. Every prompt here is a tone of its own frequency, so what the
caller heard, in order, is read back from their audio by FFT."""

import asyncio
import io
import wave

import numpy as np
import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.core.files.base import ContentFile

from routing.models import WeeklySlot, WorkItem
from tests.factories import QueueFactory
from tests.voice.wire import Scene, send, until
from voice.models import Call, CallEvent, IvrMenu, IvrOption, Prompt, QueueVoice

pytestmark = pytest.mark.django_db(transaction=True)

TONES = {
    "recorded": 250,
    "goodbye": 300,
    "invalid": 350,
    "you_entered": 450,
    "greeting": 500,
    "confirm": 550,
    "menu": 600,
    "submenu": 650,
    "collect": 750,
    "closed": 800,
    "position_before": 900,
    "position_after": 950,
    "wait_before": 700,
    "wait_after": 400,
}
NUMBER_TONES = {n: 1000 + 100 * n for n in range(10)}


def tone_file(frequency: float, seconds: float = 0.5) -> ContentFile:
    rate = 16_000  # uploads come in any rate; they are converted to 48 kHz
    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes((0.4 * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16).tobytes())
    return ContentFile(out.getvalue(), name=f"{frequency}.wav")


def make_prompt(name: str, frequency: float, purpose: str = "general", number: int | None = None) -> Prompt:
    from voice import prompts

    upload = tone_file(frequency)
    audio, seconds = prompts.convert(upload)
    prompt = Prompt(name=name, purpose=purpose, number=number, duration_seconds=seconds)
    prompt.original.save(f"{name}.wav", upload, save=False)
    prompt.audio.save(f"{name}.wav", audio, save=False)
    prompt.save()
    return prompt


@pytest.fixture
def tone_prompts(settings, tmp_path):
    """System prompts as tones (any language), and the menus' prompts."""
    settings.MEDIA_ROOT = tmp_path / "media"
    for purpose in (
        "recorded", "goodbye", "invalid", "you_entered", "confirm", "position_before", "position_after",
        "wait_before", "wait_after",
    ):  # fmt: skip
        make_prompt(purpose, TONES[purpose], purpose=purpose)
    for number, frequency in NUMBER_TONES.items():
        make_prompt(f"number {number}", frequency, purpose="number", number=number)
    return {name: make_prompt(name, TONES[name]) for name in ("greeting", "menu", "submenu", "collect", "closed")}


@pytest.fixture
def menus(voice_queue, tone_prompts):
    """Press 1: the queue. 2: a sub-menu whose 1 is 'Rent arrears'. 3: key a customer number."""
    arrears = QueueFactory(name="Rent arrears", always_open=True, channels=["voice"])
    main = IvrMenu.objects.create(
        name="Main", greeting=tone_prompts["greeting"], menu_prompt=tone_prompts["menu"], timeout_seconds=2, max_tries=2
    )
    sub = IvrMenu.objects.create(name="Rent", menu_prompt=tone_prompts["submenu"], timeout_seconds=2, max_tries=2)
    IvrOption.objects.create(menu=sub, digit="1", label="Arrears", action="queue", queue=arrears)
    IvrOption.objects.create(menu=sub, digit="9", label="Again", action="repeat")
    IvrOption.objects.create(menu=main, digit="1", label="Advice", action="queue", queue=voice_queue)
    IvrOption.objects.create(menu=main, digit="2", label="Rent", action="submenu", submenu=sub)
    IvrOption.objects.create(
        menu=main, digit="3", label="customer number", action="collect", queue=voice_queue,
        prompt=tone_prompts["collect"], collect_min=2, collect_max=6,
    )  # fmt: skip
    QueueVoice.objects.filter(queue=voice_queue).update(entry_menu=main, record_calls=False)
    return {"main": main, "sub": sub, "arrears": arrears}


OUR_TONES = (*TONES.values(), *NUMBER_TONES.values())


def heard_tones(phone, *, ours=OUR_TONES) -> list[int]:
    """The prompts' tones the phone heard, in order, each once per time it played."""
    if not phone.heard:
        return []
    samples = np.concatenate(phone.heard).astype(np.float64)
    window = 2400  # 50 ms
    sequence: list[int] = []
    run_tone, run_length = None, 0
    for start in range(0, len(samples) - window, window):
        chunk = samples[start : start + window]
        tone = None
        if np.sqrt(np.mean(chunk**2)) > 3000:  # our tones, not the quieter hold music
            spectrum = np.abs(np.fft.rfft(chunk * np.hanning(window)))
            peak = float(np.argmax(spectrum[1:]) + 1) * 48_000 / window
            tone = min(ours, key=lambda f: abs(f - peak))
            if abs(tone - peak) > 30:
                tone = None
        if tone == run_tone:
            run_length += 1
            continue
        if run_tone is not None and run_length >= 3:
            sequence.append(run_tone)
        run_tone, run_length = tone, 1
    if run_tone is not None and run_length >= 3:
        sequence.append(run_tone)
    return sequence


@pytest.fixture
async def scene():
    scene = Scene()
    yield scene
    await scene.close()


async def in_menu(scene, queue):
    """A caller whose media is up and who is in the menu: (call, socket, phone)."""
    from channels.db import database_sync_to_async

    from tests.voice.wire import Phone, connect
    from voice import services

    call, token = await database_sync_to_async(services.call_start)(queue=queue, locale="fi")
    socket = await connect("/ws/call/")
    scene.sockets.append(socket)
    await send(socket, {"type": "auth", "token": token})
    phone = Phone(3000)
    scene.phones.append(phone)
    await send(socket, {"type": "sdp", "sdp": await phone.offer()})
    await phone.answered((await until(socket, lambda f: f["type"] == "sdp"))["sdp"])
    await until(socket, lambda f: f.get("state") == "ivr")
    return call, socket, phone


async def wait_for_tone(phone, tone: int, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while tone not in heard_tones(phone):  # noqa: ASYNC110 - audio keeps arriving; no event to wait on
            await asyncio.sleep(0.2)


async def test_keys_lead_through_a_submenu_to_its_queue(voice_queue, menus, media_process, scene):
    call, socket, phone = await in_menu(scene, voice_queue)
    await wait_for_tone(phone, TONES["menu"])
    await send(socket, {"type": "digit", "digit": "2"})  # during or after the menu: barge-in
    await wait_for_tone(phone, TONES["submenu"])
    await send(socket, {"type": "digit", "digit": "1"})
    await until(socket, lambda f: f.get("state") == "queued")
    stored = await sync_to_async(Call.objects.get)(pk=call.pk)
    assert stored.queue_id == menus["arrears"].pk
    item = await sync_to_async(WorkItem.objects.get)(reference=str(call.pk))
    assert item.queue_id == menus["arrears"].pk
    done = await sync_to_async(CallEvent.objects.get)(call=call, kind="menu_done")
    assert done.data["keys"] == "21"
    heard = heard_tones(phone)
    assert heard[: heard.index(TONES["submenu"]) + 1] == [TONES["greeting"], TONES["menu"], TONES["submenu"]]


async def test_a_wrong_key_is_told_and_silence_ends_with_goodbye(voice_queue, menus, media_process, scene):
    call, socket, phone = await in_menu(scene, voice_queue)
    await wait_for_tone(phone, TONES["menu"])
    await send(socket, {"type": "digit", "digit": "7"})  # no such option
    ended = await until(socket, lambda f: f.get("state") == "ended", within=20)
    assert ended["end_reason"] == "no_choice"
    heard = heard_tones(phone)
    assert heard[heard.index(TONES["invalid"]) :] == [TONES["invalid"], TONES["menu"], TONES["goodbye"]]
    assert not await sync_to_async(WorkItem.objects.filter(reference=str(call.pk)).exists)()


async def test_collected_digits_are_read_back_and_confirmed_with_hash(voice_queue, menus, media_process, scene):
    call, socket, phone = await in_menu(scene, voice_queue)
    await wait_for_tone(phone, TONES["menu"])
    await send(socket, {"type": "digit", "digit": "3"})
    await wait_for_tone(phone, TONES["collect"])
    for key in "4*42#":  # * starts over
        await send(socket, {"type": "digit", "digit": key})
    await wait_for_tone(phone, TONES["confirm"])
    await send(socket, {"type": "digit", "digit": "#"})
    await until(socket, lambda f: f.get("state") == "queued")
    assert (await sync_to_async(Call.objects.get)(pk=call.pk)).collected == {"customer number": "42"}
    heard = heard_tones(phone)
    start = heard.index(TONES["you_entered"])
    assert heard[start : start + 4] == [TONES["you_entered"], NUMBER_TONES[4], NUMBER_TONES[2], TONES["confirm"]]


async def test_outside_opening_hours_the_closed_greeting_plays_and_the_call_ends(
    voice_queue, menus, tone_prompts, media_process, scene
):
    closed_queue = await sync_to_async(QueueFactory)(name="Office hours", always_open=False, channels=["voice"])
    await sync_to_async(IvrMenu.objects.filter(pk=menus["main"].pk).update)(
        hours_queue=closed_queue, closed_prompt=tone_prompts["closed"]
    )
    assert not await sync_to_async(WeeklySlot.objects.filter(queue=closed_queue).exists)()
    call, socket, phone = await in_menu(scene, voice_queue)
    ended = await until(socket, lambda f: f.get("state") == "ended")
    assert ended["end_reason"] == "closed"
    assert heard_tones(phone) == [TONES["closed"]]


async def test_the_recorded_notice_comes_first_and_a_waiting_caller_hears_their_place_and_wait(
    voice_queue, ready_agent, tone_prompts, media_process, scene
):
    settings = QueueVoice.objects.filter(queue=voice_queue)
    await sync_to_async(settings.update)(record_calls=True, announce_every_seconds=1)
    call, socket, phone = await in_menu(scene, voice_queue)
    await until(socket, lambda f: f.get("state") == "queued")
    await wait_for_tone(phone, TONES["wait_after"], within=15)
    heard = heard_tones(phone)
    assert heard[0] == TONES["recorded"]
    start = heard.index(TONES["position_before"])
    # Number 1; one ready agent, no calls handled yet (5 minutes each): about 5 minutes.
    assert heard[start : start + 6] == [
        TONES["position_before"], NUMBER_TONES[1], TONES["position_after"],
        TONES["wait_before"], NUMBER_TONES[5], TONES["wait_after"],
    ]  # fmt: skip
