
/* ------------------------------------------------------------------------
 * Views: each role sees the sources and jobs it owns (as a member of the
 * owner role; superusers see all).  security_barrier keeps the owner
 * filter ahead of any function a query adds.
 * ------------------------------------------------------------------------ */

CREATE VIEW tributary.sources WITH (security_barrier) AS
SELECT s.source_name, s.source_kind AS kind,
	   tributary._conninfo_mask(s.source_conninfo) AS conninfo,
	   s.source_options AS options, s.source_owner AS owner, s.source_created_at AS created_at,
	   s.source_password_required AS password_required
  FROM tributary.source s
 WHERE pg_catalog.pg_has_role(s.source_owner, 'USAGE');

CREATE VIEW tributary.jobs WITH (security_barrier) AS
SELECT j.job_name, s.source_name, j.job_mode AS mode,
	   CASE WHEN j.job_state = 'running' THEN coalesce(w.state, 'starting')
			ELSE j.job_state END AS state,
	   w.phase,
	   coalesce(w.started_at, r.run_started_at) AS started_at,
	   coalesce(w.applied_position, cp.cp_position) AS applied_position,
	   w.source_position, w.lag_bytes, w.lag_seconds,
	   coalesce(w.rows_applied, 0) AS rows_applied,
	   coalesce(w.last_error, e.err_message) AS last_error,
	   w.pid, coalesce(w.run_id, r.run_id) AS run_id,
	   j.job_owner AS owner, j.job_version AS version, j.job_slot AS slot, j.job_decoder AS decoder
  FROM tributary.job j
  JOIN tributary.source s ON s.source_id = j.job_source_id
  LEFT JOIN tributary._worker_status() w ON w.job_id = j.job_id
  LEFT JOIN LATERAL (SELECT * FROM tributary.run WHERE run_job_id = j.job_id
					  ORDER BY run_id DESC LIMIT 1) r ON true
  LEFT JOIN LATERAL (SELECT * FROM tributary.checkpoint WHERE cp_job_id = j.job_id
					  ORDER BY cp_seq DESC LIMIT 1) cp ON true
  LEFT JOIN LATERAL (SELECT * FROM tributary.error_log WHERE err_job_id = j.job_id
					  AND err_run_id = r.run_id ORDER BY err_id DESC LIMIT 1) e ON true
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE');

CREATE VIEW tributary.tables WITH (security_barrier) AS
SELECT j.job_name,
	   t.jt_source_schema || '.' || t.jt_source_rel AS source_table,
	   format('%I.%I', t.jt_target_schema, t.jt_target_rel) AS target_table,
	   t.jt_state AS state, t.jt_rows_copied AS rows_copied,
	   t.jt_chunks_done AS chunks_done, t.jt_chunks_total AS chunks_total,
	   t.jt_rows_applied AS rows_applied,
	   t.jt_column_map AS columns, t.jt_filter AS filter, t.jt_key_columns AS key_columns,
	   tributary._write_path(t.jt_target_schema, t.jt_target_rel) AS write_path
  FROM tributary.job_table t JOIN tributary.job j ON j.job_id = t.jt_job_id
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE');

/* add_tables rules a job follows: tables created later that match are added */
CREATE VIEW tributary.followed_rules WITH (security_barrier) AS
SELECT j.job_name, r.nr_source_pattern AS source_pattern, r.nr_target_schema AS target_schema,
	   r.nr_name_rule AS name_rule, r.nr_exclude AS exclude, r.nr_refused AS refused
  FROM tributary.name_rule r JOIN tributary.job j ON j.job_id = r.nr_job_id
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE');

CREATE VIEW tributary.checkpoints WITH (security_barrier) AS
SELECT j.job_name, c.cp_position AS position, c.cp_committed_at AS committed_at,
	   c.cp_source_commit_at AS source_commit_at, c.cp_seq AS seq
  FROM tributary.checkpoint c JOIN tributary.job j ON j.job_id = c.cp_job_id
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE');

/* prepared XA transactions of MySQL sources a job holds until their commit */
CREATE VIEW tributary.prepared_xacts WITH (security_barrier) AS
SELECT j.job_name, h.hx_xid AS xid, count(*) FILTER (WHERE h.hx_seq > 0) AS events,
	   min(h.hx_held_at) AS held_at
  FROM tributary.held_xact h JOIN tributary.job j ON j.job_id = h.hx_job_id
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE')
 GROUP BY j.job_name, h.hx_xid;

CREATE VIEW tributary.runs WITH (security_barrier) AS
SELECT j.job_name, r.run_id, r.run_started_at AS started_at, r.run_ended_at AS ended_at,
	   r.run_status AS status, r.run_message AS message, r.run_pid AS pid, r.run_crashed AS crashed
  FROM tributary.run r JOIN tributary.job j ON j.job_id = r.run_job_id
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE');

CREATE VIEW tributary.errors WITH (security_barrier) AS
SELECT j.job_name, e.err_run_id AS run_id, e.err_at AS at, e.err_sqlstate AS sqlstate,
	   e.err_message AS message, e.err_detail AS detail, e.err_context AS context
  FROM tributary.error_log e JOIN tributary.job j ON j.job_id = e.err_job_id
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE');

CREATE VIEW tributary.dirty_rows WITH (security_barrier) AS
SELECT j.job_name, d.dr_source_table AS source_table, d.dr_position AS position,
	   d.dr_row AS row, d.dr_error AS error, d.dr_at AS at
  FROM tributary.dirty_row d JOIN tributary.job j ON j.job_id = d.dr_job_id
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE');

CREATE VIEW tributary.job_versions WITH (security_barrier) AS
SELECT v.jv_job_id AS job_id, v.jv_definition ->> 'job_name' AS job_name, v.jv_version AS version,
	   v.jv_at AS at, v.jv_by AS by, v.jv_change AS change, v.jv_definition AS definition
  FROM tributary.job_version v JOIN tributary.job j ON j.job_id = v.jv_job_id
 WHERE pg_catalog.pg_has_role(j.job_owner, 'USAGE');

