"""The Redis engine adapter (the control plane's executor for ElastiCache cache nodes).

    types       RedisEngine, RedisConfig, RedisState, RedisStatus: the contract
    catalog     discover() installed redis-server, resolve() an EngineVersion, describe_config(),
                maxmemory_for() a cache node type
    node        RedisNode: configure/start/stop/status/client/config_set/replication/snapshots
    render      redis.conf from a RedisConfig (pure)
    parameters  ElastiCache parameter dicts from the real server's CONFIG GET *
    nodetypes   ElastiCache node types → maxmemory, capped to a share of this host
    proc        liveness from the pid file and /proc (zombies are dead)
"""
