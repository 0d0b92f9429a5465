/*-------------------------------------------------------------------------
 *
 * pg_tributary--0.1.sql
 *		Catalog, SQL API and monitoring views of pg_tributary.
 *
 * The catalog lives in schema "tributary"; every table is dumped with
 * pg_extension_config_dump so pg_dump keeps sources, jobs and positions.
 * Columns are prefixed per table (source_*, job_*, jt_*, ...).
 *
 * Definition changes go through the SQL functions below.  A trigger on the
 * job and job_table tables records every definition change in job_version
 * and wakes the launcher when the transaction commits, so the launcher never
 * polls the catalog.
 *
 * Privileges: superusers and members of role tributary_admin may define
 * sources and jobs.  source.conninfo is not readable by PUBLIC; the views
 * show it with the password masked.
 *
 *-------------------------------------------------------------------------
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_tributary" to load this file. \quit

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tributary_admin') THEN
		CREATE ROLE tributary_admin NOLOGIN;
	END IF;
END
$$;

/* ------------------------------------------------------------------------
 * C entry points (internal, prefixed with "_")
 * ------------------------------------------------------------------------ */

CREATE FUNCTION tributary._require_preloaded()
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_require_preloaded';

CREATE FUNCTION tributary._wakeup_launcher()
RETURNS void LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_wakeup_launcher';

CREATE FUNCTION tributary._conninfo_validate(conninfo text, kind text)
RETURNS void LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_conninfo_validate';

CREATE FUNCTION tributary._conninfo_mask(conninfo text)
RETURNS text LANGUAGE C STRICT IMMUTABLE AS 'MODULE_PATHNAME', 'tributary_conninfo_mask';

CREATE FUNCTION tributary._read_message(message bytea, in_stream boolean DEFAULT false,
										 batch boolean DEFAULT false)
RETURNS text LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_read_message';

CREATE FUNCTION tributary._remote_tables(source_name text)
RETURNS TABLE (schema_name text, table_name text) LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_remote_tables';

CREATE FUNCTION tributary._binlog_render(events bytea, checksum boolean DEFAULT true)
RETURNS text LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_binlog_render';

CREATE FUNCTION tributary._drop_slot(source_name text, slot_name text)
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_drop_slot';

CREATE FUNCTION tributary._remote_table_info(source_name text, source_schema text, source_rel text)
RETURNS jsonb LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_remote_table_info';

CREATE FUNCTION tributary._source_checks(source_name text, tables text[],
	OUT check_name text, OUT ok boolean, OUT detail text, OUT hint text)
RETURNS SETOF record LANGUAGE C AS 'MODULE_PATHNAME', 'tributary_source_checks';

CREATE FUNCTION tributary._worker_status(
	OUT job_id integer, OUT pid integer, OUT state text, OUT phase text,
	OUT started_at timestamptz, OUT run_id bigint,
	OUT applied_position text, OUT source_position text,
	OUT lag_bytes bigint, OUT lag_seconds double precision,
	OUT rows_applied bigint, OUT last_error text)
RETURNS SETOF record LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_worker_status';

/* ------------------------------------------------------------------------
 * Catalog
 * ------------------------------------------------------------------------ */

