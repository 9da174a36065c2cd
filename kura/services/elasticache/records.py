"""The contract between the ElastiCache handlers (API plane) and their reconcilers (control plane).

As for RDS (kura/services/rds/records.py): handlers write desired state into `spec`, reconcilers write
observed state into `status`, and the status clients see (CacheClusterStatus, Status) is derived from
both in views.

cache-cluster spec (ElastiCache API member names unless lower_snake_case):
    CacheClusterId, CacheNodeType, Engine ("redis"), EngineVersion (as requested), NumCacheNodes (1 for
    redis), CacheParameterGroupName, CacheSubnetGroupName, SecurityGroupIds (list),
    PreferredAvailabilityZone, PreferredMaintenanceWindow, SnapshotRetentionLimit, SnapshotWindow,
    SnapshotName / SnapshotArns (restore source), Port (6379), AuthToken handled as auth_token_sealed,
    TransitEncryptionEnabled, AtRestEncryptionEnabled, KmsKeyId (for at-rest: snapshots), Tags (dict),
    ReplicationGroupId (when the cluster is a member), AutoMinorVersionUpgrade, NotificationTopicArn,
    LogDeliveryConfigurations, IpDiscovery, NetworkType, CacheClusterCreateTime (epoch),
  Kura's own:
    auth_token_sealed   base64 of MasterKey.seal(token, aad=cluster ARN)
    desired             "available" | "deleted"
    reboot_seq          int, +1 per RebootCacheCluster
    role                "primary" | "replica" (members of a replication group; the replication-group
                        reconciler decides, the cluster reconciler follows)
    final_snapshot      FinalSnapshotIdentifier on delete, or None
    auth_token_seq      int, +1 per AuthToken change (ModifyCacheCluster / ModifyReplicationGroup); the
                        reconciler copies it into status.auth_token_seq once the servers use the token
    auth_token_strategy "SET" | "ROTATE" | "DELETE": how the last change is carried out
    auth_token_previous_sealed  the token still accepted during a ROTATE (None otherwise)
    AuthTokenLastModifiedDate   epoch of the last AuthToken change (shown as is)
    PendingModifiedValues       {"CacheNodeType": …, "EngineVersion": …}: changes asked for without
                        ApplyImmediately, applied in the next maintenance window

cache-cluster status (reconciler only):
    state            "creating" | "available" | "modifying" | "rebooting cache cluster nodes" |
                     "deleting" | "incompatible-parameters" | "restore-failed" | "failed"
    address, port    the node endpoint (its own loopback address, port 6379)
    engine_version   the Redis version actually running (e.g. "7.0.15")
    reboot_seq       the last reboot carried out
    parameter_apply_status  "in-sync" | "applying" | "pending-reboot"
    role             what the node really is now ("primary"/"replica") and primary_of / replica_of
    applied          {"CacheNodeType": …, "maxmemory": …, …}

replication-group spec: ReplicationGroupId, ReplicationGroupDescription, NumCacheClusters,
    AutomaticFailoverEnabled, MultiAZEnabled, CacheNodeType, EngineVersion, CacheParameterGroupName,
    CacheSubnetGroupName, SecurityGroupIds, Port, AuthToken → auth_token_sealed, TransitEncryptionEnabled,
    AtRestEncryptionEnabled, KmsKeyId, SnapshotRetentionLimit, SnapshotWindow, PreferredMaintenanceWindow,
    Tags, members (list of CacheClusterIds, "<group>-001", "-002", …), desired, failover_seq (TestFailover
    and ModifyReplicationGroup PrimaryClusterId, +1 per planned failover), failover_target (the member
    PrimaryClusterId asked for, or None: the reconciler elects), final_snapshot, ReplicationGroupCreateTime,
    PendingModifiedValues, auth_token_* as for cache clusters (the members carry no token of their own)
replication-group status: state ("creating" | "available" | "modifying" | "deleting"), primary (member
    id), primary_endpoint / reader_endpoint ({"address", "port"}), failover_seq, last_failover (epoch).

cache-parameter-group spec: CacheParameterGroupName, CacheParameterGroupFamily ("redis7"), Description,
    Tags, Parameters {name: value} (only what the user set; defaults from the catalogue).
cache-subnet-group spec: CacheSubnetGroupName, CacheSubnetGroupDescription, VpcId, SubnetIds, Tags.
snapshot spec: SnapshotName, SnapshotSource ("manual" | "automated"), CacheClusterId / ReplicationGroupId,
    the source's CacheNodeType, EngineVersion, Port, ParameterGroup, KmsKeyId, Tags, copy_of (CopySnapshot)
snapshot status: state ("creating" | "available" | "copying" | "deleting" | "failed"), file (path of the
    RDB, encrypted when AtRestEncryptionEnabled), size, created (epoch).

Engine catalogue (kv `catalog:redis`): [{"version": "7.0.15", "major": 7, "family": "redis7",
    "parameters": [{"name", "value", "data_type", "allowed_values", "is_modifiable", "change_type":
    "immediate" | "requires-reboot", "description", "minimum_engine_version"}]}] — published by the
    control plane from the real server's `CONFIG GET *` with ElastiCache's names.
"""

from __future__ import annotations

KIND_CACHE_CLUSTER = "elasticache.cache-cluster"
KIND_REPLICATION_GROUP = "elasticache.replication-group"
KIND_PARAMETER_GROUP = "elasticache.cache-parameter-group"
KIND_SUBNET_GROUP = "elasticache.cache-subnet-group"
KIND_SNAPSHOT = "elasticache.snapshot"

CATALOG_KEY = "catalog:redis"

# DescribeEvents SourceType values.
SOURCE_CLUSTER = "cache-cluster"
SOURCE_REPLICATION_GROUP = "replication-group"
SOURCE_PARAMETER_GROUP = "cache-parameter-group"
SOURCE_SUBNET_GROUP = "cache-subnet-group"
SOURCE_SNAPSHOT = "snapshot"
