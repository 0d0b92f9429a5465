
/*
 * start_job: mark a job to run; the launcher starts its worker when this
 * transaction commits.  Refuses a job that cannot work: tables whose
 * source lost a prerequisite, targets the owner may not write.
 */
CREATE FUNCTION tributary._api_start_job(job_name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
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
		IF to_regclass(format('%I.%I', t.jt_target_schema, t.jt_target_rel)) IS NOT NULL THEN
			PERFORM tributary._check_target(format('%I.%I', t.jt_target_schema, t.jt_target_rel)::regclass,
											j.job_owner, j.job_mode, j.job_name);
		END IF;
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
CREATE FUNCTION tributary._api_stop_job(job_name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
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
CREATE FUNCTION tributary._api_restart_job(job_name text, from_checkpoint boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
BEGIN
	IF NOT from_checkpoint THEN
		IF j.job_slot IS NOT NULL THEN
			PERFORM tributary._drop_job_slot(j.job_id);
		END IF;
		UPDATE tributary.job SET job_slot = NULL, job_decoder = NULL, job_stream_start = NULL,
			   job_catchup_until = NULL
		 WHERE job_id = j.job_id;
		DELETE FROM tributary.checkpoint WHERE cp_job_id = j.job_id;
		DELETE FROM tributary.table_state
		 WHERE ts_jt_id IN (SELECT jt_id FROM tributary.job_table WHERE jt_job_id = j.job_id);
		DELETE FROM tributary.sync_change
		 WHERE sc_jt_id IN (SELECT jt_id FROM tributary.job_table WHERE jt_job_id = j.job_id);
		UPDATE tributary.job_table
		   SET jt_state = 'init', jt_rows_copied = 0, jt_chunks_done = 0, jt_chunks_total = NULL,
			   jt_incremental_last = NULL
		 WHERE jt_job_id = j.job_id;
	END IF;
	IF j.job_state <> 'running' THEN
		PERFORM tributary._api_start_job(job_name);
	END IF;
	UPDATE tributary.job SET job_generation = job_generation + 1, job_enabled_at = now()
	 WHERE job_id = j.job_id;
END
$$;

/*
 * _add_matching_tables: add every source table of job j whose qualified
 * name ("schema.table" or "database.table") matches the regular
 * expression source_pattern (anchored at both ends) and not exclude, and
 * is not in the job yet, each with add_table.  The target schema is
 * target_schema, else the job's target_schema, else the source's schema or
 * database name.  The target table name follows name_rule, as the seeds'
 * name-mapping rules do:
 *	"pattern => replacement"	the source table name rewritten with a
 *							regular expression (\1 for groups), e.g.
 *							'doc_(.*) => pre_\1'
 *	${db_table_name_src_transed} (or ${table})	the rewritten name (the
 *							source name without a rewrite), ${db_name_src_transed}
 *							(or ${schema}) the target schema, ${ds_name_src} (or
 *							${source}) the source's name; text around them is
 *							kept: 'pre_${table}_post'
 * Both may be combined: 'doc_(.*) => ${ds_name_src}_\1'.  Several source
 * tables into one target table (a rewrite such as 'orders_[0-9]+ =>
 * orders_all') are merged when merge is true, else refused as add_table
 * refuses them (source_column: add_table's).  Returns
 * the number of tables added.  A table add_table refuses fails the call,
 * unless rule_id names the followed rule being applied: then the refusal
 * is remembered in the rule (nr_refused: it is not tried again), warned
 * about and recorded in tributary.errors, and the other tables go on;
 * errors that may pass (connection, locks, resources, cancels) are
 * raised all the same, to be tried again.
 */
/*
 * _name_expand: a name template with its ${variables} replaced from vars
 * (a JSON object of variable names to values); a variable vars does not
 * have is an error naming it (what: where the template comes from).
 */
CREATE FUNCTION tributary._name_expand(template text, vars jsonb, what text)
RETURNS text LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m text[];
	result text := template;
BEGIN
	FOR m IN SELECT regexp_matches(template, '\$\{([^}]*)\}', 'g') LOOP
		IF NOT vars ? m[1] THEN
			RAISE EXCEPTION 'unknown variable "${%}" in %', m[1], what
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Variables here are: ' || (SELECT string_agg('${' || k || '}', ', ' ORDER BY k) FROM jsonb_object_keys(vars) k) || '.';
		END IF;
		result := replace(result, '${' || m[1] || '}', vars ->> m[1]);
	END LOOP;
	RETURN result;
END
$$;

/*
 * _name_rewrite: a name rewritten by a rule 'pattern => replacement' (the
 * pattern anchored at both ends; \1 ... in the replacement).
 */
CREATE FUNCTION tributary._name_rewrite(name text, rule text)
RETURNS text LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT regexp_replace(name, '^(?:' || btrim(split_part(rule, '=>', 1)) || ')$',
						  btrim(substr(rule, strpos(rule, '=>') + 2)))
$$;

CREATE FUNCTION tributary._add_matching_tables(j tributary.job, source_pattern text, target_schema text,
											   name_rule text, exclude text, rule_id integer,
											   merge boolean, source_column text)
RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s tributary.source;
	opts jsonb := tributary._effective_options(j.job_options);
	r record;
	tgt_schema text;
	tgt_name text;
	schema_rule text := coalesce(target_schema, opts ->> 'target_schema');
	rule jsonb;
	transed text;
	template text;
	vars jsonb;
	refused text[];
	n integer := 0;
	msg text;
	det text;
BEGIN
	SELECT * INTO s FROM tributary.source WHERE source_id = j.job_source_id;
	IF source_pattern IS NULL OR source_pattern = '' THEN
		RAISE EXCEPTION 'source_pattern must be a regular expression'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF rule_id IS NOT NULL THEN
		SELECT nr_refused INTO refused FROM tributary.name_rule WHERE nr_id = rule_id;
	END IF;
	/*
	 * the name rule: 'pattern => replacement' (a rewrite of the source
	 * table name), a template, or the seed's two steps as JSON: {"table":
	 * rewrite, "name": template using ${db_table_name_src_transed}}
	 */
	IF btrim(name_rule) LIKE '{%' THEN
		BEGIN
			rule := name_rule::jsonb;
		EXCEPTION WHEN invalid_text_representation THEN
			rule := NULL;
		END;
		IF rule IS NULL OR jsonb_typeof(rule) <> 'object' OR EXISTS (SELECT 1 FROM jsonb_object_keys(rule) k WHERE k NOT IN ('table', 'name'))
		   OR (rule ? 'table' AND (coalesce(rule ->> 'table', '') NOT LIKE '%=>%' OR rule ->> 'table' LIKE '%${%')) THEN
			RAISE EXCEPTION 'invalid name_rule %', name_rule
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A JSON name rule has "table" (a rewrite, ''pattern => replacement'', without variables) and "name" (a template), both optional.',
					  HINT = 'In JSON a backslash is written twice: {"table": "doc_(.*) => \\1"}.';
		END IF;
	ELSIF name_rule LIKE '%=>%' AND name_rule ~ '\$\{(table|db_table_name_src_transed)\}' THEN
		RAISE EXCEPTION 'name_rule % uses the rewritten name inside the rewrite itself', name_rule
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give the rewrite and the template apart: {"table": "doc_(.*) => \1", "name": "pre_${db_table_name_src_transed}_post"}.';
	END IF;
	/* variables checked now, not at the first table a followed rule matches */
	vars := jsonb_build_object('db_name_src', '', 'ds_name_src', '', 'source', '');
	IF schema_rule IS NOT NULL THEN
		PERFORM tributary._name_expand(schema_rule, vars, 'target_schema');
	END IF;
	IF name_rule IS NOT NULL THEN
		PERFORM tributary._name_expand(CASE WHEN rule IS NULL THEN name_rule ELSE coalesce(rule ->> 'name', '') END,
									   vars || jsonb_build_object('db_table_name_src', '', 'db_table_name_src_transed', '',
																  'table', '', 'db_name_src_transed', '', 'schema', ''),
									   'name_rule');
	END IF;
	FOR r IN SELECT t.schema_name, t.table_name FROM tributary._remote_tables(s.source_name) t
			  WHERE (t.schema_name || '.' || t.table_name) ~ ('^(?:' || source_pattern || ')$')
			    AND (exclude IS NULL OR NOT (t.schema_name || '.' || t.table_name) ~ ('^(?:' || exclude || ')$'))
			    AND NOT EXISTS (SELECT 1 FROM tributary.job_table jt WHERE jt.jt_job_id = j.job_id
			                       AND jt.jt_source_schema = t.schema_name AND jt.jt_source_rel = t.table_name)
			    AND NOT (t.schema_name || '.' || t.table_name) = ANY (coalesce(refused, '{}'))
			  ORDER BY 1, 2 LOOP
		/* the target schema: the source's, a name, a template, or a rewrite of the source's */
		vars := jsonb_build_object('db_name_src', r.schema_name, 'ds_name_src', s.source_name, 'source', s.source_name);
		tgt_schema := CASE WHEN schema_rule IS NULL THEN r.schema_name
						   WHEN schema_rule LIKE '%=>%'
						   THEN tributary._name_expand(tributary._name_rewrite(r.schema_name, schema_rule), vars, 'target_schema')
						   ELSE tributary._name_expand(schema_rule, vars, 'target_schema') END;
		/* the target table: the source table's name rewritten, then the template */
		IF rule IS NOT NULL THEN
			transed := CASE WHEN rule ? 'table' THEN tributary._name_rewrite(r.table_name, rule ->> 'table') ELSE r.table_name END;
			template := coalesce(rule ->> 'name', '${db_table_name_src_transed}');
		ELSIF name_rule LIKE '%=>%' THEN
			transed := tributary._name_rewrite(r.table_name, name_rule);
			template := transed;
		ELSE
			transed := r.table_name;
			template := coalesce(name_rule, r.table_name);
		END IF;
		vars := vars || jsonb_build_object('db_table_name_src', r.table_name,
										   'db_table_name_src_transed', transed, 'table', transed,
										   'db_name_src_transed', tgt_schema, 'schema', tgt_schema);
		tgt_name := CASE WHEN name_rule IS NULL THEN r.table_name
						 ELSE tributary._name_expand(template, vars, 'name_rule') END;
		BEGIN
			PERFORM tributary._api_add_table(j.job_name,
				CASE s.source_kind WHEN 'postgresql' THEN format('%I.%I', r.schema_name, r.table_name)
					 ELSE '`' || replace(r.schema_name, '`', '``') || '`.`' || replace(r.table_name, '`', '``') || '`' END,
				format('%I.%I', tgt_schema, tgt_name), NULL, NULL, NULL, merge, source_column);
			n := n + 1;
		EXCEPTION WHEN OTHERS THEN
			/*
			 * a refusal is remembered; what may pass (a lost connection,
			 * a lock or resource shortage, a cancel) is raised, and the
			 * next look tries again
			 */
			IF rule_id IS NULL OR left(SQLSTATE, 2) IN ('08', '40', '53', '57', '58', 'XX')
			   OR SQLSTATE IN ('55P03', '55006') THEN
				RAISE;
			END IF;
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
			UPDATE tributary.name_rule SET nr_refused = coalesce(nr_refused, '{}') || (r.schema_name || '.' || r.table_name)
			 WHERE nr_id = rule_id;
			INSERT INTO tributary.error_log (err_job_id, err_run_id, err_sqlstate, err_message, err_detail)
			VALUES (j.job_id, (SELECT max(run_id) FROM tributary.run WHERE run_job_id = j.job_id), '01000',
					format('source table [%s.%s] matches followed pattern "%s" of job "%s" but was not added: %s',
						   r.schema_name, r.table_name, source_pattern, j.job_name, msg),
					nullif(det, ''));
			RAISE WARNING 'source table [%.%] matches followed pattern "%" of job "%" but was not added: %',
				r.schema_name, r.table_name, source_pattern, j.job_name, msg
				USING HINT = 'Fix the table on the source and call tributary.add_table() for it.';
		END;
	END LOOP;
	RETURN n;
END
$$;

/*
 * add_tables: _add_matching_tables for the caller's job; with follow, the
 * rule is kept (tributary.name_rule) and the job's worker adds the tables
 * created later that match it (follow_tables).
 */
CREATE FUNCTION tributary._api_add_tables(job_name text, source_pattern text, target_schema text,
										  name_rule text, exclude text, follow boolean,
										  merge boolean, source_column text)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
	n integer;
BEGIN
	n := tributary._add_matching_tables(j, source_pattern, target_schema, name_rule, exclude, NULL,
										merge, source_column);
	IF follow AND NOT EXISTS (SELECT 1 FROM tributary.name_rule r
							   WHERE r.nr_job_id = j.job_id AND r.nr_source_pattern = _api_add_tables.source_pattern
								 AND r.nr_target_schema IS NOT DISTINCT FROM _api_add_tables.target_schema
								 AND r.nr_name_rule IS NOT DISTINCT FROM _api_add_tables.name_rule
								 AND r.nr_exclude IS NOT DISTINCT FROM _api_add_tables.exclude) THEN
		INSERT INTO tributary.name_rule (nr_job_id, nr_source_pattern, nr_target_schema, nr_name_rule, nr_exclude,
										 nr_merge, nr_source_column)
		VALUES (j.job_id, _api_add_tables.source_pattern, _api_add_tables.target_schema,
				_api_add_tables.name_rule, _api_add_tables.exclude, coalesce(_api_add_tables.merge, false),
				_api_add_tables.source_column);
		PERFORM tributary._record_job_version(j.job_id, 'add_tables ' || source_pattern || ' (followed)');
	END IF;
	IF n = 0 THEN
		RAISE NOTICE 'no source table of "%" matches "%"',
			(SELECT source_name FROM tributary.source WHERE source_id = j.job_source_id), source_pattern;
	END IF;
	RETURN n;
END
$$;

/*
 * follow_tables: add the source tables that match a followed rule of the
 * job (add_tables(..., follow => true)) and are not in it yet.  The job's
 * worker calls it every heartbeat_interval and before wait_for_sync
 * answers; a table added to a running job makes the launcher replace its
 * worker, which copies the table and streams it with the others.
 */
CREATE FUNCTION tributary._api_follow_tables(job_name text)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
	r tributary.name_rule;
	n integer := 0;
BEGIN
	FOR r IN SELECT * FROM tributary.name_rule WHERE nr_job_id = j.job_id ORDER BY nr_id LOOP
		n := n + tributary._add_matching_tables(j, r.nr_source_pattern, r.nr_target_schema, r.nr_name_rule,
												 r.nr_exclude, r.nr_id, r.nr_merge, r.nr_source_column);
	END LOOP;
	RETURN n;
END
$$;

/*
 * unfollow_tables: forget the job's followed rules of source_pattern (all
 * of them when NULL); the tables they added stay.  Returns how many.
 */
CREATE FUNCTION tributary._api_unfollow_tables(job_name text, source_pattern text)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
	n integer;
BEGIN
	DELETE FROM tributary.name_rule
	 WHERE nr_job_id = j.job_id AND (source_pattern IS NULL OR nr_source_pattern = source_pattern);
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM tributary._record_job_version(j.job_id, 'unfollow_tables ' || coalesce(source_pattern, '(all)'));
	END IF;
	RETURN n;
END
$$;

/*
 * _job_table_of: the job_table row of a job's source table (as the user
 * names it), locked, or an error naming it.
 */
CREATE FUNCTION tributary._job_table_of(j tributary.job, source_table text)
RETURNS tributary.job_table LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	src record;
	t tributary.job_table;
BEGIN
	src := tributary._split_table_name((SELECT source_kind FROM tributary.source WHERE source_id = j.job_source_id),
									   source_table);
	SELECT * INTO t FROM tributary.job_table
	 WHERE jt_job_id = j.job_id AND jt_source_schema = src.nsp AND jt_source_rel = src.rel
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'source table [%] is not part of job "%"', src.nsp || '.' || src.rel, j.job_name
			USING ERRCODE = 'undefined_table',
				  HINT = 'tributary.tables lists the tables of each job.';
	END IF;
	RETURN t;
END
$$;

/*
 * _copy_table_again: job table p_jt_id is copied again by its job's next
 * run, before it streams: its chunks and the changes kept for a copy
 * while streaming are forgotten, jt_state goes back to 'init' (with
 * forget_source, what the job knew of the source table's leaves and
 * identity too), and a running job's worker is replaced.  Used by
 * resync_table, and by the worker (ddl.c, table_sync.c) as the catalog's
 * owner.
 */
CREATE FUNCTION tributary._copy_table_again(p_jt_id integer, forget_source boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	DELETE FROM tributary.table_state WHERE ts_jt_id = p_jt_id;
	DELETE FROM tributary.sync_change WHERE sc_jt_id = p_jt_id;
	UPDATE tributary.job_table
	   SET jt_state = 'init', jt_rows_copied = 0, jt_chunks_done = 0, jt_chunks_total = NULL,
		   jt_source_parts = CASE WHEN forget_source THEN NULL ELSE jt_source_parts END,
		   jt_source_oid = CASE WHEN forget_source THEN NULL ELSE jt_source_oid END,
		   jt_incremental_last = NULL
	 WHERE jt_id = p_jt_id;
	UPDATE tributary.job SET job_generation = job_generation + 1, job_enabled_at = now()
	 WHERE job_id = (SELECT jt_job_id FROM tributary.job_table WHERE jt_id = p_jt_id)
	   AND job_state = 'running';
END
$$;

/*
 * resync_table: copy one table of a job again.  Its target is emptied and
 * copied anew in chunks.  A running full+cdc job whose tables are all
 * copied does it while it streams (jt_state 'resync', table_sync.c): the
 * worker notices the request within a second, copies the table in a
 * source view of its own between stream transactions, keeps the table's
 * changes meanwhile and applies them when the copy is in; the other
 * tables never stop.  Otherwise (a job not running, or still copying its
 * tables) the table is copied by the job's next run: at once when the job
 * is running, whose worker restarts, copies the table in a new source view
 * and resumes the stream from its checkpoint, idempotently up to that
 * view.  A finished full job is started again for it.
 */
CREATE FUNCTION tributary._api_resync_table(job_name text, source_table text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
	t tributary.job_table := tributary._job_table_of(j, source_table);
BEGIN
	IF j.job_mode = 'cdc' THEN
		RAISE EXCEPTION 'job "%" does not copy tables (mode cdc)', j.job_name
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Copy the table by other means, or use a full+cdc job.';
	END IF;
	IF tributary._source_column(t.jt_columns) IS NULL AND EXISTS (
		SELECT 1 FROM tributary.job_table o
		 WHERE o.jt_job_id = j.job_id AND o.jt_id <> t.jt_id
		   AND o.jt_target_schema = t.jt_target_schema AND o.jt_target_rel = t.jt_target_rel) THEN
		RAISE EXCEPTION 'cannot copy source table [%.%] again alone: target table %.% merges several source tables and cannot tell their rows apart',
			t.jt_source_schema, t.jt_source_rel, quote_ident(t.jt_target_schema), quote_ident(t.jt_target_rel)
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Emptying the target of this source''s rows would empty it of the others'' too.',
				  HINT = format('Copy all of them again with tributary.restart_job(%L, false), or merge with a source_column.', j.job_name);
	END IF;
	PERFORM tributary._record_job_version(j.job_id, 'resync_table ' || t.jt_source_schema || '.' || t.jt_source_rel);
	IF j.job_state = 'running' AND j.job_mode = 'full+cdc' AND j.job_slot IS NOT NULL
	   AND NOT EXISTS (SELECT 1 FROM tributary.job_table o
						WHERE o.jt_job_id = j.job_id AND o.jt_state IN ('init', 'snapshot')) THEN
		/* the worker copies it while the other tables stream; it plans the copy */
		UPDATE tributary.job_table SET jt_state = 'resync' WHERE jt_id = t.jt_id;
		RETURN;
	END IF;
	PERFORM tributary._copy_table_again(t.jt_id, false);
	IF j.job_mode = 'full' AND j.job_state = 'finished' THEN
		PERFORM tributary._api_start_job(job_name);
	END IF;
END
$$;

/*
 * drop_job: remove a job, its tables, positions and history, and its
 * replication slot on the source (a warning says how to drop it by hand
 * when the source cannot be reached).  A running worker is stopped by the
 * launcher once this commits.
 */
CREATE FUNCTION tributary._api_drop_job(job_name text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
BEGIN
	IF j.job_slot IS NOT NULL THEN
		PERFORM tributary._drop_job_slot(j.job_id);
	END IF;
	DELETE FROM tributary.job_version WHERE jv_job_id = j.job_id;
	DELETE FROM tributary.job WHERE job_id = j.job_id;
END
$$;

/*
 * remove_table: take a table out of a job, running or stopped.  Its
 * copy progress goes with it; a running job's worker is replaced and
 * streams the other tables on from its checkpoint.  drop_target drops the
 * target table too, as the job's owner (a table other objects depend on
 * is not dropped: the error says which); a target other source tables of
 * the job are merged into stays, without this source's rows when a column
 * tells sources apart (merge.c).
 */
CREATE FUNCTION tributary._api_remove_table(job_name text, source_table text, drop_target boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
	t tributary.job_table := tributary._job_table_of(j, source_table);
	srccol text;
BEGIN
	DELETE FROM tributary.job_table WHERE jt_id = t.jt_id;
	IF drop_target AND EXISTS (SELECT 1 FROM tributary.job_table o
								WHERE o.jt_job_id = j.job_id AND o.jt_target_schema = t.jt_target_schema
								  AND o.jt_target_rel = t.jt_target_rel) THEN
		srccol := tributary._source_column(t.jt_columns);
		IF srccol IS NOT NULL AND to_regclass(format('%I.%I', t.jt_target_schema, t.jt_target_rel)) IS NOT NULL THEN
			PERFORM tributary._exec_as(j.job_owner, format('DELETE FROM %I.%I WHERE %I = %L', t.jt_target_schema,
								t.jt_target_rel, srccol, t.jt_source_schema || '.' || t.jt_source_rel));
		END IF;
		RAISE NOTICE 'target table %.% is kept: other source tables of job "%" are merged into it',
			quote_ident(t.jt_target_schema), quote_ident(t.jt_target_rel), j.job_name
			USING DETAIL = CASE WHEN srccol IS NOT NULL THEN format('The rows of source table [%s.%s] were deleted from it.', t.jt_source_schema, t.jt_source_rel)
								ELSE format('Its rows of source table [%s.%s] cannot be told apart from the others'' and stay.', t.jt_source_schema, t.jt_source_rel) END;
	ELSIF drop_target AND to_regclass(format('%I.%I', t.jt_target_schema, t.jt_target_rel)) IS NOT NULL THEN
		PERFORM tributary._exec_as(j.job_owner, format('DROP TABLE %I.%I', t.jt_target_schema, t.jt_target_rel));
	END IF;
	PERFORM tributary._record_job_version(j.job_id, 'remove_table ' || t.jt_source_schema || '.' || t.jt_source_rel);
	UPDATE tributary.job SET job_generation = job_generation + 1
	 WHERE job_id = j.job_id AND job_state = 'running';
END
$$;
