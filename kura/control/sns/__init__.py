"""SNS's control plane: delivering queued messages to HTTP/S endpoints and mailboxes, with retries."""
