"""Mechanics shared by every service, written once: tags, pagination, filters, idempotency."""
