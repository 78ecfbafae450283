"""Baton's shared package: event schemas, topic names, settings, Kafka and telemetry wiring.

Every service imports this package; nothing here reads the environment at import time.
"""
