"""Control plane: reconcilers drive the real world toward the desired state kept in the store."""
