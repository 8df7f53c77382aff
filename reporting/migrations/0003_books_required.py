"""Every row now belongs to a book (0008 moved the existing ones): the column is required."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [('reporting', '0002_books_and_snapshots'), ('trading', '0008_move_rows_to_default_books')]

    operations = [
        migrations.AlterField(
            model_name="dailyreport",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="daily_reports", to="trading.book"),
        ),
    ]
