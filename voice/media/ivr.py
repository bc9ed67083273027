"""Walking a caller through the call flow (voice/prompts.call_flow) on any media engine: the
recorded-call notice, menus with their greetings (or the closed greeting), keys with time-outs
and tries, sub-menus, messages, and collecting digits that are read back and confirmed with #.
Keys pressed during a prompt interrupt it (barge-in) and count at once.

The walk ends with an outcome: `{"queue": id or None, "path": [keys], "collected": {label:
digits}}` to wait in a queue (None: the call's own), or `{"hang_up": "closed" | "no_choice"}`.
"""

from __future__ import annotations

import asyncio
import logging

from .engine import CALLER, MediaEngine

logger = logging.getLogger(__name__)

COLLECT_KEY_SECONDS = 8  # between two digits of a number being keyed
COLLECT_TRIES = 3


async def walk(engine: MediaEngine, call_id: str, flow: dict) -> dict:
    if flow.get("recorded"):
        await engine.say(call_id, [flow["recorded"]], interruptible=False)
    menu_id = flow.get("menu")
    path: list[str] = []
    collected: dict[str, str] = {}
    greeted: set[str] = set()
    system = flow["system"]
    while menu_id is not None:
        menu = flow["menus"][menu_id]
        if menu["closed"]:
            if menu["closed_prompt"]:
                await engine.say(call_id, [menu["closed_prompt"]], interruptible=False)
            return {"hang_up": "closed", "path": path}
        if menu_id not in greeted:
            greeted.add(menu_id)
            if menu["greeting"]:
                await engine.say(call_id, [menu["greeting"]])
        key, option = await _choose(engine, call_id, menu, system)
        if option is None:
            if menu["no_choice"]["action"] == "queue":
                return {"queue": menu["no_choice"]["queue"], "path": path, "collected": collected}
            await _say_present(engine, call_id, [system["goodbye"]])
            return {"hang_up": "no_choice", "path": path}
        path.append(key)
        action = option["action"]
        if action == "queue":
            return {"queue": option["queue"], "path": path, "collected": collected}
        if action == "submenu":
            menu_id = str(option["menu"])
        elif action == "message":
            await engine.say(call_id, [option["prompt"]])
        elif action == "collect":
            digits = await _collect(engine, call_id, option, system)
            if digits is None:
                await _say_present(engine, call_id, [system["goodbye"]])
                return {"hang_up": "no_choice", "path": path}
            collected[option["label"]] = digits
            return {"queue": option["queue"], "path": path, "collected": collected}
        # "repeat": the menu again
    return {"queue": None, "path": path, "collected": collected}


async def _say_present(engine: MediaEngine, call_id: str, prompts: list[str | None]) -> None:
    present = [prompt for prompt in prompts if prompt]
    if present:
        await engine.say(call_id, present, interruptible=False)


async def _choose(engine: MediaEngine, call_id: str, menu: dict, system: dict) -> tuple[str | None, dict | None]:
    """The caller's key and its option, within the menu's tries; (None, None) if none."""
    for _try in range(menu["tries"]):
        key = await engine.next_digit(call_id, 0.01)  # keyed ahead, during the greeting
        if key is None:
            await engine.say(call_id, [menu["prompt"]])
            key = await engine.next_digit(call_id, menu["timeout"])
        if key is None:
            continue
        option = menu["options"].get(key)
        if option is not None:
            return key, option
        if system["invalid"]:
            await engine.say(call_id, [system["invalid"]])
    return None, None


async def _collect(engine: MediaEngine, call_id: str, option: dict, system: dict) -> str | None:
    """Digits keyed and ended with # (or the most allowed), read back, confirmed with #; *
    starts over. None after COLLECT_TRIES failures."""
    for _try in range(COLLECT_TRIES):
        await engine.say(call_id, [option["prompt"]])
        digits = ""
        while len(digits) < option["max"]:
            key = await engine.next_digit(call_id, COLLECT_KEY_SECONDS)
            if key is None or key == "#":
                break
            digits = "" if key == "*" else digits + key
        if len(digits) < option["min"]:
            if system["invalid"]:
                await engine.say(call_id, [system["invalid"]])
            continue
        readback = [system["you_entered"], *(system["numbers"][int(d)] for d in digits), system["confirm"]]
        await engine.say(call_id, [prompt for prompt in readback if prompt])
        if await engine.next_digit(call_id, COLLECT_KEY_SECONDS) == "#":
            return digits
    return None


async def announce(engine, call_id: str, prompts: dict, figures) -> None:
    """Every `prompts["every"]` seconds while the caller waits: "You are number N in the
    queue" (N up to 20, else "more than twenty are waiting before you") and "The estimated
    waiting time is about M minutes" (M up to 20), over the music. `figures()` is awaited for
    `{"position", "minutes"}` now; None means no longer waiting."""
    call = engine.calls.get(call_id)
    if call is None:
        return
    while True:
        await asyncio.sleep(prompts["every"])
        if call.mode != "wait":
            return
        now = await figures()
        if now is None:
            return
        place, minutes = now["position"], now.get("minutes")
        numbers = prompts["numbers"]
        if place < len(numbers) and numbers[place]:
            words = [prompts["position_before"], numbers[place], prompts["position_after"]]
        else:
            words = [prompts["many_ahead"]]
        if minutes and minutes < len(numbers) and numbers[minutes] and prompts.get("wait_before"):
            words += [prompts["wait_before"], numbers[minutes], prompts.get("wait_after")]
        words = [word for word in words if word]
        if not words or call.mode != "wait":
            continue
        call.announcing = True
        try:
            await engine.say(call_id, words, interruptible=False)
        finally:
            call.announcing = False
        if call.mode == "wait" and call.music is not None and CALLER in call.legs:
            call.legs[CALLER].track.play(call.music)  # the music goes on where it paused
