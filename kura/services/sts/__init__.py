"""STS: only what clients use to ask who they are (`aws sts get-caller-identity`)."""

from kura.services.sts import handlers as handlers
