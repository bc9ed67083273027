"""Make the bundled system prompts (voice/prompts/system/<language>/<purpose>.ogg) with
espeak-ng: digits and numbers, the recorded-call notice, queue announcements, the read-back
of collected digits. A developer's tool (apt-get install espeak-ng), run when a text changes;
the Ogg/Opus files are committed, so nothing is synthesised or downloaded at run time.
Every run rewrites every file (Ogg streams get new serial numbers): commit only the ones whose
text changed.
Installations replace any of them with their own recordings in the console (V5).

    .venv/bin/python scripts/make_system_prompts.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import av

OUT = Path(__file__).resolve().parent.parent / "voice" / "prompts" / "system"
VOICES = {"en": "en-gb", "fi": "fi", "sv": "sv", "nb": "nb", "da": "da", "ru": "ru"}

NUMBERS = {
    "en": "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty",
    "fi": "nolla yksi kaksi kolme neljä viisi kuusi seitsemän kahdeksan yhdeksän kymmenen yksitoista kaksitoista "
    "kolmetoista neljätoista viisitoista kuusitoista seitsemäntoista kahdeksantoista yhdeksäntoista kaksikymmentä",
    "sv": "noll ett två tre fyra fem sex sju åtta nio tio elva tolv tretton fjorton femton sexton sjutton arton "
    "nitton tjugo",
    "nb": "null en to tre fire fem seks sju åtte ni ti elleve tolv tretten fjorten femten seksten sytten atten "
    "nitten tjue",
    "da": "nul en to tre fire fem seks syv otte ni ti elleve tolv tretten fjorten femten seksten sytten atten "
    "nitten tyve",
    "ru": "ноль один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать "
    "четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать двадцать",
}

PHRASES = {
    "recorded": {
        "en": "This call is recorded.",
        "fi": "Tämä puhelu tallennetaan.",
        "sv": "Det här samtalet spelas in.",
        "nb": "Denne samtalen blir tatt opp.",
        "da": "Denne samtale bliver optaget.",
        "ru": "Этот звонок записывается.",
    },
    "position_before": {
        "en": "You are number",
        "fi": "Olet jonossa numero",
        "sv": "Du är nummer",
        "nb": "Du er nummer",
        "da": "Du er nummer",
        "ru": "Ваш номер в очереди",
    },
    "position_after": {
        "en": "in the queue.",
        "fi": ".",
        "sv": "i kön.",
        "nb": "i køen.",
        "da": "i køen.",
        "ru": ".",
    },
    "many_ahead": {
        "en": "More than twenty callers are waiting before you.",
        "fi": "Ennen sinua jonossa on yli kaksikymmentä soittajaa.",
        "sv": "Fler än tjugo väntar före dig.",
        "nb": "Flere enn tjue venter foran deg.",
        "da": "Flere end tyve venter før dig.",
        "ru": "Перед вами более двадцати звонящих.",
    },
    "wait_before": {
        "en": "The estimated waiting time is about",
        "fi": "Arvioitu odotusaika on noin",
        "sv": "Den beräknade väntetiden är ungefär",
        "nb": "Beregnet ventetid er omtrent",
        "da": "Den forventede ventetid er cirka",
        "ru": "Примерное время ожидания",
    },
    "wait_after": {
        "en": "minutes.",
        "fi": "minuuttia.",
        "sv": "minuter.",
        "nb": "minutter.",
        "da": "minutter.",
        "ru": "минут.",
    },
    "you_entered": {
        "en": "You entered",
        "fi": "Näppäilit",
        "sv": "Du angav",
        "nb": "Du tastet",
        "da": "Du indtastede",
        "ru": "Вы ввели",
    },
    "confirm": {
        "en": "Press hash to confirm, or star to enter again.",
        "fi": "Vahvista painamalla risuaitaa, tai näppäile uudelleen painamalla tähteä.",
        "sv": "Tryck fyrkant för att bekräfta, eller stjärna för att ange igen.",
        "nb": "Trykk firkant for å bekrefte, eller stjerne for å taste på nytt.",
        "da": "Tryk firkant for at bekræfte, eller stjerne for at indtaste igen.",
        "ru": "Нажмите решётку для подтверждения или звёздочку, чтобы ввести заново.",
    },
    "invalid": {
        "en": "Sorry, that is not one of the choices.",
        "fi": "Valitettavasti tuota vaihtoehtoa ei ole.",
        "sv": "Tyvärr, det är inte ett av valen.",
        "nb": "Beklager, det er ikke et av valgene.",
        "da": "Beklager, det er ikke et af valgene.",
        "ru": "Извините, такого варианта нет.",
    },
    "goodbye": {
        "en": "Thank you for calling. Goodbye.",
        "fi": "Kiitos soitostasi. Näkemiin.",
        "sv": "Tack för ditt samtal. Hej då.",
        "nb": "Takk for at du ringte. Ha det.",
        "da": "Tak for dit opkald. Farvel.",
        "ru": "Спасибо за звонок. До свидания.",
    },
}


DEMO = Path(__file__).resolve().parent.parent / "voice" / "prompts" / "demo"
DEMO_PROMPTS = {
    "greeting": {
        "en": "Welcome to demo support.",
        "fi": "Tervetuloa demotukeen.",
    },
    "menu": {
        "en": "For advice, press 1. To key in your customer number, press 2. To hear this again, press 9.",
        "fi": "Neuvontaan paina 1. Asiakasnumeron näppäilyyn paina 2. Kuullaksesi tämän uudelleen paina 9.",
    },
    "customer_number": {
        "en": "Key in your customer number, then press hash.",
        "fi": "Näppäile asiakasnumerosi ja paina lopuksi risuaitaa.",
    },
}


def synthesise(voice: str, text: str, target: Path) -> None:
    with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", wav.name, text], check=True)  # noqa: S603, S607
        with av.open(wav.name) as source, av.open(str(target), "w", format="ogg") as out:
            stream = out.add_stream("libopus", rate=48_000, layout="mono")
            stream.bit_rate = 24_000
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
            for frame in source.decode(audio=0):
                for resampled in resampler.resample(frame):
                    for packet in stream.encode(resampled):
                        out.mux(packet)
            for resampled in resampler.resample(None):
                for packet in stream.encode(resampled):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)


def main() -> int:
    for language, voice in VOICES.items():
        folder = OUT / language
        folder.mkdir(parents=True, exist_ok=True)
        for number, word in enumerate(NUMBERS[language].split()):
            synthesise(voice, word, folder / f"number_{number}.ogg")
        for purpose, texts in PHRASES.items():
            if texts[language].strip(" .") or purpose != "position_after":
                synthesise(voice, texts[language], folder / f"{purpose}.ogg")
        print(language, len(list(folder.glob("*.ogg"))), "prompts")
    for name, texts in DEMO_PROMPTS.items():
        for language, text in texts.items():
            (DEMO / language).mkdir(parents=True, exist_ok=True)
            synthesise(VOICES[language], text, DEMO / language / f"{name}.ogg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
