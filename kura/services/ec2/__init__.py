"""The EC2 networking subset RDS and ElastiCache validate against: VPCs, subnets, security groups,
availability zones and tags. Records only — no host networking (the router enforces groups later).

Other services use `kura.services.ec2.lookup`, never the handlers or records directly.
"""

from kura.services.ec2 import (  # noqa: F401  (importing registers the handlers)
    availability_zones,
    rule_ops,
    security_groups,
    subnets,
    tags,
    vpcs,
)
