
/* ------------------------------------------------------------------------
 * Triggers: job versions, launcher wakeup
 * ------------------------------------------------------------------------ */

/*
 * _job_definition: the definition of a job as one jsonb document (what a
 * job_version row keeps).
 */
CREATE FUNCTION tributary._job_definition(p_job_id integer)
RETURNS jsonb LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
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
 * _record_job_version: append a job_version row for a definition change,
 * made by the API's caller.
 */
CREATE FUNCTION tributary._record_job_version(p_job_id integer, p_change text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	v integer;
BEGIN
	UPDATE tributary.job SET job_version = job_version + 1
	 WHERE job_id = p_job_id RETURNING job_version INTO v;
	IF FOUND THEN
		INSERT INTO tributary.job_version (jv_job_id, jv_version, jv_by, jv_change, jv_definition)
		VALUES (p_job_id, v, (SELECT rolname FROM pg_catalog.pg_roles WHERE oid = tributary._api_caller()),
				p_change, tributary._job_definition(p_job_id));
	END IF;
END
$$;

/*
 * _job_changed: every change to a job's desired state, generation or tables
 * wakes the launcher when the transaction commits.
 */
CREATE FUNCTION tributary._job_changed()
RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM tributary._wakeup_launcher();
	RETURN NULL;
END
$$;

CREATE TRIGGER job_changed AFTER INSERT OR DELETE OR UPDATE OF job_state, job_generation
	ON tributary.job FOR EACH STATEMENT EXECUTE FUNCTION tributary._job_changed();
CREATE TRIGGER job_table_changed AFTER INSERT OR DELETE OR UPDATE OF jt_column_map, jt_filter, jt_transforms
	ON tributary.job_table FOR EACH STATEMENT EXECUTE FUNCTION tributary._job_changed();
/* job workers run with session_replication_role = replica: fire there too */
ALTER TABLE tributary.job ENABLE ALWAYS TRIGGER job_changed;
ALTER TABLE tributary.job_table ENABLE ALWAYS TRIGGER job_table_changed;

/* ------------------------------------------------------------------------
 * Helpers for the API
 * ------------------------------------------------------------------------ */

/*
 * _caller_is_superuser: whether the API's caller is a superuser.
 */
CREATE FUNCTION tributary._caller_is_superuser()
RETURNS boolean LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = tributary._api_caller()), false)
$$;

/*
 * _owned_job: the job called p_name, or an error naming it; the
 * API's caller must own it (be a member of its owner role, or a
 * superuser), as for any PostgreSQL object.
 */
CREATE FUNCTION tributary._owned_job(p_name text)
RETURNS tributary.job LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job;
BEGIN
	SELECT * INTO j FROM tributary.job WHERE job_name = p_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'job "%" does not exist', p_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'See the list of jobs with: SELECT job_name FROM tributary.jobs;';
	END IF;
	IF NOT pg_catalog.pg_has_role(tributary._api_caller(), j.job_owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of job "%"', p_name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = format('Job "%s" belongs to role %s; only its owner, members of that role and superusers may use it.',
								  p_name, quote_ident(j.job_owner::text));
	END IF;
	RETURN j;
END
$$;

/*
 * _owned_source: the source called p_name, or an error naming it; the
 * API's caller must own it: a source's credentials are its owner's, and
 * nobody else reaches the server through them.
 */
CREATE FUNCTION tributary._owned_source(p_name text)
RETURNS tributary.source LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s tributary.source;
BEGIN
	SELECT * INTO s FROM tributary.source WHERE source_name = p_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source "%" does not exist', p_name
			USING ERRCODE = 'undefined_object',
				  HINT = 'Define it with tributary.create_source().';
	END IF;
	IF NOT pg_catalog.pg_has_role(tributary._api_caller(), s.source_owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of source "%"', p_name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = format('Source "%s" belongs to role %s; only its owner, members of that role and superusers may use it.',
								  p_name, quote_ident(s.source_owner::text));
	END IF;
	RETURN s;
