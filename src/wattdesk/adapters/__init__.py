"""Adapters to the world outside WattDesk (notification gateways, ...): one module per external system."""
