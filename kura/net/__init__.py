"""The network of the data plane: endpoint addresses (`addresses`), the Kura CA and certificates (`tls`)."""
