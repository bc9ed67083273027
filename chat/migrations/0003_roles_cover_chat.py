from django.db import migrations


def sync_roles(apps, schema_editor):
    from routing.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_conversations_messages_prechat")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
