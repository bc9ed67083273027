from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the media process: call legs, hold music, bridges and recordings (docs/voice.md)."

    def handle(self, *args, **options):
        from voice.media.worker import run

        try:
            run()
        except KeyboardInterrupt:
            pass
