"""Tariff-change simulations (电价调整测算): the run records; the work is ``application.simulation``."""
