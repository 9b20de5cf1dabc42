"""Kafka consumers that feed the projections."""
