"""The contract between the RDS handlers (API plane) and the RDS reconcilers (control plane).

Handlers write *desired state* into `spec`; reconcilers write *observed state* into `status`. Neither
writes the other's half. What DescribeDBInstances shows as `DBInstanceStatus` is derived from both
(views.instance_status), so there is one writer per field and no status to keep in sync by hand.

db-instance spec (keys are RDS API member names unless noted):
    DBInstanceIdentifier, DBInstanceClass, Engine, EngineVersion (as requested), AllocatedStorage,
    MaxAllocatedStorage, StorageType, Iops, StorageThroughput, StorageEncrypted, KmsKeyId (key ARN),
    MasterUsername, DBName, Port, DBSubnetGroupName, VpcSecurityGroupIds (list), AvailabilityZone,
    BackupRetentionPeriod, PreferredBackupWindow, PreferredMaintenanceWindow, MultiAZ,
    PubliclyAccessible, AutoMinorVersionUpgrade, EnablePerformanceInsights,
    PerformanceInsightsRetentionPeriod, PerformanceInsightsKMSKeyId, MonitoringInterval,
    MonitoringRoleArn, DeletionProtection, CopyTagsToSnapshot, CACertificateIdentifier,
    DBParameterGroupName, Tags (dict key → value), DbiResourceId, InstanceCreateTime (epoch),
    EnableCloudwatchLogsExports (list), EnableIAMDatabaseAuthentication, LicenseModel, NetworkType,
    ManageMasterUserPassword (bool), MasterUserSecretArn, MasterUserSecretKmsKeyId,
    PendingModifiedValues (dict: what ModifyDBInstance deferred to the maintenance window),
  and Kura's own (lower_snake_case, never shown to clients):
    master_password_sealed  base64 of MasterKey.seal(password, aad=instance ARN); absent when
                            ManageMasterUserPassword (the password then lives in the secret)
    desired                 "available" | "stopped" | "deleted"
    reboot_seq              int, +1 per RebootDBInstance (the reconciler acts when it is ahead of
                            status.reboot_seq); force_failover alongside for the HA issue
    password_seq            int, +1 per master password change (ModifyDBInstance / rotation)
    final_snapshot          {"skip": bool, "identifier": str | None, "delete_automated_backups": bool}
    force_failover          the reboot_seq of the reboot that should fail over (the HA issue)
    stop_snapshot           StopDBInstance's DBSnapshotIdentifier (the backups issue)
    CharacterSetName        as given (UTF8)
    ReadReplicaSourceDBInstanceIdentifier   a read replica's source (CreateDBInstanceReadReplica); removed
                            by PromoteReadReplica. While set, the instance is a hot standby streaming
                            from the source; once removed, the reconciler promotes it (op "promote").
    ReadReplicaSourceDbiResourceId  the source's DbiResourceId when the replica was made (a source
                            deleted and re-created under the same name is not this replica's source)
    restore_from            set by RestoreDBInstanceFromDBSnapshot / RestoreDBInstanceToPointInTime:
                            {"snapshot": DBSnapshotIdentifier} or
                            {"automated_backup": DbiResourceId of the source, "time": epoch | None}
                            (None: the latest restorable time when the restore runs) or, for the
                            first writer of a clone, {"volume": the clone's DBClusterIdentifier, …}
                            (its volume is moved in and recovered: cluster_volume). The create
                            restores the data instead of copying the template; the master user keeps
                            the password it had in the source (no master_password_sealed then).

db-instance status (written only by the reconciler):
    state           "creating" | "backing-up" | "available" | "modifying" | "rebooting" | "stopping" |
                    "stopped" | "starting" | "deleting" | "storage-full" | "incompatible-parameters" |
                    "failed" — the last phase the reconciler reached
    address, port   the endpoint, once allocated
    engine_version  the PostgreSQL version actually running (e.g. "16.15")
    reboot_seq, password_seq   the last request of each kind carried out
    applied         {"DBInstanceClass": …, "AllocatedStorage": …, …} what the engine runs with now
    parameter_apply_status  "in-sync" | "applying" | "pending-reboot"
    storage         {"used_bytes": int, "free_bytes": int, "measured_at": epoch}
    error           the last failure, as the runtime writes it; op: the runtime's checkpoint
    log_dir         where the PostgreSQL logs are (DescribeDBLogFiles reads it)
    certificate_valid_till, tls   the endpoint certificate's expiry and files
    fenced          storage-full fence in force; failure, failed_parameters, create_attempts: why
                    the instance is failed / incompatible-parameters
    master_user_secret_arn, parameter_group_seen   bookkeeping of the reconciler
    replication     read replicas: {"state": "replicating" | "error" | "stopped", "lag": seconds | None,
                    "error": str | None, "measured_at": epoch} (StatusInfos; ReplicaLag)
    stopped_at      epoch: when the reconciler first saw it stopped (autostart: seven days later AWS,
                    and Kura, start it again); dropped once it runs
    role            "replica" (a hot standby) | "primary" (promoted, or never a replica: absent); this,
                    not the spec, says what the node is: a replica whose source was deleted is
                    promoted with its spec unchanged
    replica_of      the source it was cloned from (to drop its slot there once promoted or deleted)
    status_infos    extra StatusInfos entries (none written yet)
  applied holds DBInstanceClass, AllocatedStorage (grown by storage autoscaling: views show the larger
  of spec and applied), Port, CACertificateIdentifier, parameter_group and parameters; a spec field
  that differs from its applied value shows the instance as `modifying`.

rds.automated-backup (one per instance with BackupRetentionPeriod >= 1; id = the instance's
DbiResourceId; it outlives the instance when DeleteDBInstance says DeleteAutomatedBackups=false)
  spec (handlers): DBInstanceIdentifier, DbiResourceId, DBInstanceArn, Engine, EngineVersion,
    AllocatedStorage, Port, MasterUsername, AvailabilityZone, VpcId, InstanceCreateTime, StorageType,
    Iops, StorageEncrypted, KmsKeyId, BackupRetentionPeriod, PreferredBackupWindow,
    IAMDatabaseAuthenticationEnabled, DBName,
    desired   "active" (the instance lives) | "retained" (the instance was deleted, the backups
              stay until retention expires) | "deleted" (remove everything)
  status (the automated-backup reconciler):
    state     "creating" (before the first base backup) | "active" | "retained" | "deleting"
    taking    True while a base backup runs (the instance shows `backing-up` meanwhile)
    earliest, latest   epoch: the earliest / latest restorable time (latest: seconds behind now)
    backups   [{"id", "started", "finished", "start_lsn", "timeline", "size"}] oldest first
    size_bytes  the backup storage used (base backups + WAL)

rds.db-snapshot (id = DBSnapshotIdentifier; automated ones are "rds:<instance>-YYYY-MM-DD-HH-MM")
  spec (handlers): DBSnapshotIdentifier, DBInstanceIdentifier, DbiResourceId, SnapshotType ("manual" |
    "automated"), Engine, EngineVersion (what the source runs), DBInstanceClass (the source's), Port,
    AllocatedStorage, StorageType, Iops, AvailabilityZone, VpcId, MasterUsername, DBName, LicenseModel,
    InstanceCreateTime, StorageEncrypted, KmsKeyId, IAMDatabaseAuthenticationEnabled, Tags,
    DBParameterGroupName (the source's, used by restores that name none),
    SnapshotCreateTime requested (epoch of the request), desired ("available" | "deleted"),
    copy_of   CopyDBSnapshot / CopyDBClusterSnapshot: the source snapshot's identifier (the reconciler
              copies its files); also a final cluster snapshot of a cluster restored from a snapshot,
    cluster_storage  DeleteDBCluster's final snapshot: the cluster's storage (its spec `storage`), which
              the reconciler recovers in a scratch server and copies cold (cluster_volume.write_final),
    SourceDBClusterSnapshotArn  CopyDBClusterSnapshot's source,
    attributes  {"restore": [account ids or "all"]} (ModifyDBSnapshotAttribute)
  status (the snapshot reconciler): state "creating" | "available" | "failed" | "deleting",
    progress (0-100), created (epoch: SnapshotCreateTime), size, kms_key_arn, failure

rds.db-cluster (Aurora PostgreSQL; id = DBClusterIdentifier)
  spec (handlers): DBClusterIdentifier, Engine ("aurora-postgresql"), EngineVersion, Port, DatabaseName,
    MasterUsername, ManageMasterUserPassword, MasterUserSecretArn, MasterUserSecretKmsKeyId,
    master_password_sealed (aad = the cluster ARN), StorageEncrypted, KmsKeyId, BackupRetentionPeriod,
    PreferredBackupWindow, PreferredMaintenanceWindow, DBSubnetGroupName, VpcSecurityGroupIds,
    AvailabilityZones, EnableIAMDatabaseAuthentication, EnableCloudwatchLogsExports, DeletionProtection,
    CopyTagsToSnapshot, ServerlessV2ScalingConfiguration ({MinCapacity, MaxCapacity} or absent),
    EnablePerformanceInsights, PerformanceInsightsRetentionPeriod, PerformanceInsightsKMSKeyId (its
    members' too: given to each at create and on ModifyDBCluster, services/rds/insights.py),
    DBClusterParameterGroupName, Tags, DbClusterResourceId, ClusterCreateTime (epoch),
    desired ("available" | "stopped" | "deleted"), writer (the writer member's DBInstanceIdentifier, set
    by the first CreateDBInstance into the cluster), final_snapshot (DeleteDBCluster's
    FinalDBSnapshotIdentifier: the storage is kept until it is taken), storage (where the data is while
    no writer holds it: {"automated_backup": DbiResourceId, "time": epoch | None, "owned": bool} of a
    deleted writer or a point-in-time restore, {"snapshot": id} of a snapshot restore, or a clone's
    {"volume": its own id, "clone_of", "source_instance", "source_dbi"}).
  status (the cluster reconciler): state "creating" | "available" | "deleting"; address (the cluster
    endpoint), reader_address (the reader endpoint), port; volume (a clone's copy: last_segment, at,
    bytes, files, methods, seconds); stopped_at (as an instance's); final_snapshot_failed.
  status failover {from, to, step} while FailoverDBCluster runs (spec failover_seq / failover_target ask
    for it), holding (the cluster endpoint has no target meanwhile), published (what the router has).
rds.db-cluster-parameter-group (id = DBClusterParameterGroupName): DBClusterParameterGroupName,
  DBParameterGroupFamily ("aurora-postgresql<major>"), Description, Tags, Parameters (as a DB parameter
  group's). Its values apply to every member of the clusters naming it, under the member's own group.
rds.db-cluster-endpoint (a custom endpoint; id = DBClusterEndpointIdentifier)
  spec: DBClusterEndpointIdentifier, DBClusterIdentifier, CustomEndpointType ("READER" | "ANY"),
    StaticMembers, ExcludedMembers, DBClusterEndpointResourceIdentifier, Tags, desired.
  status (the cluster reconciler): state "creating" | "available"; address.
  Members are db-instances whose spec has DBClusterIdentifier (and PromotionTier): the writer is an
  ordinary primary built from the cluster's settings; a reader is a hot standby of the writer
  (ReadReplicaSourceDBInstanceIdentifier, never shown for a cluster member).

db-parameter-group spec: DBParameterGroupName, DBParameterGroupFamily, Description, Tags,
    Parameters: {name: {"ParameterValue": str, "ApplyMethod": "immediate" | "pending-reboot"}}
    (only the values the user set; the defaults come from the engine catalogue).
db-subnet-group spec: DBSubnetGroupName, DBSubnetGroupDescription, VpcId, SubnetIds (list), Tags.
"""

from __future__ import annotations

KIND_INSTANCE = "rds.db-instance"
KIND_PARAMETER_GROUP = "rds.db-parameter-group"
KIND_SUBNET_GROUP = "rds.db-subnet-group"
KIND_AUTOMATED_BACKUP = "rds.automated-backup"
KIND_SNAPSHOT = "rds.db-snapshot"
KIND_CLUSTER = "rds.db-cluster"
KIND_CLUSTER_ENDPOINT = "rds.db-cluster-endpoint"
KIND_CLUSTER_PARAMETER_GROUP = "rds.db-cluster-parameter-group"

# Every source of RDS events (DescribeEvents SourceType) Kura records.
SOURCE_INSTANCE = "db-instance"
SOURCE_PARAMETER_GROUP = "db-parameter-group"
SOURCE_SUBNET_GROUP = "db-subnet-group"
SOURCE_SNAPSHOT = "db-snapshot"
SOURCE_CLUSTER = "db-cluster"
