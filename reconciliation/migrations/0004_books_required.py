"""Every row now belongs to a book (0008 moved the existing ones): the column is required."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [('reconciliation', '0003_books'), ('trading', '0008_move_rows_to_default_books')]

    operations = [
        migrations.AlterField(
            model_name="discrepancy",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="discrepancies", to="trading.book"),
        ),
        migrations.AlterField(
            model_name="reconciliationrun",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="reconciliation_runs", to="trading.book"),
        ),
    ]
