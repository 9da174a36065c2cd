"""AWS services: thin handlers that validate, write desired state to the store and answer at once."""
