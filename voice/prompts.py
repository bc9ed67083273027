"""Prompts (V5): uploads converted once to the media format, system prompts found by purpose
and language, and the call flow (recorded notice, IVR menus, queue announcements) described
for the media process as plain data, so that it needs no database to walk a menu."""

from __future__ import annotations

import io
import wave
from decimal import Decimal
from pathlib import Path

import av
import numpy as np
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext as _

from routing import hours

from .models import MAX_NUMBER_PROMPT, IvrMenu, Prompt, QueueVoice

SYSTEM_DIR = Path(__file__).resolve().parent / "prompts" / "system"
RATE = 48_000
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 600


def convert(upload) -> tuple[ContentFile, Decimal]:
    """An uploaded audio file (WAV, MP3, Ogg, M4A … anything ffmpeg reads) as a 48 kHz mono
    16-bit WAV, and its length. ValidationError for anything else, too long or too big."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(_("The file is larger than %(mb)s MB.") % {"mb": MAX_UPLOAD_BYTES // (1024 * 1024)})
    upload.seek(0)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks: list[np.ndarray] = []
    samples = 0
    try:
        with av.open(upload, mode="r") as container:
            if not container.streams.audio:
                raise ValidationError(_("The file holds no audio."))
            for frame in container.decode(audio=0):
                for resampled in resampler.resample(frame):
                    chunk = resampled.to_ndarray().reshape(-1)
                    samples += len(chunk)
                    if samples > MAX_SECONDS * RATE:
                        raise ValidationError(_("A prompt can be at most %(minutes)s minutes long.") % {"minutes": 10})
                    chunks.append(chunk)
            chunks.extend(resampled.to_ndarray().reshape(-1) for resampled in resampler.resample(None))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise ValidationError(_("This is not an audio file we can read.")) from error
    audio = np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, dtype=np.int16)
    if len(audio) < RATE // 10:
        raise ValidationError(_("The file holds less than a tenth of a second of audio."))
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(RATE)
        target.writeframes(audio.tobytes())
    return ContentFile(out.getvalue()), Decimal(len(audio)) / RATE


def system_prompt(purpose: str, language: str, number: int | None = None) -> str | None:
    """The file to play for a system prompt: an uploaded one in the caller's language, one
    for any language, the bundled one in the language, the bundled English one; or None."""
    prompts = Prompt.objects.filter(purpose=purpose, number=number)
    for candidate in (prompts.filter(language=language).first(), prompts.filter(language="").first()):
        if candidate is not None and candidate.audio:
            return candidate.audio.path
    name = f"number_{number}.ogg" if purpose == Prompt.Purpose.NUMBER else f"{purpose}.ogg"
    for folder in (language, "en"):
        path = SYSTEM_DIR / folder / name
        if path.exists():
            return str(path)
    return None


def _path(prompt: Prompt | None, language: str = "") -> str | None:
    """The prompt's file; a prompt of the same name in the caller's language stands in for it
    (one menu, its prompts recorded in several languages)."""
    if prompt is None:
        return None
    if language and prompt.language != language:
        variant = Prompt.objects.filter(name=prompt.name, language=language, purpose=prompt.purpose).first()
        if variant is not None and variant.audio:
            return variant.audio.path
    return prompt.audio.path if prompt.audio else None


def announcement_prompts(language: str) -> dict:
    return {
        "position_before": system_prompt("position_before", language),
        "position_after": system_prompt("position_after", language),
        "many_ahead": system_prompt("many_ahead", language),
        "wait_before": system_prompt("wait_before", language),
        "wait_after": system_prompt("wait_after", language),
        "numbers": [system_prompt("number", language, n) for n in range(MAX_NUMBER_PROMPT + 1)],
    }


def menus_from(menu: IvrMenu, language: str = "") -> dict[str, dict]:
    """Every menu reachable from `menu`, described for the media process."""
    now = timezone.now()
    described: dict[str, dict] = {}
    pending = [menu.pk]
    while pending:
        menu_id = pending.pop()
        if str(menu_id) in described:
            continue
        current = IvrMenu.objects.select_related("greeting", "menu_prompt", "closed_prompt", "hours_queue").get(
            pk=menu_id
        )
        options = {}
        for option in current.options.select_related("prompt").all():
            options[option.digit] = {
                "action": option.action,
                "label": option.label,
                "queue": option.queue_id,
                "menu": option.submenu_id,
                "prompt": _path(option.prompt, language),
                "min": option.collect_min,
                "max": option.collect_max,
            }
            if option.submenu_id:
                pending.append(option.submenu_id)
        closed = current.hours_queue is not None and not hours.is_open(queue=current.hours_queue, at=now)
        described[str(menu_id)] = {
            "name": current.name,
            "greeting": _path(current.greeting, language),
            "prompt": _path(current.menu_prompt, language),
            "closed": closed,
            "closed_prompt": _path(current.closed_prompt, language),
            "timeout": current.timeout_seconds,
            "tries": current.max_tries,
            "no_choice": {"action": current.no_choice, "queue": current.no_choice_queue_id},
            "options": options,
        }
    return described


def call_flow(*, queue, language: str, recorded: bool) -> dict | None:
    """What the caller hears before waiting: the recorded-call notice and the queue's menu.
    None when there is nothing (the call goes straight to the queue)."""
    voice_settings = QueueVoice.objects.select_related("entry_menu").filter(queue=queue).first()
    menu = voice_settings.entry_menu if voice_settings else None
    notice = system_prompt("recorded", language) if recorded else None
    if menu is None and notice is None:
        return None
    return {
        "language": language,
        "recorded": notice,
        "menu": str(menu.pk) if menu else None,
        "menus": menus_from(menu, language) if menu else {},
        "system": {
            "invalid": system_prompt("invalid", language),
            "you_entered": system_prompt("you_entered", language),
            "confirm": system_prompt("confirm", language),
            "goodbye": system_prompt("goodbye", language),
            "numbers": [system_prompt("number", language, n) for n in range(10)],
        },
    }


def waiting_media(*, queue, language: str) -> dict:
    """While the caller waits in `queue`: the music, and the announcements of their place."""
    voice_settings = QueueVoice.objects.select_related("hold_music").filter(queue=queue).first()
    every = voice_settings.announce_every_seconds if voice_settings else 60
    return {
        "music": _path(voice_settings.hold_music, language) if voice_settings else None,
        "announce": {"every": every, **announcement_prompts(language)} if every else None,
    }


def prompt_from_file(path: Path, *, name: str, language: str = "", purpose: str = "general") -> Prompt:
    """A prompt made from a file on disk, as an upload would be (the demo's prompts)."""
    from django.core.files import File

    with path.open("rb") as source:
        upload = File(source, name=path.name)
        upload.size = path.stat().st_size
        audio, seconds = convert(upload)
        source.seek(0)
        prompt = Prompt(name=name, language=language, purpose=purpose, duration_seconds=seconds)
        prompt.original.save(path.name, upload, save=False)
    prompt.audio.save(f"{path.stem}.wav", audio, save=False)
    prompt.save()
    return prompt
