from django.apps import AppConfig


class SimConfig(AppConfig):
    name = "trading.sim"
    label = "sim"
    verbose_name = "Simulated broker (SIM)"
