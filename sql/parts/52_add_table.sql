
/*
 * _add_table_columns: the source columns of a table description with this
 * database's spelling of their types ([{name, type}], type null where this
 * database has no such type): what transforms see and target tables are
 * built from, never the text the source sent.
 */
CREATE FUNCTION tributary._add_table_columns(info jsonb, opts jsonb)
RETURNS jsonb LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('name', c ->> 'name',
			'type', tributary._canonical_type(tributary._target_type(c, opts), c ->> 'type_schema'),
			'source_type', tributary._target_type(c, opts)) ORDER BY o), '[]')
	  FROM jsonb_array_elements(info -> 'columns') WITH ORDINALITY AS x(c, o)
$$;

/*
 * add_table: add one source table to a job, mapped to one target table.
 * Connects to the source to check the table's prerequisites and read its
 * definition; creates the target table when it is missing (create_tables),
 * as the job's owner, else checks that its columns fit the mapping and
 * that the owner may write it.  Column expressions and the filter are
 * checked here (transform.c) and evaluated on the target.
 */
CREATE FUNCTION tributary._api_add_table(job_name text, source_table text, target_table text,
										 columns jsonb, filter text)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
	s tributary.source;
	opts jsonb;
	src record;
	src_name text;
	tgt_nsp text;
	tgt_rel text;
	tparts text[];
	info jsonb;
	srccols jsonb;
	col jsonb;
	keycols text[];
	k text;
	mapped_sources text[];
	tgt_oid oid;
	id integer;
	coldefs text[] := '{}';
	cmap jsonb := columns;
	copied jsonb;
	checked jsonb;
	transformed boolean;
	m record;