CREATE TABLE tributary.source (
	source_id		serial PRIMARY KEY,
	source_name		text NOT NULL UNIQUE,
	source_kind		text NOT NULL CHECK (source_kind IN ('postgresql', 'mysql')),
	source_conninfo	text NOT NULL,
	source_options	jsonb NOT NULL DEFAULT '{}',
	source_owner	regrole NOT NULL DEFAULT current_user::regrole,
	source_created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tributary.job (
	job_id			serial PRIMARY KEY,
	job_name		text NOT NULL UNIQUE,
	job_source_id	integer NOT NULL REFERENCES tributary.source(source_id),
	job_mode		text NOT NULL CHECK (job_mode IN ('full', 'cdc', 'full+cdc')),
	job_options		jsonb NOT NULL DEFAULT '{}',
	job_owner		regrole NOT NULL DEFAULT current_user::regrole,
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
	/* init -> snapshot -> catchup -> streaming (-> done for 'full' jobs) */
	jt_state		text NOT NULL DEFAULT 'init'
					CHECK (jt_state IN ('init', 'snapshot', 'catchup', 'streaming', 'done', 'failed')),
	jt_rows_copied	bigint NOT NULL DEFAULT 0,
	jt_chunks_done	integer NOT NULL DEFAULT 0,
	jt_chunks_total	integer,
	jt_rows_applied	bigint NOT NULL DEFAULT 0,
	/* a source DDL statement on the table passed the job's ddl policy */
	jt_ddl_accepted	boolean NOT NULL DEFAULT false,
	jt_added_at		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (jt_job_id, jt_source_schema, jt_source_rel)
);
CREATE UNIQUE INDEX job_table_target_idx
	ON tributary.job_table (jt_target_schema, jt_target_rel, jt_job_id);

CREATE TABLE tributary.name_rule (
	nr_id			serial PRIMARY KEY,
	nr_job_id		integer NOT NULL REFERENCES tributary.job(job_id) ON DELETE CASCADE,
	nr_source_pattern text NOT NULL,
	nr_target_schema text,
	nr_name_rule	text,
	nr_exclude		text
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
	run_message		text
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
SELECT pg_catalog.pg_extension_config_dump('tributary.run', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.run_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.error_log', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.error_log_err_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.dirty_row', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.dirty_row_dr_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tributary.job_version', '');

/* ------------------------------------------------------------------------
 * Options
 * ------------------------------------------------------------------------ */

/*
 * _job_option_defs: every job option, its kind, default and bounds.  The
 * seed's runtime keys keep the seed's names and defaults; durations of the
 * restart strategies are in seconds, checkpointing ones in milliseconds.
 */
CREATE FUNCTION tributary._job_option_defs(
	OUT key text, OUT kind text, OUT default_value jsonb,
	OUT allowed text[], OUT min_value numeric, OUT max_value numeric)
RETURNS SETOF record LANGUAGE sql IMMUTABLE AS $$
	VALUES
	('execution.checkpointing.interval', 'integer', '1000'::jsonb, NULL::text[], 1::numeric, 86400000::numeric),
	('execution.checkpointing.min-pause', 'integer', '500', NULL, 0, 86400000),
	('execution.checkpointing.timeout', 'integer', '600000', NULL, 1, 86400000),
	('parallelism.default', 'integer', '1', NULL, 1, 64),
	('state.checkpoints.num-retained', 'integer', '1', NULL, 1, 1000000),
	('restart-strategy.type', 'enum', '"none"', ARRAY['none', 'fixed-delay', 'failure-rate'], NULL, NULL),
	('restart-strategy.fixed-delay.delay', 'duration', '1', NULL, 0, 86400),
	('restart-strategy.fixed-delay.attempts', 'integer', '-1', NULL, -1, 2147483647),
	('restart-strategy.failure-rate.delay', 'duration', '1', NULL, 0, 86400),
	('restart-strategy.failure-rate.failure-rate-interval', 'duration', '60', NULL, 0.001, 31536000),
	('restart-strategy.failure-rate.max-failures-per-interval', 'integer', '1', NULL, 1, 2147483647),
	('target_schema', 'identifier', 'null', NULL, NULL, NULL),
	('create_tables', 'boolean', 'true', NULL, NULL, NULL),
	('snapshot_chunk_rows', 'integer', '100000', NULL, 1, 2147483647),
	('dirty_data', 'enum', '"error"', ARRAY['error', 'skip'], NULL, NULL),
	('dirty_data_limit', 'integer', '-1', NULL, -1, 2147483647),
	('ddl', 'ddl_policy', '{}', ARRAY['apply', 'ignore', 'alert', 'error'], NULL, NULL),
	('dml', 'dml_policy', '{}', ARRAY['apply', 'ignore'], NULL, NULL),
	('zero_date', 'enum', '"null"', ARRAY['null', '-infinity', 'error'], NULL, NULL),
	('mysql_time', 'enum', '"time"', ARRAY['time', 'interval'], NULL, NULL),
	('start_position', 'text', 'null', NULL, NULL, NULL)
$$;

/*
 * _option_error: raise the error for a bad option value, naming the option.
 */
CREATE FUNCTION tributary._option_error(what text, key text, val jsonb, expected text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'invalid value for % option "%": %', what, key, val::text
		USING ERRCODE = 'invalid_parameter_value',
			  DETAIL = format('Expected %s.', expected);
END
$$;

/*
 * _duration_seconds: a duration option as seconds.  Accepts a number of
 * seconds or an interval string ("1 s", "2 min", "500 ms").
 */
CREATE FUNCTION tributary._duration_seconds(key text, val jsonb)
RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
	secs numeric;
BEGIN
	IF jsonb_typeof(val) = 'number' THEN
		secs := val::text::numeric;
	ELSIF jsonb_typeof(val) = 'string' THEN
		BEGIN
			secs := extract(epoch FROM (val #>> '{}')::interval);
		EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow
					OR interval_field_overflow THEN
			PERFORM tributary._option_error('job', key, val,
				'a number of seconds or an interval such as "10 s"');
		END;
	ELSE
		PERFORM tributary._option_error('job', key, val,
			'a number of seconds or an interval such as "10 s"');
	END IF;
	RETURN secs;
END
$$;

/*
 * _validate_job_options: check a job options object and return it with
 * durations normalized to seconds.  An unknown key is an error that names
 * the key and lists the known ones.
 */
CREATE FUNCTION tributary._validate_job_options(options jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	o record;
	d record;
	result jsonb := '{}';
	v jsonb;
	n numeric;
	k text;
	k2 text;
	inner_v jsonb;
	ddl_kinds constant text[] := ARRAY['create_table', 'drop_table', 'rename_table',
		'truncate_table', 'add_column', 'drop_column', 'rename_column',
		'alter_column_type', 'other'];
	dml_ops constant text[] := ARRAY['insert', 'update', 'delete'];
BEGIN
	IF options IS NULL THEN
		RETURN '{}';
	END IF;
	IF jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'job options must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('Got a JSON %s.', jsonb_typeof(options));
	END IF;

	FOR o IN SELECT * FROM jsonb_each(options) LOOP
		SELECT * INTO d FROM tributary._job_option_defs() x WHERE x.key = o.key;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'unknown job option "%"', o.key
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Valid options are: ' ||
						(SELECT string_agg(x.key, ', ' ORDER BY x.key)
						   FROM tributary._job_option_defs() x) || '.';
		END IF;
		v := o.value;

		IF jsonb_typeof(v) = 'null' THEN
			CONTINUE;	/* null means "use the default" */
		END IF;

		CASE d.kind
		WHEN 'integer' THEN
			IF jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^\s*-?[0-9]+\s*$' THEN
				v := to_jsonb((v #>> '{}')::numeric);
			END IF;
			IF jsonb_typeof(v) <> 'number' OR v::text::numeric <> trunc(v::text::numeric) THEN
				PERFORM tributary._option_error('job', o.key, o.value, 'an integer');
			END IF;
			n := v::text::numeric;
			IF n < d.min_value OR n > d.max_value THEN
				PERFORM tributary._option_error('job', o.key, o.value,
					format('an integer between %s and %s', d.min_value, d.max_value));
			END IF;
		WHEN 'duration' THEN
			n := tributary._duration_seconds(o.key, v);
			IF n < d.min_value OR n > d.max_value THEN
				PERFORM tributary._option_error('job', o.key, o.value,
					format('a duration between %s and %s seconds', d.min_value, d.max_value));
			END IF;
			v := to_jsonb(trim_scale(n));
		WHEN 'enum' THEN
			IF jsonb_typeof(v) <> 'string' OR NOT (v #>> '{}') = ANY (d.allowed) THEN
				PERFORM tributary._option_error('job', o.key, o.value,
					'one of ' || array_to_string(d.allowed, ', '));
			END IF;
		WHEN 'boolean' THEN
			IF jsonb_typeof(v) = 'string' AND lower(v #>> '{}') IN ('true', 'false', 'on', 'off') THEN
				v := to_jsonb(lower(v #>> '{}') IN ('true', 'on'));
			END IF;
			IF jsonb_typeof(v) <> 'boolean' THEN
				PERFORM tributary._option_error('job', o.key, o.value, 'true or false');
			END IF;
		WHEN 'identifier', 'text' THEN
			IF jsonb_typeof(v) <> 'string' OR (v #>> '{}') = '' THEN
				PERFORM tributary._option_error('job', o.key, o.value, 'a non-empty string');
			END IF;
		WHEN 'ddl_policy' THEN
			/* one policy for every DDL kind, or an object per kind */
			IF jsonb_typeof(v) = 'string' THEN
				IF NOT (v #>> '{}') = ANY (d.allowed) THEN
					PERFORM tributary._option_error('job', o.key, o.value,
						'one of ' || array_to_string(d.allowed, ', ') || ', or an object per DDL kind');
				END IF;
			ELSIF jsonb_typeof(v) = 'object' THEN
				FOR k, inner_v IN SELECT * FROM jsonb_each(v) LOOP
					IF NOT k = ANY (ddl_kinds) THEN
						RAISE EXCEPTION 'unknown DDL kind "%" in job option "ddl"', k
							USING ERRCODE = 'invalid_parameter_value',
								  DETAIL = 'Valid DDL kinds are: ' || array_to_string(ddl_kinds, ', ') || '.';
					END IF;
					IF jsonb_typeof(inner_v) <> 'string' OR NOT (inner_v #>> '{}') = ANY (d.allowed) THEN
						PERFORM tributary._option_error('job', 'ddl.' || k, inner_v,
							'one of ' || array_to_string(d.allowed, ', '));
					END IF;
				END LOOP;
			ELSE
				PERFORM tributary._option_error('job', o.key, o.value,
					'a policy string or an object per DDL kind');
			END IF;
		WHEN 'dml_policy' THEN
			/* {"delete": "ignore"} for every table, or {"schema.table": {"delete": "ignore"}} */
			IF jsonb_typeof(v) <> 'object' THEN
				PERFORM tributary._option_error('job', o.key, o.value,
					'an object such as {"delete": "ignore"}');
			END IF;
			FOR k, inner_v IN SELECT * FROM jsonb_each(v) LOOP
				IF k = ANY (dml_ops) THEN
					IF jsonb_typeof(inner_v) <> 'string' OR NOT (inner_v #>> '{}') = ANY (d.allowed) THEN
						PERFORM tributary._option_error('job', 'dml.' || k, inner_v, 'apply or ignore');
					END IF;
				ELSIF jsonb_typeof(inner_v) = 'object' THEN
					FOR k2 IN SELECT jsonb_object_keys(inner_v) LOOP
						IF NOT k2 = ANY (dml_ops) THEN
							RAISE EXCEPTION 'unknown DML operation "%" in job option "dml"', k2
								USING ERRCODE = 'invalid_parameter_value',
									  DETAIL = 'Valid operations are: insert, update, delete.';
						END IF;
						IF jsonb_typeof(inner_v -> k2) <> 'string'
						   OR NOT (inner_v ->> k2) = ANY (d.allowed) THEN
							PERFORM tributary._option_error('job', 'dml.' || k || '.' || k2,
								inner_v -> k2, 'apply or ignore');
						END IF;
					END LOOP;
				ELSE
					PERFORM tributary._option_error('job', 'dml.' || k, inner_v,
						'apply or ignore for insert, update, delete, or an object per table');
				END IF;
			END LOOP;
		END CASE;
		result := result || jsonb_build_object(o.key, v);
	END LOOP;
	RETURN result;
END
$$;

/*
 * job_effective_options: a job's options with every default filled in, as
 * the worker sees them.
 */
CREATE FUNCTION tributary.job_effective_options(job_name text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_object_agg(d.key, coalesce(j.job_options -> d.key, d.default_value) ORDER BY d.key)
	  FROM tributary.job j, tributary._job_option_defs() d
	 WHERE j.job_name = $1
$$;

/*
 * _validate_source_options: check a source options object for its kind.
 */
CREATE FUNCTION tributary._validate_source_options(kind text, options jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	o record;
	valid text[];
	n numeric;
	result jsonb := '{}';
BEGIN
	IF options IS NULL THEN
		RETURN '{}';
	END IF;
	IF jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'source options must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	valid := CASE kind WHEN 'postgresql' THEN ARRAY['connect_timeout', 'decoder', 'heartbeat_interval', 'reconnect_timeout']
					   ELSE ARRAY['connect_timeout', 'heartbeat_interval', 'reconnect_timeout', 'server_id'] END;
	FOR o IN SELECT * FROM jsonb_each(options) LOOP
		IF NOT o.key = ANY (valid) THEN
			RAISE EXCEPTION 'unknown % source option "%"', kind, o.key
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'Valid options are: ' || array_to_string(valid, ', ') || '.';
		END IF;
		CASE o.key
		WHEN 'decoder' THEN
			IF jsonb_typeof(o.value) <> 'string'
			   OR NOT (o.value #>> '{}') IN ('auto', 'tributary_decoder', 'pgoutput') THEN
				PERFORM tributary._option_error('source', o.key, o.value,
					'one of auto, tributary_decoder, pgoutput');
			END IF;
			result := result || jsonb_build_object(o.key, o.value);
		WHEN 'server_id' THEN
			IF jsonb_typeof(o.value) <> 'number' OR o.value::text::numeric <> trunc(o.value::text::numeric)
			   OR o.value::text::numeric NOT BETWEEN 1 AND 4294967295 THEN
				PERFORM tributary._option_error('source', o.key, o.value,
					'an integer between 1 and 4294967295');
			END IF;
			result := result || jsonb_build_object(o.key, o.value);
		ELSE	/* heartbeat_interval, connect_timeout, reconnect_timeout: seconds */
			n := tributary._duration_seconds(o.key, o.value);
			IF n < (CASE o.key WHEN 'reconnect_timeout' THEN 0 ELSE 1 END) OR n > 3600 THEN
				PERFORM tributary._option_error('source', o.key, o.value,
					format('a duration between %s and 3600 seconds',
						   CASE o.key WHEN 'reconnect_timeout' THEN 0 ELSE 1 END));
			END IF;
			result := result || jsonb_build_object(o.key, trim_scale(n));
		END CASE;
	END LOOP;
	RETURN result;
END
$$;

/* ------------------------------------------------------------------------
 * Triggers: job versions, ownership, launcher wakeup
 * ------------------------------------------------------------------------ */

/*
 * _job_definition: the definition of a job as one jsonb document (what a
 * job_version row keeps).
 */
CREATE FUNCTION tributary._job_definition(p_job_id integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'job_name', j.job_name,
		'source_name', s.source_name,
		'mode', j.job_mode,
		'options', j.job_options,
		'owner', j.job_owner::text,
		'tables', coalesce((SELECT jsonb_agg(jsonb_build_object(
				'source_table', t.jt_source_schema || '.' || t.jt_source_rel,
				'target_table', t.jt_target_schema || '.' || t.jt_target_rel,
				'columns', t.jt_column_map,
				'filter', t.jt_filter,
				'transforms', t.jt_transforms) ORDER BY t.jt_id)
			FROM tributary.job_table t WHERE t.jt_job_id = j.job_id), '[]'))
	  FROM tributary.job j JOIN tributary.source s ON s.source_id = j.job_source_id
	 WHERE j.job_id = p_job_id
$$;

/*
 * _record_job_version: append a job_version row for a definition change.
 */
CREATE FUNCTION tributary._record_job_version(p_job_id integer, p_change text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v integer;
BEGIN
	UPDATE tributary.job SET job_version = job_version + 1
	 WHERE job_id = p_job_id RETURNING job_version INTO v;
	IF FOUND THEN
		INSERT INTO tributary.job_version (jv_job_id, jv_version, jv_change, jv_definition)
		VALUES (p_job_id, v, p_change, tributary._job_definition(p_job_id));
	END IF;
END
$$;

/*
 * _job_guard: ownership rules that table privileges cannot express: only a
 * superuser may create a job for another role or hand a job to another
 * role, because a job applies changes with its owner's rights.
 */
CREATE FUNCTION tributary._job_guard()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		IF TG_OP = 'INSERT' AND NEW.job_owner <> current_user::regrole THEN
			RAISE EXCEPTION 'only a superuser may create a job owned by another role'
				USING ERRCODE = 'insufficient_privilege';
		ELSIF TG_OP = 'UPDATE' AND NEW.job_owner <> OLD.job_owner THEN
			RAISE EXCEPTION 'only a superuser may change the owner of a job'
				USING ERRCODE = 'insufficient_privilege';
		END IF;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER job_guard BEFORE INSERT OR UPDATE OF job_owner ON tributary.job
	FOR EACH ROW EXECUTE FUNCTION tributary._job_guard();

/*
 * _job_changed: every change to a job's desired state, generation or tables
 * wakes the launcher when the transaction commits.
 */
CREATE FUNCTION tributary._job_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM tributary._wakeup_launcher();
	RETURN NULL;
END
$$;

CREATE TRIGGER job_changed AFTER INSERT OR DELETE OR UPDATE OF job_state, job_generation
	ON tributary.job FOR EACH STATEMENT EXECUTE FUNCTION tributary._job_changed();
CREATE TRIGGER job_table_changed AFTER INSERT OR DELETE OR UPDATE OF jt_column_map, jt_filter, jt_transforms
	ON tributary.job_table FOR EACH STATEMENT EXECUTE FUNCTION tributary._job_changed();

/* ------------------------------------------------------------------------
 * Helpers for the API
 * ------------------------------------------------------------------------ */

/*
 * _job_row: the job called p_name, or an error naming it.
 */
CREATE FUNCTION tributary._job_row(p_name text)
RETURNS tributary.job LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job;
BEGIN
	SELECT * INTO j FROM tributary.job WHERE job_name = p_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'job "%" does not exist', p_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'See the list of jobs with: SELECT job_name FROM tributary.jobs;';
	END IF;
	RETURN j;
END
$$;

/*
 * _source_row: the source called p_name, or an error naming it.
 */
CREATE FUNCTION tributary._source_row(p_name text)
RETURNS tributary.source LANGUAGE plpgsql AS $$
DECLARE
	s tributary.source;
BEGIN
	SELECT * INTO s FROM tributary.source WHERE source_name = p_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist', p_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'Define it with tributary.create_source().';
	END IF;
	RETURN s;
END
$$;

/*
 * _check_name: object names must be non-empty and of printable characters.
 */
CREATE FUNCTION tributary._check_name(what text, p_name text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF p_name IS NULL OR p_name !~ '^[[:alnum:]_][[:alnum:]_.$-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid % name "%"', what, coalesce(p_name, '')
			USING ERRCODE = 'invalid_name',
				  DETAIL = 'A name starts with a letter, digit or underscore, has at most 63 characters, and uses only letters, digits and _ . $ -.';
	END IF;
END
$$;

/*
 * _split_table_name: "schema.table" (PostgreSQL, parsed as SQL identifiers)
 * or "database.table" (MySQL, case kept, backquotes allowed) into its parts.
 */
CREATE FUNCTION tributary._split_table_name(kind text, qualified text, OUT nsp text, OUT rel text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	parts text[];
	m text[];
BEGIN
	IF kind = 'postgresql' THEN
		BEGIN
			parts := parse_ident(qualified);
		EXCEPTION WHEN invalid_parameter_value THEN
			parts := NULL;
		END;
	ELSE
		m := regexp_match(qualified, '^(`(?:[^`]|``)+`|[^.`]+)\.(`(?:[^`]|``)+`|[^.`]+)$');
		IF m IS NOT NULL THEN
			parts := ARRAY[replace(trim(BOTH '`' FROM m[1]), '``', '`'),
						   replace(trim(BOTH '`' FROM m[2]), '``', '`')];
		END IF;
	END IF;
	IF parts IS NULL OR array_length(parts, 1) <> 2 THEN
		RAISE EXCEPTION 'invalid source table name "%"', qualified
			USING ERRCODE = 'invalid_name',
				  DETAIL = CASE kind WHEN 'postgresql' THEN 'A PostgreSQL source table is written schema.table.'
									 ELSE 'A MySQL source table is written database.table.' END;
	END IF;
	nsp := parts[1];
	rel := parts[2];
END
$$;

/*
 * _check_remote_table: the prerequisites of one source table, raised as the
 * seed's errors: primary key, REPLICA IDENTITY FULL and wal_level (the last
 * two only for PostgreSQL sources of jobs that capture changes).
 */
/*
 * _target_type: the type of an auto-created target column: the source
 * description's, except MySQL TIME as interval under option mysql_time.
 */
CREATE FUNCTION tributary._target_type(col jsonb, opts jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN opts ->> 'mysql_time' = 'interval' AND col ->> 'mysql_type' ~ '^time(\(\d\))?$'
				THEN 'interval' ELSE col ->> 'pg_type' END
$$;

CREATE FUNCTION tributary._check_remote_table(s tributary.source, mode text, nsp text, rel text, info jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	qname text := nsp || '.' || rel;
BEGIN
	IF jsonb_array_length(info -> 'key') = 0 THEN
		RAISE EXCEPTION 'source table [%] do not contain any primary key', qname
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'pg_tributary identifies rows by their primary key; a table without one cannot be synced exactly once.',
				  HINT = CASE s.source_kind
					WHEN 'postgresql' THEN format('Add a primary key on the source: ALTER TABLE %I.%I ADD PRIMARY KEY (...);', nsp, rel)
					ELSE format('Add a primary key on the source: ALTER TABLE `%s`.`%s` ADD PRIMARY KEY (...);', nsp, rel) END;
	END IF;
	IF s.source_kind = 'mysql' AND mode <> 'full' THEN
		IF upper(coalesce(info ->> 'log_bin', 'OFF')) <> 'ON' THEN
			RAISE EXCEPTION 'source [%] has no binary log (log_bin is %), change capture needs it', qname, coalesce(info ->> 'log_bin', 'OFF')
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Start the server with log-bin (and binlog_format=ROW, binlog_row_image=FULL) in my.cnf.';
		END IF;
		IF upper(info ->> 'binlog_format') <> 'ROW' THEN
			RAISE EXCEPTION 'source [%] binlog format is %, should be set to ROW', qname, info ->> 'binlog_format'
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Change capture decodes row events; statement events cannot be applied exactly.',
					  HINT = 'On the source run SET GLOBAL binlog_format = ''ROW''; and set binlog_format=ROW in my.cnf.';
		END IF;
		IF upper(info ->> 'binlog_row_image') <> 'FULL' THEN
			RAISE EXCEPTION 'source [%] binlog row image is %, should be set to FULL', qname, info ->> 'binlog_row_image'
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Full row images are needed to apply updates and deletes exactly.',
					  HINT = 'On the source run SET GLOBAL binlog_row_image = ''FULL''; and set binlog_row_image=FULL in my.cnf.';
		END IF;
		IF upper(coalesce(info ->> 'binlog_row_value_options', '')) = 'PARTIAL_JSON' THEN
			RAISE EXCEPTION 'source [%] logs JSON updates as partial diffs (binlog_row_value_options = PARTIAL_JSON)', qname
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'On the source run SET GLOBAL binlog_row_value_options = ''''; and remove it from my.cnf.';
		END IF;
	END IF;
	IF s.source_kind = 'postgresql' AND mode <> 'full' THEN
		IF info ->> 'wal_level' <> 'logical' THEN
			RAISE EXCEPTION 'source [%] wal level is %, should be set to logical', qname, info ->> 'wal_level'
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Change data capture reads the source''s write-ahead log through logical decoding.',
					  HINT = 'On the source run ALTER SYSTEM SET wal_level = logical; and restart it.';
		END IF;
		IF info ->> 'replident' <> 'f' THEN
			RAISE EXCEPTION 'table [%] replication identity is [%], should be set to full', qname, info ->> 'replident'
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Full row images are needed to apply updates and deletes exactly.',
					  HINT = format('On the source run ALTER TABLE %I.%I REPLICA IDENTITY FULL;', nsp, rel);
		END IF;
	END IF;
END
$$;

/* ------------------------------------------------------------------------
 * SQL API
 * ------------------------------------------------------------------------ */

/*
 * create_source: register a source database.
 */
CREATE FUNCTION tributary.create_source(source_name text, kind text, conninfo text,
										options jsonb DEFAULT '{}')
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	k text := lower(kind);
	id integer;
BEGIN
	PERFORM tributary._check_name('source', source_name);
	IF k IN ('postgres', 'postgresql', 'piecloudb', 'piecloudb_tp') THEN
		k := 'postgresql';
	ELSIF k IN ('mysql', 'mariadb') THEN
		k := 'mysql';
	ELSE
		RAISE EXCEPTION 'unknown source kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Valid kinds are: postgresql, mysql.';
	END IF;
	PERFORM tributary._conninfo_validate(conninfo, k);
	IF EXISTS (SELECT 1 FROM tributary.source s WHERE s.source_name = create_source.source_name) THEN
		RAISE EXCEPTION 'source "%" already exists', source_name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO tributary.source (source_name, source_kind, source_conninfo, source_options)
	VALUES (source_name, k, conninfo, tributary._validate_source_options(k, options))
	RETURNING source_id INTO id;
	RETURN id;
END
$$;

/*
 * drop_source: remove a source no job uses.
 */
CREATE FUNCTION tributary.drop_source(source_name text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	s tributary.source := tributary._source_row(source_name);
	users text;
BEGIN
	SELECT string_agg(job_name, ', ' ORDER BY job_name) INTO users
	  FROM tributary.job WHERE job_source_id = s.source_id;
	IF users IS NOT NULL THEN
		RAISE EXCEPTION 'source "%" is used by job %', source_name, users
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Drop those jobs first with tributary.drop_job().';
	END IF;
	DELETE FROM tributary.source WHERE source_id = s.source_id;
END
$$;

/*
 * check_source: the prerequisites of a source and of some of its tables,
 * one row per check, with a hint giving the fix for each failed one.
 */
CREATE FUNCTION tributary.check_source(source_name text, tables text[] DEFAULT NULL)
RETURNS TABLE (check_name text, ok boolean, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM tributary._source_row(source_name);
	RETURN QUERY SELECT * FROM tributary._source_checks(source_name, tables);
END
$$;

/*
 * create_job: define a job reading from a source.
 */
CREATE FUNCTION tributary.create_job(job_name text, source_name text, mode text DEFAULT 'full+cdc',
									 options jsonb DEFAULT '{}')
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	s tributary.source;
	opts jsonb;
	id integer;
BEGIN
	PERFORM tributary._check_name('job', job_name);
	s := tributary._source_row(source_name);
	IF mode IS NULL OR mode NOT IN ('full', 'cdc', 'full+cdc') THEN
		RAISE EXCEPTION 'invalid job mode "%"', coalesce(mode, '')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Valid modes are: full, cdc, full+cdc.';
	END IF;
	opts := tributary._validate_job_options(options);
	IF mode <> 'cdc' AND opts ? 'start_position' THEN
		RAISE EXCEPTION 'job option "start_position" needs mode cdc'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The job''s mode is %s; a snapshot fixes its own start position.', mode);
	END IF;
	IF EXISTS (SELECT 1 FROM tributary.job j WHERE j.job_name = create_job.job_name) THEN
		RAISE EXCEPTION 'job "%" already exists', job_name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO tributary.job (job_name, job_source_id, job_mode, job_options)
	VALUES (job_name, s.source_id, mode, opts)
	RETURNING job_id INTO id;
	PERFORM tributary._record_job_version(id, 'create_job');
	RETURN id;
END
$$;

/*
 * alter_job: change a job's options: the given keys replace the job's (a
 * JSON null removes a key), validated like create_job's.  A running job
 * reads them at its next start (restart_job applies them at once).
 */
CREATE FUNCTION tributary.alter_job(job_name text, options jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job;
	merged jsonb;
BEGIN
	SELECT * INTO j FROM tributary.job WHERE tributary.job.job_name = alter_job.job_name FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'job "%" does not exist', job_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'tributary.jobs lists the jobs.';
	END IF;
	IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
		RAISE EXCEPTION 'job options must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	merged := jsonb_strip_nulls(j.job_options || options);
	merged := tributary._validate_job_options(merged);
	IF j.job_mode <> 'cdc' AND merged ? 'start_position' THEN
		RAISE EXCEPTION 'job option "start_position" needs mode cdc'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE tributary.job SET job_options = merged WHERE job_id = j.job_id;
	PERFORM tributary._record_job_version(j.job_id, 'alter_job');
END
$$;

/*
 * add_table: add one source table to a job, mapped to one target table.
 * Connects to the source to check the table's prerequisites and read its
 * definition; creates the target table when it is missing (create_tables),
 * else checks that its columns fit the mapping.
 */
CREATE FUNCTION tributary.add_table(job_name text, source_table text, target_table text DEFAULT NULL,
									columns jsonb DEFAULT NULL, filter text DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job := tributary._job_row(job_name);
	s tributary.source;
	opts jsonb;
	src record;
	tgt_nsp text;
	tgt_rel text;
	tparts text[];
	info jsonb;
	col jsonb;
	keycols text[];
	k text;
	mapped_sources text[];
	tgt_oid oid;
	id integer;
	ddl text;
	coldefs text[] := '{}';
	cmap jsonb := columns;
	copied jsonb;
	m record;
BEGIN
	SELECT * INTO s FROM tributary.source WHERE source_id = j.job_source_id;
	opts := tributary.job_effective_options(j.job_name);
	src := tributary._split_table_name(s.source_kind, source_table);

	IF EXISTS (SELECT 1 FROM tributary.job_table
				WHERE jt_job_id = j.job_id AND jt_source_schema = src.nsp AND jt_source_rel = src.rel) THEN
		RAISE EXCEPTION 'source table [%] is already part of job "%"', src.nsp || '.' || src.rel, j.job_name
			USING ERRCODE = 'duplicate_object';
	END IF;

	/* the source table: exists, has a primary key, has full row images */
	info := tributary._remote_table_info(s.source_name, src.nsp, src.rel);
	PERFORM tributary._check_remote_table(s, j.job_mode, src.nsp, src.rel, info);
	SELECT array_agg(x ORDER BY o) INTO keycols
	  FROM jsonb_array_elements_text(info -> 'key') WITH ORDINALITY AS e(x, o);

	/* the target table's name */
	IF target_table IS NOT NULL THEN
		BEGIN
			tparts := parse_ident(target_table);
		EXCEPTION WHEN invalid_parameter_value THEN
			tparts := NULL;
		END;
		IF tparts IS NULL OR array_length(tparts, 1) NOT IN (1, 2) THEN
			RAISE EXCEPTION 'invalid target table name "%"', target_table
				USING ERRCODE = 'invalid_name',
					  DETAIL = 'A target table is written table or schema.table.';
		END IF;
		IF array_length(tparts, 1) = 2 THEN
			tgt_nsp := tparts[1];
			tgt_rel := tparts[2];
		ELSE
			tgt_nsp := coalesce(opts ->> 'target_schema', src.nsp);
			tgt_rel := tparts[1];
		END IF;
	ELSE
		tgt_nsp := coalesce(opts ->> 'target_schema', src.nsp);
		tgt_rel := src.rel;
	END IF;

	IF EXISTS (SELECT 1 FROM tributary.job_table t
				WHERE t.jt_target_schema = tgt_nsp AND t.jt_target_rel = tgt_rel
				  AND t.jt_job_id <> j.job_id) THEN
		RAISE EXCEPTION 'target table %.% is already written by job "%"', quote_ident(tgt_nsp), quote_ident(tgt_rel),
			(SELECT jj.job_name FROM tributary.job_table t JOIN tributary.job jj ON jj.job_id = t.jt_job_id
			  WHERE t.jt_target_schema = tgt_nsp AND t.jt_target_rel = tgt_rel LIMIT 1)
			USING ERRCODE = 'duplicate_object',
				  DETAIL = 'A target table can be synced by one job only.';
	END IF;

	/* the column mapping: target column -> source column or expression */
	IF cmap IS NOT NULL THEN
		IF jsonb_typeof(cmap) <> 'object' OR cmap = '{}' THEN
			RAISE EXCEPTION 'columns must be a non-empty JSON object mapping target columns to source columns'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'For example: {"id": "id", "full_name": "name"}.';
		END IF;
		FOR m IN SELECT * FROM jsonb_each(cmap) LOOP
			IF jsonb_typeof(m.value) <> 'string' OR m.value #>> '{}' = '' THEN
				RAISE EXCEPTION 'column mapping for target column "%" must be a source column name or expression', m.key
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END LOOP;
		SELECT array_agg(value) INTO mapped_sources FROM jsonb_each_text(cmap);
	END IF;

	tgt_oid := to_regclass(format('%I.%I', tgt_nsp, tgt_rel));

	/* seed 000's rule: a key left out of a partial mapping maps to the same-named target column */
	IF cmap IS NOT NULL THEN
		FOREACH k IN ARRAY keycols LOOP
			IF NOT k = ANY (mapped_sources) THEN
				IF cmap ? k THEN
					RAISE EXCEPTION 'source primary key column "%" is not mapped, and target column "%" is mapped to another source', k, k
						USING ERRCODE = 'invalid_column_reference',
							  DETAIL = format('Source table [%s] has primary key (%s).', src.nsp || '.' || src.rel, array_to_string(keycols, ', ')),
							  HINT = 'Map the primary key column to a target column.';
				END IF;
				IF tgt_oid IS NOT NULL AND NOT EXISTS (
					SELECT 1 FROM pg_attribute WHERE attrelid = tgt_oid AND attname = k
					   AND attnum > 0 AND NOT attisdropped) THEN
					RAISE EXCEPTION 'source primary key column "%" is not mapped and target table %.% has no column "%"',
						k, quote_ident(tgt_nsp), quote_ident(tgt_rel), k
						USING ERRCODE = 'invalid_column_reference',
							  DETAIL = format('Source table [%s] has primary key (%s).', src.nsp || '.' || src.rel, array_to_string(keycols, ', ')),
							  HINT = 'Map the primary key column to a target column.';
				END IF;
				cmap := cmap || jsonb_build_object(k, k);
			END IF;
		END LOOP;
	END IF;

	/* every mapped source column exists on the source (expressions are kept as given) */
	IF cmap IS NOT NULL THEN
		FOR m IN SELECT * FROM jsonb_each_text(cmap) LOOP
			IF m.value ~ '^[[:alpha:]_][[:alnum:]_$]*$'
			   AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(info -> 'columns') c
								WHERE c ->> 'name' = m.value) THEN
				RAISE EXCEPTION 'source table [%] has no column "%"', src.nsp || '.' || src.rel, m.value
					USING ERRCODE = 'undefined_column',
						  DETAIL = format('Target column "%s" is mapped to it.', m.key);
			END IF;
		END LOOP;
	END IF;

	IF tgt_oid IS NULL THEN
		IF NOT (opts -> 'create_tables')::boolean THEN
			RAISE EXCEPTION 'target table %.% does not exist', quote_ident(tgt_nsp), quote_ident(tgt_rel)
				USING ERRCODE = 'undefined_table',
					  HINT = 'Create it, or set the job option create_tables to true.';
		END IF;
		/* build the target from the source definition */
		FOR col IN SELECT c FROM jsonb_array_elements(info -> 'columns') c LOOP
			IF cmap IS NULL THEN
				coldefs := coldefs || format('%I %s', col ->> 'name', tributary._target_type(col, opts));
			END IF;
		END LOOP;
		IF cmap IS NOT NULL THEN
			/* mapped columns in the source's column order */
			FOR m IN SELECT mk.key, mk.value FROM jsonb_each_text(cmap) mk
					   LEFT JOIN jsonb_array_elements(info -> 'columns') WITH ORDINALITY sc(c, o)
							  ON sc.c ->> 'name' = mk.value
					  ORDER BY sc.o NULLS LAST, mk.key LOOP
				SELECT c INTO col FROM jsonb_array_elements(info -> 'columns') c WHERE c ->> 'name' = m.value;
				IF col IS NULL THEN
					RAISE EXCEPTION 'cannot derive the type of target column "%" from expression "%"', m.key, m.value
						USING ERRCODE = 'invalid_parameter_value',
							  HINT = 'Create the target table yourself before adding the table to the job.';
				END IF;
				coldefs := coldefs || format('%I %s', m.key, tributary._target_type(col, opts));
			END LOOP;
		END IF;
		coldefs := coldefs || format('PRIMARY KEY (%s)', (
			SELECT string_agg(quote_ident(coalesce(
				(SELECT mk.key FROM jsonb_each_text(cmap) mk WHERE mk.value = kc LIMIT 1), kc)), ', ' ORDER BY o)
			  FROM unnest(keycols) WITH ORDINALITY u(kc, o)));
		IF to_regnamespace(quote_ident(tgt_nsp)) IS NULL THEN
			EXECUTE format('CREATE SCHEMA %I', tgt_nsp);
		END IF;
		ddl := format('CREATE TABLE %I.%I (%s)', tgt_nsp, tgt_rel, array_to_string(coldefs, ', '));
		EXECUTE ddl;
		RAISE NOTICE 'created target table %.%', quote_ident(tgt_nsp), quote_ident(tgt_rel);
	ELSE
		/* an existing target must have every mapped column */
		FOR m IN SELECT key AS tcol FROM jsonb_each(coalesce(cmap,
					(SELECT jsonb_object_agg(c ->> 'name', c ->> 'name')
					   FROM jsonb_array_elements(info -> 'columns') c))) LOOP
			IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tgt_oid AND attname = m.tcol
							 AND attnum > 0 AND NOT attisdropped) THEN
				RAISE EXCEPTION 'target table %.% has no column "%"', quote_ident(tgt_nsp), quote_ident(tgt_rel), m.tcol
					USING ERRCODE = 'undefined_column',
						  HINT = 'Add the column to the target table, or map the columns with the columns argument.';
			END IF;
		END LOOP;
	END IF;

	/* the copied columns, in the source's column order, expressions last */
	IF cmap IS NULL THEN
		SELECT jsonb_agg(jsonb_build_object('target', c ->> 'name', 'source', c ->> 'name') ORDER BY o)
		  INTO copied FROM jsonb_array_elements(info -> 'columns') WITH ORDINALITY sc(c, o);
	ELSE
		SELECT jsonb_agg(CASE WHEN sc.c IS NULL THEN jsonb_build_object('target', mk.key, 'expr', mk.value)
							  ELSE jsonb_build_object('target', mk.key, 'source', mk.value) END
						 ORDER BY sc.o NULLS LAST, mk.key)
		  INTO copied
		  FROM jsonb_each_text(cmap) mk
		  LEFT JOIN jsonb_array_elements(info -> 'columns') WITH ORDINALITY sc(c, o) ON sc.c ->> 'name' = mk.value;
	END IF;

	INSERT INTO tributary.job_table (jt_job_id, jt_source_schema, jt_source_rel, jt_target_schema,
									 jt_target_rel, jt_column_map, jt_filter, jt_key_columns, jt_columns)
	VALUES (j.job_id, src.nsp, src.rel, tgt_nsp, tgt_rel, cmap, filter, keycols, copied)
	RETURNING jt_id INTO id;
	PERFORM tributary._record_job_version(j.job_id, 'add_table ' || src.nsp || '.' || src.rel);
	/* a running job picks the table up at once: its worker is replaced, copies
	 * the new table and catches up, then streams all its tables */
	UPDATE tributary.job SET job_generation = job_generation + 1
	 WHERE job_id = j.job_id AND job_state = 'running';
	RETURN id;
END
$$;

/*
 * start_job: mark a job to run; the launcher starts its worker when this
 * transaction commits.  Refuses a job that cannot work.
 */
CREATE FUNCTION tributary.start_job(job_name text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job := tributary._job_row(job_name);
	s tributary.source;
	t record;
	info jsonb;
BEGIN
	PERFORM tributary._require_preloaded();
	IF j.job_state = 'running' THEN
		RAISE NOTICE 'job "%" is already running', job_name;
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM tributary.job_table WHERE jt_job_id = j.job_id) THEN
		RAISE EXCEPTION 'job "%" has no tables', job_name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Add tables with tributary.add_table().';
	END IF;
	SELECT * INTO s FROM tributary.source WHERE source_id = j.job_source_id;
	FOR t IN SELECT * FROM tributary.job_table WHERE jt_job_id = j.job_id ORDER BY jt_id LOOP
		info := tributary._remote_table_info(s.source_name, t.jt_source_schema, t.jt_source_rel);
		PERFORM tributary._check_remote_table(s, j.job_mode, t.jt_source_schema, t.jt_source_rel, info);
	END LOOP;
	IF current_database() <> current_setting('tributary.database') THEN
		RAISE EXCEPTION 'jobs of database "%" are not run', current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('The launcher runs the jobs of database "%s" (tributary.database).',
								  current_setting('tributary.database')),
				  HINT = format('Set tributary.database = ''%s'' in postgresql.conf and restart the server.', current_database());
	END IF;
	UPDATE tributary.job SET job_state = 'running', job_enabled_at = now()
	 WHERE job_id = j.job_id;
END
$$;

/*
 * stop_job: stop a job gracefully; its worker commits what it has and exits.
 */
CREATE FUNCTION tributary.stop_job(job_name text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job := tributary._job_row(job_name);
BEGIN
	IF j.job_state <> 'running' THEN
		RAISE NOTICE 'job "%" is not running', job_name;
	END IF;
	UPDATE tributary.job SET job_state = 'stopped' WHERE job_id = j.job_id AND job_state <> 'stopped';
END
$$;

/*
 * restart_job: replace a job's worker by a new one.  from_checkpoint (the
 * default) resumes from the last committed position; false starts over,
 * forgetting positions and snapshot progress.
 */
CREATE FUNCTION tributary.restart_job(job_name text, from_checkpoint boolean DEFAULT true)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job := tributary._job_row(job_name);
BEGIN
	IF NOT from_checkpoint THEN
		IF j.job_slot IS NOT NULL THEN
			PERFORM tributary._drop_slot((SELECT source_name FROM tributary.source
										   WHERE source_id = j.job_source_id), j.job_slot);
		END IF;
		UPDATE tributary.job SET job_slot = NULL, job_decoder = NULL, job_stream_start = NULL,
			   job_catchup_until = NULL
		 WHERE job_id = j.job_id;
		DELETE FROM tributary.checkpoint WHERE cp_job_id = j.job_id;
		DELETE FROM tributary.table_state
		 WHERE ts_jt_id IN (SELECT jt_id FROM tributary.job_table WHERE jt_job_id = j.job_id);
		UPDATE tributary.job_table
		   SET jt_state = 'init', jt_rows_copied = 0, jt_chunks_done = 0, jt_chunks_total = NULL
		 WHERE jt_job_id = j.job_id;
	END IF;
	IF j.job_state <> 'running' THEN
		PERFORM tributary.start_job(job_name);
	END IF;
	UPDATE tributary.job SET job_generation = job_generation + 1, job_enabled_at = now()
	 WHERE job_id = j.job_id;
END
$$;

/*
 * add_tables: add every source table whose qualified name ("schema.table"
 * or "database.table") matches the regular expression source_pattern
 * (anchored at both ends) and not exclude, each with add_table.  The
 * target schema is target_schema, else the job's target_schema, else the
 * source's schema or database name.  The target table name follows
 * name_rule, as the seeds' name-mapping rules do:
 *	"pattern => replacement"	the source table name rewritten with a
 *							regular expression (\1 for groups), e.g.
 *							'doc_(.*) => pre_\1'
 *	${db_table_name_src_transed} (or ${table})	the rewritten name (the
 *							source name without a rewrite), ${db_name_src_transed}
 *							(or ${schema}) the target schema, ${ds_name_src} (or
 *							${source}) the source's name; text around them is
 *							kept: 'pre_${table}_post'
 * Both may be combined: 'doc_(.*) => ${ds_name_src}_\1'.  Returns the
 * number of tables added; tables without a primary key fail the whole
 * call, like add_table.  Several source tables into one target table are
 * refused (not supported yet).
 */
CREATE FUNCTION tributary.add_tables(job_name text, source_pattern text, target_schema text DEFAULT NULL,
									  name_rule text DEFAULT NULL, exclude text DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job := tributary._job_row(job_name);
	s tributary.source;
	opts jsonb := tributary.job_effective_options(job_name);
	r record;
	tgt_schema text;
	tgt_name text;
	pattern text;
	replacement text;
	targets text[] := '{}';
	n integer := 0;
BEGIN
	SELECT * INTO s FROM tributary.source WHERE source_id = j.job_source_id;
	IF source_pattern IS NULL OR source_pattern = '' THEN
		RAISE EXCEPTION 'source_pattern must be a regular expression'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF name_rule LIKE '%=>%' THEN
		pattern := btrim(split_part(name_rule, '=>', 1));
		replacement := btrim(substr(name_rule, strpos(name_rule, '=>') + 2));
	END IF;
	FOR r IN SELECT t.schema_name, t.table_name FROM tributary._remote_tables(s.source_name) t
			  WHERE (t.schema_name || '.' || t.table_name) ~ ('^(?:' || source_pattern || ')$')
			    AND (exclude IS NULL OR NOT (t.schema_name || '.' || t.table_name) ~ ('^(?:' || exclude || ')$'))
			    AND NOT EXISTS (SELECT 1 FROM tributary.job_table jt WHERE jt.jt_job_id = j.job_id
			                       AND jt.jt_source_schema = t.schema_name AND jt.jt_source_rel = t.table_name)
			  ORDER BY 1, 2 LOOP
		tgt_schema := coalesce(target_schema, opts ->> 'target_schema', r.schema_name);
		tgt_name := r.table_name;
		IF pattern IS NOT NULL THEN
			tgt_name := regexp_replace(tgt_name, '^(?:' || pattern || ')$', replacement);
		END IF;
		IF name_rule IS NOT NULL AND name_rule NOT LIKE '%=>%' THEN
			tgt_name := name_rule;
		END IF;
		tgt_name := replace(replace(replace(replace(replace(replace(tgt_name,
			'${db_table_name_src_transed}', CASE WHEN pattern IS NOT NULL
				THEN regexp_replace(r.table_name, '^(?:' || pattern || ')$', replacement) ELSE r.table_name END),
			'${table}', r.table_name),
			'${db_name_src_transed}', tgt_schema), '${schema}', tgt_schema),
			'${ds_name_src}', s.source_name), '${source}', s.source_name);
		IF (tgt_schema || '.' || tgt_name) = ANY (targets) OR EXISTS (
				SELECT 1 FROM tributary.job_table jt WHERE jt.jt_job_id = j.job_id
				   AND jt.jt_target_schema = tgt_schema AND jt.jt_target_rel = tgt_name) THEN
			RAISE EXCEPTION 'several source tables map to target table %.% (source table [%.%] among them)',
							tgt_schema, tgt_name, r.schema_name, r.table_name
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'Merging several source tables into one target table is not supported yet.',
					  HINT = 'Give each source table its own target name (name_rule), or exclude some tables.';
		END IF;
		targets := targets || (tgt_schema || '.' || tgt_name);
		PERFORM tributary.add_table(job_name,
			CASE s.source_kind WHEN 'postgresql' THEN format('%I.%I', r.schema_name, r.table_name)
				 ELSE '`' || replace(r.schema_name, '`', '``') || '`.`' || replace(r.table_name, '`', '``') || '`' END,
			format('%I.%I', tgt_schema, tgt_name));
		n := n + 1;
	END LOOP;
	IF n = 0 THEN
		RAISE NOTICE 'no source table of "%" matches "%"', s.source_name, source_pattern;
	END IF;
	RETURN n;
END
$$;

/*
 * resync_table: copy one table of a job again.  Its target is emptied and
 * copied anew in chunks by the job's next run (at once when the job is
 * running: its worker restarts, copies the table in a new source view and
 * resumes the stream from its checkpoint, idempotently up to that view, so
 * the table converges and the other tables lose nothing).  A finished full
 * job is started again for it.
 */
CREATE FUNCTION tributary.resync_table(job_name text, source_table text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job := tributary._job_row(job_name);
	s tributary.source;
	src record;
	t tributary.job_table;
BEGIN
	SELECT * INTO s FROM tributary.source WHERE source_id = j.job_source_id;
	src := tributary._split_table_name(s.source_kind, source_table);
	SELECT * INTO t FROM tributary.job_table
	 WHERE jt_job_id = j.job_id AND jt_source_schema = src.nsp AND jt_source_rel = src.rel
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source table [%] is not part of job "%"', src.nsp || '.' || src.rel, j.job_name
			USING ERRCODE = 'undefined_table',
				  HINT = 'tributary.tables lists the tables of each job.';
	END IF;
	IF j.job_mode = 'cdc' THEN
		RAISE EXCEPTION 'job "%" does not copy tables (mode cdc)', j.job_name
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Copy the table by other means, or use a full+cdc job.';
	END IF;
	DELETE FROM tributary.table_state WHERE ts_jt_id = t.jt_id;
	UPDATE tributary.job_table
	   SET jt_state = 'init', jt_rows_copied = 0, jt_chunks_done = 0, jt_chunks_total = NULL
	 WHERE jt_id = t.jt_id;
	PERFORM tributary._record_job_version(j.job_id, 'resync_table ' || src.nsp || '.' || src.rel);
	IF j.job_state = 'running' THEN
		UPDATE tributary.job SET job_generation = job_generation + 1, job_enabled_at = now()
		 WHERE job_id = j.job_id;
	ELSIF j.job_mode = 'full' AND j.job_state = 'finished' THEN
		PERFORM tributary.start_job(job_name);
	END IF;
END
$$;

/*
 * drop_job: remove a job, its tables, positions and history, and its
 * replication slot on the source (a warning says how to drop it by hand
 * when the source cannot be reached).  A running worker is stopped by the
 * launcher once this commits.
 */
CREATE FUNCTION tributary.drop_job(job_name text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	j tributary.job := tributary._job_row(job_name);
BEGIN
	IF j.job_slot IS NOT NULL THEN
		PERFORM tributary._drop_slot((SELECT source_name FROM tributary.source
									   WHERE source_id = j.job_source_id), j.job_slot);
	END IF;
	DELETE FROM tributary.job_version WHERE jv_job_id = j.job_id;
	DELETE FROM tributary.job WHERE job_id = j.job_id;
END
$$;

/*
 * wait_for_sync: wait until the job has applied everything its source had
 * committed when the call began (a full job: until it finished).  Returns
 * false when the timeout passes first.
 */
CREATE FUNCTION tributary.wait_for_sync(job_name text, timeout interval DEFAULT '5 min')
RETURNS boolean LANGUAGE C STRICT AS 'MODULE_PATHNAME', 'tributary_wait_for_sync';

/* ------------------------------------------------------------------------
 * Views
 * ------------------------------------------------------------------------ */

CREATE VIEW tributary.sources AS
SELECT s.source_name, s.source_kind AS kind,
	   tributary._conninfo_mask(s.source_conninfo) AS conninfo,
	   s.source_options AS options, s.source_owner AS owner, s.source_created_at AS created_at
  FROM tributary.source s;

CREATE VIEW tributary.jobs AS
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
					  AND err_run_id = r.run_id ORDER BY err_id DESC LIMIT 1) e ON true;

CREATE VIEW tributary.tables AS
SELECT j.job_name,
	   t.jt_source_schema || '.' || t.jt_source_rel AS source_table,
	   format('%I.%I', t.jt_target_schema, t.jt_target_rel) AS target_table,
	   t.jt_state AS state, t.jt_rows_copied AS rows_copied,
	   t.jt_chunks_done AS chunks_done, t.jt_chunks_total AS chunks_total,
	   t.jt_rows_applied AS rows_applied,
	   t.jt_column_map AS columns, t.jt_filter AS filter, t.jt_key_columns AS key_columns
  FROM tributary.job_table t JOIN tributary.job j ON j.job_id = t.jt_job_id;

CREATE VIEW tributary.checkpoints AS
SELECT j.job_name, c.cp_position AS position, c.cp_committed_at AS committed_at,
	   c.cp_source_commit_at AS source_commit_at, c.cp_seq AS seq
  FROM tributary.checkpoint c JOIN tributary.job j ON j.job_id = c.cp_job_id;

CREATE VIEW tributary.runs AS
SELECT j.job_name, r.run_id, r.run_started_at AS started_at, r.run_ended_at AS ended_at,
	   r.run_status AS status, r.run_message AS message, r.run_pid AS pid
  FROM tributary.run r JOIN tributary.job j ON j.job_id = r.run_job_id;

CREATE VIEW tributary.errors AS
SELECT j.job_name, e.err_run_id AS run_id, e.err_at AS at, e.err_sqlstate AS sqlstate,
	   e.err_message AS message, e.err_detail AS detail, e.err_context AS context
  FROM tributary.error_log e JOIN tributary.job j ON j.job_id = e.err_job_id;

CREATE VIEW tributary.dirty_rows AS
SELECT j.job_name, d.dr_source_table AS source_table, d.dr_position AS position,
	   d.dr_row AS row, d.dr_error AS error, d.dr_at AS at
  FROM tributary.dirty_row d JOIN tributary.job j ON j.job_id = d.dr_job_id;

CREATE VIEW tributary.job_versions AS
SELECT v.jv_job_id AS job_id, v.jv_definition ->> 'job_name' AS job_name, v.jv_version AS version,
	   v.jv_at AS at, v.jv_by AS by, v.jv_change AS change, v.jv_definition AS definition
  FROM tributary.job_version v;

/* ------------------------------------------------------------------------
 * Privileges
 * ------------------------------------------------------------------------ */

REVOKE ALL ON ALL TABLES IN SCHEMA tributary FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA tributary FROM PUBLIC;
GRANT USAGE ON SCHEMA tributary TO PUBLIC;

/* the monitoring views (conninfo masked) and the catalog, but source.conninfo */
GRANT SELECT ON tributary.sources, tributary.jobs, tributary.tables, tributary.checkpoints,
	tributary.runs, tributary.errors, tributary.dirty_rows, tributary.job_versions TO PUBLIC;
GRANT SELECT ON tributary.job, tributary.job_table, tributary.name_rule, tributary.checkpoint,
	tributary.table_state, tributary.run, tributary.error_log, tributary.dirty_row,
	tributary.job_version TO PUBLIC;
GRANT SELECT (source_id, source_name, source_kind, source_options, source_owner, source_created_at)
	ON tributary.source TO PUBLIC;
GRANT EXECUTE ON FUNCTION tributary._worker_status(), tributary._conninfo_mask(text),
	tributary.job_effective_options(text), tributary._job_option_defs() TO PUBLIC;

/* tributary_admin defines sources and jobs */
GRANT ALL ON ALL TABLES IN SCHEMA tributary TO tributary_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA tributary TO tributary_admin;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tributary TO tributary_admin;

/* wake the launcher: it may have been waiting for the extension to appear */
SELECT tributary._wakeup_launcher();
