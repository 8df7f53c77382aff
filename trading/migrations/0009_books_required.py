"""Every row now belongs to a book (0008 moved the existing ones): the column is required."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [('trading', '0008_move_rows_to_default_books')]

    operations = [
        migrations.AlterField(
            model_name="candidate",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="candidates", to="trading.book"),
        ),
        migrations.AlterField(
            model_name="fill",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="fills", to="trading.book"),
        ),
        migrations.AlterField(
            model_name="order",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="orders", to="trading.book"),
        ),
        migrations.AlterField(
            model_name="pipelinerun",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="runs", to="trading.book"),
        ),
        migrations.AlterField(
            model_name="position",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="positions", to="trading.book"),
        ),
        migrations.AlterField(
            model_name="trade",
            name="book",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="trades", to="trading.book"),
        ),
    ]
