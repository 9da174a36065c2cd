"""Secrets Manager: secrets encrypted at rest under KMS data keys, versions with staging labels,
resource policies, and rotation through registered rotators (rotation.py)."""

from kura.services.secretsmanager import (  # noqa: F401  (importing registers the handlers)
    access,
    listing,
    password,
    policies,
    rotate,
    secrets,
)
