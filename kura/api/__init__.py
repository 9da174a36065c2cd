"""API plane: HTTP gateway, SigV4, generic AWS protocols driven by botocore models."""
