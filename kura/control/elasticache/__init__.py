"""ElastiCache's reconcilers: cache clusters, replication groups (HA), snapshots, the Redis catalogue."""
