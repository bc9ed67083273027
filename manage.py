#!/usr/bin/env python
import os
import sys


def main() -> None:
    if not os.environ.get("DATABASE_URL") and not os.environ.get("SECRET_KEY"):
        # A bare checkout (production always sets both): run the command the way
        # `make manage` does, on the embedded services in demo mode, and say so.
        sys.stderr.write("manage.py: DATABASE_URL and SECRET_KEY unset: using the embedded services in demo mode\n")
        os.environ["CC_DEMO_MODE"] = "true"
        from contactcenter.run import main as run

        sys.exit(run(["--manage", *sys.argv[1:]]))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    from contactcenter.bootstrap import exit_on_configuration_error

    exit_on_configuration_error()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
