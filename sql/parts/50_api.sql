
/* ------------------------------------------------------------------------
 * SQL API: bodies
 *
 * tributary.<name>(...) is the C entry point tributary_api (declared at
 * the end of this script), which notes the caller and runs
 * tributary._api_<name>(...) below.  Bodies run as the extension's owner:
 * every name they use is schema-qualified or in pg_catalog, they check
 * ownership against tributary._api_caller(), and they call each other's
 * bodies (never the public functions, which would see the extension's
 * owner as their caller).
 * ------------------------------------------------------------------------ */

/*
 * create_source: register a source database, owned by the caller.  A
 * source defined by a non-superuser must carry a password, which its
 * server must ask for (checked at every connection): see security.md.
 */
CREATE FUNCTION tributary._api_create_source(source_name text, kind text, conninfo text,
											 options jsonb)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text := lower(kind);
	su boolean := tributary._caller_is_superuser();
	id integer;
BEGIN
	PERFORM tributary._check_name('source', source_name);
	/* PieCloudDB's TP engine speaks PostgreSQL's protocol (piecloudb: an earlier spelling) */
	IF k IN ('postgres', 'postgresql', 'pieclouddb', 'pieclouddb_tp', 'piecloudb', 'piecloudb_tp') THEN
		k := 'postgresql';
	ELSIF k IN ('mysql', 'mariadb') THEN
		k := 'mysql';
	ELSIF k IS NULL OR NOT k = ANY (tributary._source_kinds()) THEN
		RAISE EXCEPTION 'unknown source kind "%"', kind
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Valid kinds are: ' || array_to_string(tributary._source_kinds(), ', ') || '.';
	END IF;
	IF conninfo IS NULL THEN
		RAISE EXCEPTION 'conninfo must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM tributary._conninfo_validate(conninfo, k, su);
	IF EXISTS (SELECT 1 FROM tributary.source s WHERE s.source_name = _api_create_source.source_name) THEN
		RAISE EXCEPTION 'source "%" already exists', source_name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO tributary.source (source_name, source_kind, source_conninfo, source_options,
								  source_owner, source_password_required)
	VALUES (source_name, k, conninfo, tributary._validate_source_options(k, options),
			tributary._api_caller()::regrole, NOT su)
	RETURNING source_id INTO id;
	RETURN id;
END
$$;

/*
 * drop_source: remove a source no job uses.
 */
