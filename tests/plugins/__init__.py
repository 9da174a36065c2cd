"""Test-only reconcilers, loaded into a real `kura up` through KURA_PLUGINS."""