BEGIN
	SELECT * INTO s FROM tributary.source WHERE source_id = j.job_source_id;
	opts := tributary._effective_options(j.job_options);
	src := tributary._split_table_name(s.source_kind, source_table);
	src_name := src.nsp || '.' || src.rel;

	IF EXISTS (SELECT 1 FROM tributary.job_table
				WHERE jt_job_id = j.job_id AND jt_source_schema = src.nsp AND jt_source_rel = src.rel) THEN
		RAISE EXCEPTION 'source table [%] is already part of job "%"', src_name, j.job_name
			USING ERRCODE = 'duplicate_object';
	END IF;

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
	PERFORM tributary._check_target_name('schema', tgt_nsp);
	PERFORM tributary._check_target_name('table', tgt_rel);

	IF EXISTS (SELECT 1 FROM tributary.job_table t
				WHERE t.jt_target_schema = tgt_nsp AND t.jt_target_rel = tgt_rel
				  AND t.jt_job_id <> j.job_id) THEN
		RAISE EXCEPTION 'target table %.% is already written by job "%"', quote_ident(tgt_nsp), quote_ident(tgt_rel),
			(SELECT jj.job_name FROM tributary.job_table t JOIN tributary.job jj ON jj.job_id = t.jt_job_id
			  WHERE t.jt_target_schema = tgt_nsp AND t.jt_target_rel = tgt_rel LIMIT 1)
			USING ERRCODE = 'duplicate_object',
				  DETAIL = 'A target table can be synced by one job only.';
	END IF;

	/* the source table: exists, has a primary key, has full row images */
	info := tributary._remote_table_info(s.source_name, src.nsp, src.rel);
	PERFORM tributary._check_remote_table(s, j.job_mode, src.nsp, src.rel, info);
	SELECT array_agg(x ORDER BY o) INTO keycols
	  FROM jsonb_array_elements_text(info -> 'key') WITH ORDINALITY AS e(x, o);
	srccols := tributary._add_table_columns(info, opts);

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
							  DETAIL = format('Source table [%s] has primary key (%s).', src_name, array_to_string(keycols, ', ')),
							  HINT = 'Map the primary key column to a target column.';
				END IF;
				IF tgt_oid IS NOT NULL AND NOT EXISTS (
					SELECT 1 FROM pg_attribute WHERE attrelid = tgt_oid AND attname = k
					   AND attnum > 0 AND NOT attisdropped) THEN
					RAISE EXCEPTION 'source primary key column "%" is not mapped and target table %.% has no column "%"',
						k, quote_ident(tgt_nsp), quote_ident(tgt_rel), k
						USING ERRCODE = 'invalid_column_reference',
							  DETAIL = format('Source table [%s] has primary key (%s).', src_name, array_to_string(keycols, ', ')),
							  HINT = 'Map the primary key column to a target column.';
				END IF;
				cmap := cmap || jsonb_build_object(k, k);
			END IF;
		END LOOP;
	END IF;

	/* every mapped source column exists on the source (expressions are checked below) */
	IF cmap IS NOT NULL THEN
		FOR m IN SELECT * FROM jsonb_each_text(cmap) LOOP
			IF m.value ~ '^[[:alpha:]_][[:alnum:]_$]*$'
			   AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(info -> 'columns') c
								WHERE c ->> 'name' = m.value) THEN
				RAISE EXCEPTION 'source table [%] has no column "%"', src_name, m.value
					USING ERRCODE = 'undefined_column',
						  DETAIL = format('Target column "%s" is mapped to it.', m.key);
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
	FOR m IN SELECT c ->> 'target' AS tcol FROM jsonb_array_elements(copied) c LOOP
		PERFORM tributary._check_target_name('column', m.tcol);
	END LOOP;

	/* filters and expression columns: checked and typed on the target, as the owner */
	transformed := filter IS NOT NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements(copied) c WHERE c ? 'expr');
	IF transformed AND j.job_mode <> 'full' THEN
		RAISE EXCEPTION 'source table [%] has a row filter or expression columns, which change capture does not apply yet', src_name
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = format('Job "%s" has mode %s; only full jobs evaluate filters and expressions for now.', j.job_name, j.job_mode),
				  HINT = 'Map plain columns only, or copy the table with a full job.';
	END IF;
	IF transformed THEN
		checked := tributary._transform_check(srccols, copied, filter, tgt_oid::regclass, j.job_owner, src_name);
	END IF;

	IF tgt_oid IS NULL THEN
		IF NOT (opts -> 'create_tables')::boolean THEN
			RAISE EXCEPTION 'target table %.% does not exist', quote_ident(tgt_nsp), quote_ident(tgt_rel)
				USING ERRCODE = 'undefined_table',
					  HINT = 'Create it, or set the job option create_tables to true.';
		END IF;
		/* build the target from the source definition, as the job's owner */
		FOR m IN SELECT c ->> 'target' AS tcol, c ->> 'source' AS scol FROM jsonb_array_elements(copied) c LOOP
			IF m.scol IS NOT NULL THEN
				SELECT c INTO col FROM jsonb_array_elements(srccols) c WHERE c ->> 'name' = m.scol;
				IF col ->> 'type' IS NULL THEN
					RAISE EXCEPTION 'source column "%" of [%] has type %, which this database does not have',
						m.scol, src_name, col ->> 'source_type'
						USING ERRCODE = 'undefined_object',
							  HINT = 'Create the type here first, or create the target table yourself.';
				END IF;
				coldefs := coldefs || format('%I %s', m.tcol, col ->> 'type');
			ELSE
				coldefs := coldefs || format('%I %s', m.tcol, checked -> 'types' ->> m.tcol);
			END IF;
		END LOOP;
		coldefs := coldefs || format('PRIMARY KEY (%s)', (
			SELECT string_agg(quote_ident(coalesce(
				(SELECT mk.key FROM jsonb_each_text(cmap) mk WHERE mk.value = kc LIMIT 1), kc)), ', ' ORDER BY o)
			  FROM unnest(keycols) WITH ORDINALITY u(kc, o)));
		IF to_regnamespace(quote_ident(tgt_nsp)) IS NULL THEN
			PERFORM tributary._exec_as(j.job_owner, format('CREATE SCHEMA %I', tgt_nsp));
		END IF;
		PERFORM tributary._exec_as(j.job_owner,
			format('CREATE TABLE %I.%I (%s)', tgt_nsp, tgt_rel, array_to_string(coldefs, ', ')));
		RAISE NOTICE 'created target table %.%', quote_ident(tgt_nsp), quote_ident(tgt_rel);
		tgt_oid := to_regclass(format('%I.%I', tgt_nsp, tgt_rel));
	ELSE
		/* an existing target must have every mapped column */
		FOR m IN SELECT c ->> 'target' AS tcol FROM jsonb_array_elements(copied) c LOOP
			IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tgt_oid AND attname = m.tcol
							 AND attnum > 0 AND NOT attisdropped) THEN
				RAISE EXCEPTION 'target table %.% has no column "%"', quote_ident(tgt_nsp), quote_ident(tgt_rel), m.tcol
					USING ERRCODE = 'undefined_column',
						  HINT = 'Add the column to the target table, or map the columns with the columns argument.';
			END IF;
		END LOOP;
	END IF;
	/* the owner may write the target: a table of its own kind, privileges, no row security */
	PERFORM tributary._check_target(tgt_oid::regclass, j.job_owner, j.job_mode, j.job_name);
	IF transformed THEN
		checked := tributary._transform_check(srccols, copied, filter, tgt_oid::regclass, j.job_owner, src_name);
	END IF;

	INSERT INTO tributary.job_table (jt_job_id, jt_source_schema, jt_source_rel, jt_target_schema,
									 jt_target_rel, jt_column_map, jt_filter, jt_key_columns, jt_columns,
									 jt_read_columns)
	VALUES (j.job_id, src.nsp, src.rel, tgt_nsp, tgt_rel, cmap, filter, keycols, copied,
			checked -> 'read')
	RETURNING jt_id INTO id;
	PERFORM tributary._record_job_version(j.job_id, 'add_table ' || src_name);
	/* a running job picks the table up at once: its worker is replaced, copies
	 * the new table and catches up, then streams all its tables */
	UPDATE tributary.job SET job_generation = job_generation + 1
	 WHERE job_id = j.job_id AND job_state = 'running';
	RETURN id;
END
$$;
