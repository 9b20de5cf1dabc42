"""Merchant webhooks: endpoints, the dispatcher and its delivery log (docs/automation.md)."""
