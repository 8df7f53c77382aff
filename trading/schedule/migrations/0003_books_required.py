"""Every row now belongs to a book (0008 moved the existing ones): the column is required."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [('schedule', '0002_books'), ('trading', '0008_move_rows_to_default_books')]

    operations = [
        migrations.AlterField(
            model_name="jobslot",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="schedule_slots", to="trading.book"),
        ),
    ]
