"""The write side and the composition root: application service, settings, CLI."""
