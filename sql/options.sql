--
-- Job options: the seed's runtime keys with their defaults, our own keys,
-- and validation errors that name the key and what is valid.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_tributary;
RESET client_min_messages;
\set SHOW_CONTEXT never
SELECT tributary.create_source('opt_src', 'postgresql', 'dbname=contrib_regression') > 0 AS created;

-- defaults
SELECT tributary.create_job('defaults', 'opt_src') > 0 AS created;
SELECT key, value FROM jsonb_each(tributary.job_effective_options('defaults')) ORDER BY key;

-- every key accepted, durations normalized to seconds
SELECT tributary.create_job('all_keys', 'opt_src', 'full+cdc', '{
  "execution.checkpointing.interval": 2000,
  "execution.checkpointing.min-pause": "250",
  "execution.checkpointing.timeout": 60000,
  "parallelism.default": 4,
  "state.checkpoints.num-retained": 3,
  "state.backend.dir": "hdfs:///flink/checkpoints",
  "restart-strategy.type": "failure-rate",
  "restart-strategy.fixed-delay.delay": "2 min",
  "restart-strategy.fixed-delay.attempts": 5,
  "restart-strategy.failure-rate.delay": "500 ms",
  "restart-strategy.failure-rate.failure-rate-interval": 30,
  "restart-strategy.failure-rate.max-failures-per-interval": 2,
  "target_schema": "mirror",
  "create_tables": "off",
  "snapshot_chunk_rows": 5000,
  "dirty_data": "skip",
  "dirty_data_limit": 100,
  "ddl": {"add_column": "apply", "drop_table": "error", "truncate_table": "ignore"},
  "dml": {"delete": "ignore", "src.orders": {"update": "ignore"}},
  "zero_date": "-infinity",
  "mysql_time": "interval"
}') > 0 AS created;
SELECT key, value FROM jsonb_each(tributary.job_effective_options('all_keys')) ORDER BY key;
SELECT job_options FROM tributary.job WHERE job_name = 'all_keys';
SELECT tributary.create_job('ddl_string', 'opt_src', 'full', '{"ddl": "alert"}') > 0 AS created;

-- errors
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"execution.checkpointing.intervall": 5}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '[1, 2]');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"execution.checkpointing.interval": 0}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"execution.checkpointing.interval": 1.5}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"execution.checkpointing.interval": "soon"}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"parallelism.default": 65}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"restart-strategy.type": "exponential-delay"}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"restart-strategy.fixed-delay.attempts": -2}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"restart-strategy.fixed-delay.delay": "forever"}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"restart-strategy.failure-rate.delay": true}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"create_tables": "maybe"}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"target_schema": ""}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"dirty_data": "drop"}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"ddl": {"add_index": "apply"}}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"ddl": {"add_column": "maybe"}}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"ddl": 3}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"dml": {"delete": "alert"}}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"dml": {"src.t": {"merge": "ignore"}}}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"dml": "ignore"}');
SELECT tributary.create_job('bad', 'opt_src', 'full', '{"zero_date": "epoch"}');
SELECT tributary.create_job('bad name!', 'opt_src');
SELECT count(*) AS no_half_written_jobs FROM tributary.job WHERE job_name LIKE 'bad%';

SELECT tributary.drop_job(job_name) FROM tributary.job ORDER BY job_id;
SELECT tributary.drop_source('opt_src');
