"""Adapters to external systems (AMI head-end, payment gateways ...)."""
