"""SNS: topics, subscriptions (HTTP/S and e-mail, with the confirmation handshake) and Publish.
Importing the package registers every handler; delivery runs in the control plane (kura/control/sns)."""

from kura.services.sns import listing, publish, subscriptions, tags, topics  # noqa: F401  (registers handlers)