END
$$;

/*
 * _check_target_name: a target schema or table name must fit in a
 * PostgreSQL name (63 bytes), or PostgreSQL would truncate it and two
 * names could meet in one table.
 */
CREATE FUNCTION tributary._check_target_name(what text, p_name text)
RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF octet_length(p_name) > 63 THEN
		RAISE EXCEPTION 'target % name "%" is too long', what, p_name
			USING ERRCODE = 'name_too_long',
				  DETAIL = format('PostgreSQL names have at most 63 bytes; this one has %s.', octet_length(p_name)),
				  HINT = CASE what WHEN 'column' THEN 'Map the column to a shorter target name with add_table''s columns argument.'
							  ELSE 'Give a shorter target name with add_table''s target_table argument (or a name_rule).' END;
	END IF;
	IF what = 'schema' AND (p_name IN ('pg_catalog', 'information_schema', 'tributary') OR p_name ~ '^pg_(toast|temp)') THEN
		RAISE EXCEPTION 'target schema "%" is a system schema', p_name
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Jobs never write the tables of pg_catalog, information_schema, temporary schemas or pg_tributary''s own schema.',
				  HINT = 'Sync into a schema of your own.';
	END IF;
END
$$;

/*
 * _check_name: object names must be non-empty and of printable characters.
 */
