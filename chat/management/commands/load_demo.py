from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat.demo import load_demo_data


class Command(BaseCommand):
    help = "Load the demo queue, widget `demo` and demo users (demo mode only; safe to repeat)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError("demo data has well-known passwords; it loads only with CC_DEMO_MODE=true")
        counts = load_demo_data()
        self.stdout.write("demo data ready: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
