"""Django for the benchmarks that call the services directly (routing, reports, the relay's
writer), on the services `make run` uses: DATABASE_URL / REDIS_URL, or the embedded ones.

Import it first, before anything of the project: `from django_services import SERVICES`,
and call `SERVICES.stop()` at the end (it stops only what it started).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
os.environ.setdefault("CC_DEMO_MODE", "true")

from contactcenter.embedded import ensure_services  # noqa: E402

SERVICES = ensure_services()

import django  # noqa: E402

django.setup()