CREATE FUNCTION tributary._check_name(what text, p_name text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
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
			/* one quote off each end of a quoted name (`a``` is a`) */
			parts := ARRAY[CASE WHEN m[1] LIKE '`%' THEN replace(substr(m[1], 2, length(m[1]) - 2), '``', '`') ELSE m[1] END,
						   CASE WHEN m[2] LIKE '`%' THEN replace(substr(m[2], 2, length(m[2]) - 2), '``', '`') ELSE m[2] END];
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
RETURNS text LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN opts ->> 'mysql_time' = 'interval' AND col ->> 'mysql_type' ~ '^time(\(\d\))?$'
				THEN 'interval' ELSE col ->> 'pg_type' END
$$;

CREATE FUNCTION tributary._check_remote_table(s tributary.source, mode text, nsp text, rel text, info jsonb)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	qname text := nsp || '.' || rel;
BEGIN
	IF info ->> 'table_type' = 'SYSTEM VERSIONED' THEN
		RAISE EXCEPTION 'source table [%] is system-versioned, which pg_tributary does not sync', qname
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Its binlog carries history rows and row_start/row_end periods, and its key includes row_end; only plain tables are synced exactly.',
				  HINT = 'Leave it out of the job (add_tables takes an exclude pattern), or remove versioning on the source (ALTER TABLE ... DROP SYSTEM VERSIONING).';
	END IF;
	IF jsonb_array_length(info -> 'key') = 0 THEN
		RAISE EXCEPTION 'source table [%] do not contain any primary key', qname
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'pg_tributary identifies rows by their primary key; a table without one cannot be synced exactly once.',
				  HINT = CASE s.source_kind
					WHEN 'postgresql' THEN format('Add a primary key on the source: ALTER TABLE %I.%I ADD PRIMARY KEY (...);', nsp, rel)
					ELSE format('Add a primary key on the source: ALTER TABLE `%s`.`%s` ADD PRIMARY KEY (...);', nsp, rel) END;
	END IF;
	IF info ->> 'persistence' = 't' THEN
		RAISE EXCEPTION 'source table [%] is a temporary table', qname
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'A temporary table is visible to its own session only.';
	END IF;
	IF info ->> 'persistence' = 'u' AND mode NOT IN ('full', 'incremental') THEN
		RAISE EXCEPTION 'source table [%] is unlogged, so change capture cannot see its changes', qname
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Changes to an unlogged table are not written to the write-ahead log, which logical decoding reads.',
				  HINT = format('On the source run ALTER TABLE %I.%I SET LOGGED; or copy the table with a full job.', nsp, rel);
	END IF;
	IF info ->> 'relkind' = 'p' AND mode NOT IN ('full', 'incremental') THEN
		IF s.source_options ->> 'decoder' = 'pgoutput' THEN
			RAISE EXCEPTION 'source table [%] is partitioned, which pgoutput cannot stream exactly', qname
				USING ERRCODE = 'feature_not_supported',
					  DETAIL = 'pgoutput does not send a TRUNCATE of a single partition, so the target would keep rows the source no longer has.',
					  HINT = 'Use tributary_decoder: list it in output_plugin_libraries on the source and set the source option decoder to auto.';
		END IF;
		IF jsonb_typeof(info -> 'partitions_not_full') = 'array' THEN
			RAISE EXCEPTION 'partition % of table [%] does not have replication identity full', info -> 'partitions_not_full' ->> 0, qname
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Each partition keeps its own replica identity, and full row images are needed to apply updates and deletes exactly.',
					  HINT = format('On the source run ALTER TABLE %s REPLICA IDENTITY FULL; for each partition (and for partitions created later).',
									info -> 'partitions_not_full' ->> 0);
		END IF;
	END IF;
	IF s.source_kind = 'mysql' AND mode NOT IN ('full', 'incremental') THEN
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
	IF s.source_kind = 'postgresql' AND mode NOT IN ('full', 'incremental') THEN
		IF info ->> 'wal_level' <> 'logical' THEN
			RAISE EXCEPTION 'source [%] wal level is %, should be set to logical', qname, info ->> 'wal_level'
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Change data capture reads the source''s write-ahead log through logical decoding.',
					  HINT = 'On the source run ALTER SYSTEM SET wal_level = logical; and restart it.';
		END IF;
		IF info ->> 'replident' <> 'f' AND info ->> 'relkind' <> 'p' THEN
			RAISE EXCEPTION 'table [%] replication identity is [%], should be set to full', qname, info ->> 'replident'
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Full row images are needed to apply updates and deletes exactly.',
					  HINT = format('On the source run ALTER TABLE %I.%I REPLICA IDENTITY FULL;', nsp, rel);
		END IF;
	END IF;
END
$$;


/*
 * _source_column: of copied columns ([{target, source|expr}]), the target
 * column whose expression is tributary.source_table() (or it cast to
 * text: a value that is exactly the source's name), which tells the rows
 * of merged source tables apart (merge.c); NULL if none.
 */
CREATE FUNCTION tributary._source_column(copied jsonb)
RETURNS text LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT c ->> 'target' FROM jsonb_array_elements(copied) WITH ORDINALITY AS x(c, o)
	 WHERE c ->> 'expr' ~* '^\s*"?tributary"?\s*\.\s*"?source_table"?\s*\(\s*\)\s*(::\s*(pg_catalog\s*\.\s*)?"?text"?\s*)?$'
	 ORDER BY o LIMIT 1
$$;

/*
 * _write_path: how the worker writes a target table (tributary.tables):
 * through the engine that owns it (a Citus distributed, reference or
 * local table: write_engine.c), into its heap, or into its partitions.
 * NULL when the table does not exist.
 */
CREATE FUNCTION tributary._write_path(nsp text, rel text)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r oid := to_regclass(format('%I.%I', nsp, rel));
	kind text;
BEGIN
	IF r IS NULL THEN
		RETURN NULL;
	END IF;
	IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
		EXECUTE 'SELECT CASE WHEN partmethod = ''h'' THEN ''distributed'' WHEN repmodel = ''t'' THEN ''reference'' '
				'ELSE ''local'' END FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1'
		   INTO kind USING r;
		IF kind IS NOT NULL THEN
			RETURN 'citus ' || kind || ' table, through the engine';
		END IF;
	END IF;
	RETURN CASE (SELECT relkind FROM pg_class WHERE oid = r) WHEN 'p' THEN 'heap, routed to partitions' ELSE 'heap' END;
END
$$;
