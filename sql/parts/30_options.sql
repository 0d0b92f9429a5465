
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
RETURNS SETOF record LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	VALUES
	('execution.checkpointing.interval', 'integer', '1000'::jsonb, NULL::text[], 1::numeric, 86400000::numeric),
	('execution.checkpointing.min-pause', 'integer', '500', NULL, 0, 86400000),
	('state.backend.dir', 'text', 'null', NULL, NULL, NULL),
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
	('ddl_drop_target', 'boolean', 'false', NULL, NULL, NULL),
	('dml', 'dml_policy', '{}', ARRAY['apply', 'ignore'], NULL, NULL),
	('zero_date', 'enum', '"null"', ARRAY['null', '-infinity', 'error'], NULL, NULL),
	('mysql_time', 'enum', '"time"', ARRAY['time', 'interval'], NULL, NULL),
	('start_position', 'text', 'null', NULL, NULL, NULL),
	('incremental_column', 'text', 'null', NULL, NULL, NULL),
	('poll_interval', 'duration', '1', NULL, 0.01, 86400),
	('poll_batch_rows', 'integer', '10000', NULL, 1, 10000000)
$$;

/*
 * _option_error: raise the error for a bad option value, naming the option.
 */
CREATE FUNCTION tributary._option_error(what text, key text, val jsonb, expected text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
		'alter_column_type', 'attach_partition', 'detach_partition', 'other'];
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
					IF jsonb_typeof(inner_v) <> 'string' OR NOT ((inner_v #>> '{}') = ANY (d.allowed)
						OR (k = 'delete' AND (inner_v #>> '{}') ~ '^mark:.+$')) THEN
						PERFORM tributary._option_error('job', 'dml.' || k, inner_v,
							CASE k WHEN 'delete' THEN 'apply, ignore or mark:<column>' ELSE 'apply or ignore' END);
					END IF;
				ELSIF jsonb_typeof(inner_v) = 'object' THEN
					FOR k2 IN SELECT jsonb_object_keys(inner_v) LOOP
						IF NOT k2 = ANY (dml_ops) THEN
							RAISE EXCEPTION 'unknown DML operation "%" in job option "dml"', k2
								USING ERRCODE = 'invalid_parameter_value',
									  DETAIL = 'Valid operations are: insert, update, delete.';
						END IF;
						IF jsonb_typeof(inner_v -> k2) <> 'string'
						   OR NOT ((inner_v ->> k2) = ANY (d.allowed)
							   OR (k2 = 'delete' AND (inner_v ->> k2) ~ '^mark:.+$')) THEN
							PERFORM tributary._option_error('job', 'dml.' || k || '.' || k2,
								inner_v -> k2, CASE k2 WHEN 'delete' THEN 'apply, ignore or mark:<column>' ELSE 'apply or ignore' END);
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
 * _effective_options: a job's options with every default filled in, as
 * the worker sees them.
 */
CREATE FUNCTION tributary._effective_options(options jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT jsonb_object_agg(d.key, coalesce(options -> d.key, d.default_value) ORDER BY d.key)
	  FROM tributary._job_option_defs() d
$$;

/*
 * _validate_source_options: check a source options object for its kind.
 */
CREATE FUNCTION tributary._validate_source_options(kind text, options jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
					   WHEN 'mysql' THEN ARRAY['connect_timeout', 'heartbeat_interval', 'reconnect_timeout', 'server_id']
					   ELSE ARRAY['connect_timeout', 'heartbeat_interval', 'reconnect_timeout'] END;
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

