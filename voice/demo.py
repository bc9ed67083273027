"""The demo's voice side: the demo queue records its calls and greets callers with a menu
(English and Finnish, spoken by the bundled synthetic voice)."""

from __future__ import annotations

from pathlib import Path

from routing.models import Queue

from . import prompts
from .models import IvrMenu, IvrOption, Prompt, QueueVoice

DEMO_PROMPTS = Path(__file__).resolve().parent / "prompts" / "demo"
NAMES = {"greeting": "Demo greeting", "menu": "Demo menu", "customer_number": "Demo: customer number"}


def _prompt(key: str) -> Prompt:
    """The demo prompt in English, with its Finnish variant beside it (same name)."""
    english = None
    for language in ("en", "fi"):
        existing = Prompt.objects.filter(name=NAMES[key], language=language).first()
        prompt = existing or prompts.prompt_from_file(
            DEMO_PROMPTS / language / f"{key}.ogg", name=NAMES[key], language=language
        )
        english = english or prompt
    return english


def load_voice_demo(queue: Queue) -> None:
    menu, _ = IvrMenu.objects.update_or_create(
        name="Demo menu",
        defaults={"greeting": _prompt("greeting"), "menu_prompt": _prompt("menu"), "timeout_seconds": 6},
    )
    IvrOption.objects.update_or_create(
        menu=menu, digit="1", defaults={"label": "Advice", "action": IvrOption.Action.QUEUE, "queue": queue}
    )
    IvrOption.objects.update_or_create(
        menu=menu,
        digit="2",
        defaults={
            "label": "customer number",
            "action": IvrOption.Action.COLLECT,
            "queue": queue,
            "prompt": _prompt("customer_number"),
            "collect_min": 4,
            "collect_max": 10,
        },
    )
    IvrOption.objects.update_or_create(
        menu=menu, digit="9", defaults={"label": "Again", "action": IvrOption.Action.REPEAT}
    )
    QueueVoice.objects.update_or_create(queue=queue, defaults={"record_calls": True, "entry_menu": menu})
