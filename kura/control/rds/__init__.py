"""RDS's control plane: the DB instance reconciler (instance.py: observe → plan.py → actions.py),
the parameter group watcher, the engine catalogue publisher and the master password rotator."""
