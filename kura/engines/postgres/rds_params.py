"""What RDS for PostgreSQL changes in the engine's parameters: its defaults and formulas for the default
parameter group of each family, the parameters it does not let users set, and its own `rds.*` ones.
Pure data; `parameters.py` lays it over the engine's real settings.
"""

from __future__ import annotations

# The default parameter group's values (Source "system" on RDS). Memory ones are in the parameter's
# own unit: shared_buffers and effective_cache_size in 8 kB pages, maintenance_work_mem in kB.
RDS_DEFAULTS: dict[str, str] = {
    "shared_buffers": "{DBInstanceClassMemory/32768}",
    "effective_cache_size": "{DBInstanceClassMemory/16384}",
    "max_connections": "LEAST({DBInstanceClassMemory/9531392},5000)",
    "maintenance_work_mem": "GREATEST({DBInstanceClassMemory*1024/63963136},65536)",
    "autovacuum_max_workers": "GREATEST({DBInstanceClassMemory/64371566592},3)",
    "max_worker_processes": "GREATEST(${DBInstanceVCPU*2},8)",
    "shared_preload_libraries": "pg_stat_statements",
    "password_encryption": "scram-sha-256",
    "ssl": "1",
    "ssl_min_protocol_version": "TLSv1.2",
    "logging_collector": "1",
    "log_destination": "stderr",
    "log_filename": "postgresql.log.%Y-%m-%d-%H",
    "log_line_prefix": "%t:%r:%u@%d:[%p]:",
    "log_rotation_age": "60",
    "log_rotation_size": "100000",
    "log_checkpoints": "1",
    "log_timezone": "UTC",
    "timezone": "UTC",
    "track_io_timing": "1",
    "track_activity_query_size": "4096",
    "max_wal_size": "2048",
    "min_wal_size": "192",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "autovacuum_analyze_scale_factor": "0.05",
    "autovacuum_vacuum_scale_factor": "0.1",
    "idle_in_transaction_session_timeout": "86400000",
    "rds.logical_replication": "0",
}

# RDS turned rds.force_ssl on by default from PostgreSQL 15.
FORCE_SSL_DEFAULT_FROM_MAJOR = 15

# Set by the service (files, addresses, recovery, the logging pipeline): shown, not modifiable.
NOT_MODIFIABLE: frozenset[str] = frozenset({
    "data_directory", "config_file", "hba_file", "ident_file", "external_pid_file", "port",
    "listen_addresses", "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
    "bonjour", "bonjour_name", "ssl", "ssl_cert_file", "ssl_key_file", "ssl_ca_file", "ssl_crl_file",
    "ssl_crl_dir", "ssl_dh_params_file", "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload", "krb_server_keyfile", "archive_command",
    "archive_library", "archive_mode", "archive_cleanup_command", "restore_command",
    "recovery_end_command", "recovery_target", "recovery_target_action", "recovery_target_inclusive",
    "recovery_target_lsn", "recovery_target_name", "recovery_target_time", "recovery_target_timeline",
    "recovery_target_xid", "recovery_init_sync_method", "primary_conninfo", "primary_slot_name",
    "promote_trigger_file", "logging_collector", "log_directory", "log_file_mode", "log_line_prefix",
    "event_source", "syslog_facility", "syslog_ident", "syslog_sequence_numbers",
    "syslog_split_messages", "cluster_name", "data_sync_retry", "fsync", "full_page_writes",
    "wal_sync_method", "wal_level", "dynamic_library_path", "extension_destdir", "shared_memory_type",
    "dynamic_shared_memory_type", "allow_system_table_mods", "allow_in_place_tablespaces",
    "ignore_system_indexes", "zero_damaged_pages", "ignore_checksum_failure", "ignore_invalid_pages",
    "jit_provider", "password_encryption", "file_extend_method",
})

# RDS's own parameters that Kura honours (node rendering): name → ParameterInfo fields.
RDS_ONLY: dict[str, dict[str, str]] = {
    "rds.force_ssl": {
        "context": "sighup",
        "description": "Force SSL connections.",
    },
    "rds.logical_replication": {
        "context": "postmaster",
        "description": "Enables logical decoding (sets wal_level to logical).",
    },
}

# Libraries RDS lets users preload; offered when the engine has them (shared_preload_libraries).
PRELOADABLE = ("auto_explain", "pg_stat_statements", "pg_prewarm", "pgaudit", "pg_cron",
               "pg_hint_plan", "pglogical", "pg_partman_bgw", "passwordcheck", "auth_delay")


def rds_default(name: str, major: int) -> str | None:
    if name == "rds.force_ssl":
        return "1" if major >= FORCE_SSL_DEFAULT_FROM_MAJOR else "0"
    return RDS_DEFAULTS.get(name)
