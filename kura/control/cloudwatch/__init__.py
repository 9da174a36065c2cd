"""CloudWatch's control plane: evaluating alarms and running their actions."""
