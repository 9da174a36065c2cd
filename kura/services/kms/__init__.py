"""KMS: symmetric keys, aliases and envelope encryption.

The handler modules register their operations on import; `internal` is the in-process API that
Kura's other services use for envelope encryption.
"""

from kura.services.kms import aliases, crypto_ops, internal, keys, policies, tagging

__all__ = ["aliases", "crypto_ops", "internal", "keys", "policies", "tagging"]
