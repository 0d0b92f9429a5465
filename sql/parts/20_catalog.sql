
/* ------------------------------------------------------------------------
 * Catalog
 * ------------------------------------------------------------------------ */

CREATE TABLE tributary.source (
	source_id		serial PRIMARY KEY,
	source_name		text NOT NULL UNIQUE,
	/* a registered kind (create_source checks it): postgresql, mysql, or one a library adds */
	source_kind		text NOT NULL,
	source_conninfo	text NOT NULL,
	source_options	jsonb NOT NULL DEFAULT '{}',
	source_owner	regrole NOT NULL,
	/* defined (or last changed) by a non-superuser: its server must ask for the password */
	source_password_required boolean NOT NULL DEFAULT true,
	source_created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tributary.job (
	job_id			serial PRIMARY KEY,
	job_name		text NOT NULL UNIQUE,
	job_source_id	integer NOT NULL REFERENCES tributary.source(source_id),
	job_mode		text NOT NULL CHECK (job_mode IN ('full', 'cdc', 'full+cdc', 'incremental')),
	job_options		jsonb NOT NULL DEFAULT '{}',
	/* the role the worker applies as */
	job_owner		regrole NOT NULL,
	/* desired state: the launcher runs a worker for every 'running' job */
	job_state		text NOT NULL DEFAULT 'stopped'
					CHECK (job_state IN ('stopped', 'running', 'failed', 'finished')),
	job_enabled_at	timestamptz,
	/* bumped by restart_job: a worker of an older generation is replaced */
	job_generation	integer NOT NULL DEFAULT 0,
	job_version		integer NOT NULL DEFAULT 0,
	job_created_at	timestamptz NOT NULL DEFAULT now(),
	/* change capture: the source slot, where its stream starts (P0), and
	 * the position up to which apply is idempotent (snapshot reads) */
	job_slot		text,
	job_decoder		text,
	job_stream_start text,
	job_catchup_until text
);

CREATE TABLE tributary.job_table (
	jt_id			serial PRIMARY KEY,
	jt_job_id		integer NOT NULL REFERENCES tributary.job(job_id) ON DELETE CASCADE,
	jt_source_schema text NOT NULL,
	jt_source_rel	text NOT NULL,
	jt_target_schema text NOT NULL,
	jt_target_rel	text NOT NULL,
	jt_column_map	jsonb,
	jt_filter		text,
	jt_transforms	jsonb,
	jt_key_columns	text[] NOT NULL,
	/* the copied columns in order: [{"target": t, "source": s} or {"target": t, "expr": e}] */
	jt_columns		jsonb NOT NULL,
	/* with a filter or expressions: the source columns snapshots read,
	 * [{"name": n, "type": this database's type or null}] (transform.c) */
	jt_read_columns	jsonb,
	/* init -> snapshot -> catchup -> streaming (-> done for 'full' jobs);
	 * copied again while the job streams (table_sync.c):
	 * streaming -> resync -> sync -> streaming */
	jt_state		text NOT NULL DEFAULT 'init'
					CHECK (jt_state IN ('init', 'snapshot', 'catchup', 'streaming', 'done', 'failed',
										'resync', 'sync')),
	jt_rows_copied	bigint NOT NULL DEFAULT 0,
	jt_chunks_done	integer NOT NULL DEFAULT 0,
	jt_chunks_total	integer,
	jt_rows_applied	bigint NOT NULL DEFAULT 0,
	/* a source DDL statement on the table passed the job's ddl policy */
	jt_ddl_accepted	boolean NOT NULL DEFAULT false,
	/* a partitioned source table's leaves as the job last saw them
	 * ("id,id,..." from the connector's parts method, '-' when the table is
	 * not partitioned, NULL not read yet): an attached or detached partition
	 * changes the table's rows without any change in the log (part_watch.c) */
	jt_source_parts	text,
	/* the source table's own identity (PostgreSQL: its OID) as the job last
	 * saw it, '0' when it was gone, NULL not read yet (part_watch.c) */
	jt_source_oid	text,
	/* mode incremental: the source column polled in ascending order, and
	 * the poll key of the last row applied ({"column": value, key columns:
	 * values}, NULL: none yet), committed with the rows (incremental.c) */
	jt_incremental_column text,
	jt_incremental_last text,
	jt_added_at		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (jt_job_id, jt_source_schema, jt_source_rel)
);
/* not unique: several source tables of a job may be merged into one target */
CREATE INDEX job_table_target_idx
	ON tributary.job_table (jt_target_schema, jt_target_rel, jt_job_id);

CREATE TABLE tributary.name_rule (
	nr_id			serial PRIMARY KEY,
	nr_job_id		integer NOT NULL REFERENCES tributary.job(job_id) ON DELETE CASCADE,
	nr_source_pattern text NOT NULL,
	nr_target_schema text,
	nr_name_rule	text,
	nr_exclude		text,
	/* add_tables' merge and source_column, for the tables added later */
	nr_merge		boolean NOT NULL DEFAULT false,
	nr_source_column text,
	/* tables that matched but add_table refused: not tried again */
	nr_refused		text[]
);

/*
 * A ring of state.checkpoints.num-retained rows per job, overwritten in
 * turn (checkpoint cp_seq goes to ring slot cp_seq % num-retained): every
 * local commit of a streaming job writes one, and an update in place keeps
 * the table small under thousands of commits a second.
 */
CREATE TABLE tributary.checkpoint (
	cp_job_id		integer NOT NULL REFERENCES tributary.job(job_id) ON DELETE CASCADE,
	cp_slot			integer NOT NULL,
	cp_seq			bigint NOT NULL,
	cp_position		text NOT NULL,
	cp_committed_at	timestamptz NOT NULL DEFAULT now(),
	cp_source_commit_at timestamptz,
	PRIMARY KEY (cp_job_id, cp_slot)
);

/*
 * Source transactions prepared for two-phase commit (MySQL / MariaDB XA)
 * that a job's stream passed and whose XA COMMIT or XA ROLLBACK it has
 * not: item 0 marks the prepare, items 1..n are the binlog events of its
 * changes (a format byte, then the event), applied at XA COMMIT and
 * dropped at XA ROLLBACK (held_xact.c).
 */
CREATE TABLE tributary.held_xact (
	hx_job_id		integer NOT NULL REFERENCES tributary.job(job_id) ON DELETE CASCADE,
	hx_xid			text NOT NULL,
	hx_seq			integer NOT NULL,
	hx_item			bytea NOT NULL,
	hx_held_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (hx_job_id, hx_xid, hx_seq)
);

/*
 * Changes of a table being copied again while its job streams (jt_state
 * 'sync', table_sync.c): kept in stream order (sc_seq) in the local
 * transactions that record the stream's positions, and applied to the
 * target, idempotently, in the transaction that ends the copy.  sc_kind
 * is 'R' (the source relation's columns), 'I', 'U', 'D' (a row change)
 * or 'T' (a truncate); sc_data the change in table_sync.c's encoding.
 */
CREATE TABLE tributary.sync_change (
	sc_jt_id		integer NOT NULL REFERENCES tributary.job_table(jt_id) ON DELETE CASCADE,
	sc_seq			bigint NOT NULL,
	sc_kind			"char" NOT NULL,
	sc_position		text,
	sc_commit_at	timestamptz,
	sc_data			bytea NOT NULL,
	PRIMARY KEY (sc_jt_id, sc_seq)
);

CREATE TABLE tributary.table_state (
	ts_jt_id		integer NOT NULL REFERENCES tributary.job_table(jt_id) ON DELETE CASCADE,
	ts_chunk_no		integer NOT NULL,
	ts_lower		text,
	ts_upper		text,
	ts_rows			bigint NOT NULL DEFAULT 0,
	ts_done			boolean NOT NULL DEFAULT false,
	ts_position		text,
	PRIMARY KEY (ts_jt_id, ts_chunk_no)
);

CREATE TABLE tributary.run (
	run_id			bigserial PRIMARY KEY,
	run_job_id		integer NOT NULL REFERENCES tributary.job(job_id) ON DELETE CASCADE,
	run_pid			integer,
	run_started_at	timestamptz NOT NULL DEFAULT now(),
	run_ended_at	timestamptz,
	run_status		text NOT NULL DEFAULT 'running'
					CHECK (run_status IN ('running', 'stopped', 'failed', 'finished')),
	run_message		text,
	/* the run was cut short by a crash of the server (its worker was running) */
	run_crashed		boolean NOT NULL DEFAULT false
);
CREATE INDEX run_job_idx ON tributary.run (run_job_id, run_id);

CREATE TABLE tributary.error_log (
	err_id			bigserial PRIMARY KEY,
	err_job_id		integer NOT NULL REFERENCES tributary.job(job_id) ON DELETE CASCADE,
	err_run_id		bigint REFERENCES tributary.run(run_id) ON DELETE CASCADE,
	err_at			timestamptz NOT NULL DEFAULT now(),
	err_sqlstate	text,
	err_message		text NOT NULL,
	err_detail		text,
	err_context		text
);
CREATE INDEX error_log_job_idx ON tributary.error_log (err_job_id, err_id);

CREATE TABLE tributary.dirty_row (
	dr_id			bigserial PRIMARY KEY,
	dr_job_id		integer NOT NULL REFERENCES tributary.job(job_id) ON DELETE CASCADE,
	dr_source_table	text NOT NULL,
	dr_position		text,
	dr_row			jsonb,
	dr_error		text NOT NULL,
	dr_at			timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tributary.job_version (
	jv_job_id		integer NOT NULL,
	jv_version		integer NOT NULL,
	jv_at			timestamptz NOT NULL DEFAULT now(),
	jv_by			name NOT NULL DEFAULT current_user,
	jv_change		text NOT NULL,
	jv_definition	jsonb NOT NULL,
	PRIMARY KEY (jv_job_id, jv_version)
);

SELECT pg_catalog.pg_extension_config_dump('tributary.source', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.source_source_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.job', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.job_job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.job_table', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.job_table_jt_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.name_rule', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.name_rule_nr_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.checkpoint', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.table_state', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.held_xact', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.sync_change', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.run', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.run_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.error_log', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.error_log_err_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.dirty_row', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.dirty_row_dr_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.job_version', '');

