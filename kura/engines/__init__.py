"""Data-plane adapters: small, synchronous, one per engine. Only the control plane imports them."""
