-- Seed 004's custom_metrics.sql, verbatim (tests/integration/test_cloudwatch_metrics.py publishes each row).
-- アプリケーション固有メトリクス
-- custom_metrics.sql

-- 1. アクティブユーザー数
SELECT 
    'active_users_24h' as metric_name,
    COUNT(DISTINCT user_id) as metric_value,
    NOW() as timestamp
FROM analytics.analytics_events 
WHERE timestamp >= NOW() - INTERVAL '24 hours';

-- 2. 翻訳処理時間
SELECT 
    'avg_translation_time' as metric_name,
    AVG(processing_time) as metric_value,
    NOW() as timestamp
FROM translations.translation_history 
WHERE created_at >= NOW() - INTERVAL '1 hour';

-- 3. エラー率
SELECT 
    'error_rate_1h' as metric_name,
    (COUNT(*) FILTER (WHERE error_occurred = true) * 100.0 / COUNT(*)) as metric_value,
    NOW() as timestamp
FROM monitoring.analysis_activity_log
WHERE created_at >= NOW() - INTERVAL '1 hour';

-- 4. データベースサイズ
SELECT 
    'database_size_mb' as metric_name,
    pg_database_size('langpont') / 1024 / 1024 as metric_value,
    NOW() as timestamp;