CREATE FUNCTION tributary._api_drop_source(source_name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s tributary.source := tributary._owned_source(source_name);
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
CREATE FUNCTION tributary._api_check_source(source_name text, tables text[])
RETURNS TABLE (check_name text, ok boolean, detail text, hint text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM tributary._owned_source(source_name);
	/* the source's checks, and, when it answers, what polling it cannot see */
	RETURN QUERY
		WITH c AS MATERIALIZED (SELECT * FROM tributary._source_checks(source_name, tables))
		SELECT * FROM c
		UNION ALL
		SELECT 'incremental mode'::text, true,
			   'Mode incremental needs no log: polls read the rows whose incremental column grew. They cannot see deleted rows.'::text,
			   NULL::text
		 WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.check_name = 'connection' AND NOT c.ok);
END
$$;

/*
 * _position_normalize: a start_position as it is stored: time:<timestamptz>
 * becomes an absolute UTC time, read in the caller's TimeZone (the worker
 * reads it in the server's, and "now" would move with every start before
 * the first checkpoint); other forms are kept as given.
 */
CREATE FUNCTION tributary._position_normalize(p text)
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN p LIKE 'time:%'
				THEN 'time:' || to_char(substr(p, 6)::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'
				ELSE p END
$$;

/*
 * create_job: define a job reading from a source the caller owns; the
 * job belongs to the caller and applies changes with its rights.
 */
CREATE FUNCTION tributary._api_create_job(job_name text, source_name text, mode text,
										  options jsonb)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s tributary.source;
	opts jsonb;
	id integer;
BEGIN
	PERFORM tributary._check_name('job', job_name);
	s := tributary._owned_source(source_name);
	IF mode IS NULL OR mode NOT IN ('full', 'cdc', 'full+cdc', 'incremental') THEN
		RAISE EXCEPTION 'invalid job mode "%"', coalesce(mode, '')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Valid modes are: full, cdc, full+cdc, incremental.';
	END IF;
	opts := tributary._validate_job_options(options);
	IF mode <> 'cdc' AND opts ? 'start_position' THEN
		RAISE EXCEPTION 'job option "start_position" needs mode cdc'
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('The job''s mode is %s; a snapshot fixes its own start position.', mode);
	END IF;
	IF opts ? 'start_position' THEN
		PERFORM tributary._position_check(s.source_kind, opts ->> 'start_position');
		opts := jsonb_set(opts, '{start_position}', to_jsonb(tributary._position_normalize(opts ->> 'start_position')));
	END IF;
	IF EXISTS (SELECT 1 FROM tributary.job j WHERE j.job_name = _api_create_job.job_name) THEN
		RAISE EXCEPTION 'job "%" already exists', job_name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO tributary.job (job_name, job_source_id, job_mode, job_options, job_owner)
	VALUES (job_name, s.source_id, mode, opts, tributary._api_caller()::regrole)
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
CREATE FUNCTION tributary._api_alter_job(job_name text, options jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
	merged jsonb;
BEGIN
	PERFORM 1 FROM tributary.job WHERE job_id = j.job_id FOR UPDATE;
	SELECT * INTO j FROM tributary.job WHERE job_id = j.job_id;
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
	IF merged ? 'start_position' THEN
		PERFORM tributary._position_check((SELECT source_kind FROM tributary.source WHERE source_id = j.job_source_id),
										  merged ->> 'start_position');
		merged := jsonb_set(merged, '{start_position}', to_jsonb(tributary._position_normalize(merged ->> 'start_position')));
	END IF;
	UPDATE tributary.job SET job_options = merged WHERE job_id = j.job_id;
	PERFORM tributary._record_job_version(j.job_id, 'alter_job');
END
$$;

/*
 * job_effective_options: a job's options with every default filled in, as
 * the worker sees them.
 */
CREATE FUNCTION tributary._api_job_effective_options(job_name text)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN tributary._effective_options((tributary._owned_job(job_name)).job_options);
END
$$;

/*
 * wait_for_sync: wait until the job has applied everything its source had
 * committed when the call began (a full job: until it finished).  Returns
 * false when the timeout passes first.
 */
CREATE FUNCTION tributary._api_wait_for_sync(job_name text, timeout interval)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM tributary._owned_job(job_name);
	RETURN tributary._wait_for_sync(job_name, timeout);
END
$$;

/*
 * alter_source: a source's new connection string and/or options (NULL:
 * unchanged; options are merged into the current ones), with
 * create_source's checks.  Jobs keep running and use the new settings at
 * their next connect, a reconnect after a lost connection included, so a
 * rotated password or a moved host recovers a job without restart_job.  A
 * source owned by a role that is not superuser always needs a password
 * the server asks for, whoever changed it.
 */
CREATE FUNCTION tributary._api_alter_source(source_name text, conninfo text, options jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s tributary.source := tributary._owned_source(source_name);
	su boolean := tributary._caller_is_superuser();
	owner_su boolean := (SELECT rolsuper FROM pg_roles WHERE oid = s.source_owner);
BEGIN
	IF conninfo IS NOT NULL THEN
		PERFORM tributary._conninfo_validate(conninfo, s.source_kind, su AND owner_su);
	END IF;
	UPDATE tributary.source
	   SET source_conninfo = coalesce(conninfo, source_conninfo),
		   source_options = CASE WHEN options IS NULL THEN source_options
								 ELSE tributary._validate_source_options(s.source_kind, source_options || options) END,
		   source_password_required = NOT (su AND owner_su)
	 WHERE source_id = s.source_id;
END
$$;
