
/*
 * _add_table_columns: the source columns of a table description with this
 * database's spelling of their types ([{name, type}], type null where this
 * database has no such type): what transforms see and target tables are
 * built from, never the text the source sent.  A PostgreSQL source's
 * column defaults come along (as expression text, checked where used).
 */
CREATE FUNCTION tributary._add_table_columns(info jsonb, opts jsonb)
RETURNS jsonb LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('name', c ->> 'name',
			'type', tributary._canonical_type(tributary._target_type(c, opts), c ->> 'type_schema'),
			'source_type', tributary._target_type(c, opts),
			'not_null', coalesce((c ->> 'not_null')::boolean, false),
			'collation', c ->> 'collation',
			'default', CASE WHEN c ? 'type_oid' THEN c ->> 'default' END) ORDER BY o), '[]')
	  FROM jsonb_array_elements(info -> 'columns') WITH ORDINALITY AS x(c, o)
$$;

/*
 * _add_table_target: the target table's schema and name for a source
 * table: target_table as given (table or schema.table), else the source's
 * name in the job's target_schema (else the source's schema).  Checks the
 * names and that no other job writes that table.
 */
CREATE FUNCTION tributary._add_table_target(j tributary.job, opts jsonb, src_nsp text, src_rel text,
											target_table text, OUT nsp text, OUT rel text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	tparts text[];
	other text;
BEGIN
	nsp := coalesce(opts ->> 'target_schema', src_nsp);
	rel := src_rel;
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
			nsp := tparts[1];
		END IF;
		rel := tparts[array_length(tparts, 1)];
	END IF;
	PERFORM tributary._check_target_name('schema', nsp);
	PERFORM tributary._check_target_name('table', rel);

	SELECT jj.job_name INTO other
	  FROM tributary.job_table t JOIN tributary.job jj ON jj.job_id = t.jt_job_id
	 WHERE t.jt_target_schema = nsp AND t.jt_target_rel = rel AND t.jt_job_id <> j.job_id
	 LIMIT 1;
	IF other IS NOT NULL THEN
		RAISE EXCEPTION 'target table %.% is already written by job "%"', quote_ident(nsp), quote_ident(rel), other
			USING ERRCODE = 'duplicate_object',
				  DETAIL = 'A target table can be synced by one job only.';
	END IF;
END
$$;

/*
 * _add_table_mapping: the column mapping (target column -> source column
 * or expression) checked against the source table: a non-empty object of
 * non-empty strings, every plain source column exists, and (seed 000's
 * rule) a key column left out maps to the same-named target column.  NULL
 * (every column by its own name) stays NULL.
 */
CREATE FUNCTION tributary._add_table_mapping(cmap jsonb, info jsonb, keycols text[], tgt_oid oid,
											 src_name text, tgt_name text)
RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	m record;
	k text;
	mapped_sources text[];
BEGIN
	IF cmap IS NULL THEN
		RETURN NULL;
	END IF;
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

	FOREACH k IN ARRAY keycols LOOP
		CONTINUE WHEN k = ANY (mapped_sources);
		IF cmap ? k THEN
			RAISE EXCEPTION 'source primary key column "%" is not mapped, and target column "%" is mapped to another source', k, k
				USING ERRCODE = 'invalid_column_reference',
					  DETAIL = format('Source table [%s] has primary key (%s).', src_name, array_to_string(keycols, ', ')),
					  HINT = 'Map the primary key column to a target column.';
		END IF;
		IF tgt_oid IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM pg_attribute WHERE attrelid = tgt_oid AND attname = k
			   AND attnum > 0 AND NOT attisdropped) THEN
			RAISE EXCEPTION 'source primary key column "%" is not mapped and target table % has no column "%"',
				k, tgt_name, k
				USING ERRCODE = 'invalid_column_reference',
					  DETAIL = format('Source table [%s] has primary key (%s).', src_name, array_to_string(keycols, ', ')),
					  HINT = 'Map the primary key column to a target column.';
		END IF;
		cmap := cmap || jsonb_build_object(k, k);
	END LOOP;

	/* every mapped plain source column exists (expressions are checked by _transform_check) */
	FOR m IN SELECT * FROM jsonb_each_text(cmap) LOOP
		IF m.value ~ '^[[:alpha:]_][[:alnum:]_$]*$'
		   AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(info -> 'columns') c
							WHERE c ->> 'name' = m.value) THEN
			RAISE EXCEPTION 'source table [%] has no column "%"', src_name, m.value
				USING ERRCODE = 'undefined_column',
					  DETAIL = format('Target column "%s" is mapped to it.', m.key);
		END IF;
	END LOOP;
	RETURN cmap;
END
$$;

/*
 * _add_table_copied: the copied columns, [{target, source} or {target,
 * expr}], in the source's column order, expressions last; target names
 * checked.
 */
CREATE FUNCTION tributary._add_table_copied(info jsonb, cmap jsonb)
RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	copied jsonb;
	m record;
BEGIN
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
	RETURN copied;
END
$$;

/*
 * _add_table_collation: " COLLATE name" for a column whose source
 * collation is not its type's default, when this database has that
 * collation (a NOTICE, and the default, when it does not).
 */
CREATE FUNCTION tributary._add_table_collation(coll text, col text)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF coll IS NULL THEN
		RETURN '';
	END IF;
	IF to_regcollation(coll) IS NULL THEN
		RAISE NOTICE 'collation % of column "%" does not exist here; the column gets its type''s default', coll, col;
		RETURN '';
	END IF;
	RETURN ' COLLATE ' || to_regcollation(coll)::text;
END
$$;

/*
 * _add_table_default: " DEFAULT expr" for a column of a target add_table
 * creates from a PostgreSQL source's default, or '' (with a NOTICE) when
 * the expression is not one plain expression, uses a sequence (the
 * target's values come from the source; a sequence of the source's does
 * not exist here), or does not parse here (EXPLAIN plans it without
 * running it).
 */
CREATE FUNCTION tributary._add_table_default(j tributary.job, expr text, typ text, col text, src_name text)
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF expr IS NULL THEN
		RETURN '';
	END IF;
	PERFORM tributary._check_generation_expr(format('the default of column "%s"', col), expr);
	IF expr ~* 'nextval\s*\(' THEN
		RAISE NOTICE 'the default of column "%" of source table [%] uses a sequence, and is not created', col, src_name;
		RETURN '';
	END IF;
	BEGIN
		PERFORM tributary._exec_as(j.job_owner, format('EXPLAIN (COSTS OFF) SELECT (%s)::%s', expr, typ));
	EXCEPTION WHEN OTHERS THEN
		RAISE NOTICE 'the default of column "%" of source table [%] is not created: %', col, src_name, SQLERRM;
		RETURN '';
	END;
	RETURN format(' DEFAULT %s', expr);
END
$$;

/*
 * _add_table_index: create one of the source's indexes (describe_table's
 * "indexes" entry) on a target add_table creates, as the job's owner:
 * its key columns or expressions, INCLUDE columns and predicate, with its
 * access method.  Each expression is checked to be one plain expression;
 * an index whose method this database lacks, with a non-default operator
 * class, or whose uniqueness is deferrable (a constraint, not an index) is
 * left out with a NOTICE, as is one whose expressions do not build here.
 */
CREATE FUNCTION tributary._add_table_index(j tributary.job, nsp text, rel text, idx jsonb, src_name text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k jsonb;
	keys text[] := '{}';
	stmt text;
BEGIN
	IF jsonb_typeof(idx -> 'keys') <> 'array' OR NOT coalesce((idx ->> 'immediate')::boolean, true)
	   OR NOT coalesce((idx ->> 'default_opclasses')::boolean, true)
	   OR NOT EXISTS (SELECT FROM pg_am WHERE amname = idx ->> 'method' AND amtype = 'i') THEN
		RAISE NOTICE 'index % of source table [%] is not created (deferrable, a non-default operator class, or an access method this database lacks)',
			idx ->> 'name', src_name;
		RETURN;
	END IF;
	FOR k IN SELECT e FROM jsonb_array_elements(idx -> 'keys') e LOOP
		/* a column key is the source's quoted name: checked like an expression all the same */
		PERFORM tributary._check_generation_expr(format('a key of index %s', idx ->> 'name'), k ->> 'text');
		IF (k ->> 'expr')::boolean THEN
			keys := keys || format('(%s)', k ->> 'text');
		ELSE
			keys := keys || (k ->> 'text');
		END IF;
	END LOOP;
	stmt := format('CREATE %sINDEX ON %I.%I USING %I (%s)', CASE WHEN (idx ->> 'unique')::boolean THEN 'UNIQUE ' ELSE '' END,
				   nsp, rel, idx ->> 'method', array_to_string(keys, ', '));
	IF jsonb_typeof(idx -> 'include') = 'array' THEN
		stmt := stmt || format(' INCLUDE (%s)', (SELECT string_agg(quote_ident(x), ', ' ORDER BY o)
												  FROM jsonb_array_elements_text(idx -> 'include') WITH ORDINALITY AS ic(x, o)));
	END IF;
	IF idx ->> 'predicate' IS NOT NULL THEN
		PERFORM tributary._check_generation_expr(format('the predicate of index %s', idx ->> 'name'), idx ->> 'predicate');
		stmt := stmt || format(' WHERE %s', idx ->> 'predicate');
	END IF;
	BEGIN
		PERFORM tributary._exec_as(j.job_owner, stmt);
	EXCEPTION WHEN OTHERS THEN
		RAISE NOTICE 'index % of source table [%] is not created: %', idx ->> 'name', src_name, SQLERRM;
	END;
END
$$;

/*
 * _add_table_create_target: create the missing target table from the
 * source's definition (create_tables), as the job's owner: the copied
 * columns with this database's types (expression columns with their
 * expression's type) and, from a PostgreSQL source, their NOT NULL,
 * collations and defaults (_add_table_default), its validated CHECK
 * constraints (when no column is renamed and no filter leaves rows out)
 * and its other indexes (when no column is renamed; _add_table_index);
 * the source's generated columns (PostgreSQL, given when no column
 * mapping renames what they read) as generated columns, and the source's
 * primary key under its target names (DEFERRABLE as there).  Returns the
 * new table.
 */
CREATE FUNCTION tributary._add_table_create_target(j tributary.job, nsp text, rel text, srccols jsonb,
												   copied jsonb, expr_types jsonb, cmap jsonb,
												   keycols text[], src_name text, generated jsonb, checks jsonb,
												   indexes jsonb, key_timing text, lead_key text)
RETURNS oid LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	coldefs text[] := '{}';
	col jsonb;
	m record;
	j_kind text := (SELECT source_kind FROM tributary.source WHERE source_id = j.job_source_id);
BEGIN
	FOR m IN SELECT c ->> 'target' AS tcol, c ->> 'source' AS scol FROM jsonb_array_elements(copied) c LOOP
		IF m.scol IS NULL THEN
			coldefs := coldefs || format('%I %s', m.tcol, expr_types ->> m.tcol);
			CONTINUE;
		END IF;
		SELECT c INTO col FROM jsonb_array_elements(srccols) c WHERE c ->> 'name' = m.scol;
		IF col ->> 'type' IS NULL THEN
			RAISE EXCEPTION 'source column "%" of [%] has type %, which this database does not have',
				m.scol, src_name, col ->> 'source_type'
				USING ERRCODE = 'undefined_object',
					  HINT = 'Create the type here first, or create the target table yourself.';
		END IF;
		/* NOT NULL as on a PostgreSQL source (MySQL's zero_date may turn values into NULLs) */
		coldefs := coldefs || format('%I %s%s%s%s', m.tcol, col ->> 'type',
									 tributary._add_table_collation(col ->> 'collation', m.tcol),
									 CASE WHEN j_kind = 'postgresql' AND (col ->> 'not_null')::boolean
										  THEN ' NOT NULL' ELSE '' END,
									 tributary._add_table_default(j, col ->> 'default', col ->> 'type', m.tcol, src_name));
	END LOOP;
	/* the source's validated CHECK constraints, when every column keeps its name */
	FOR col IN SELECT c FROM jsonb_array_elements(checks) c LOOP
		PERFORM tributary._check_generation_expr(format('check constraint "%s"', col ->> 'name'), col ->> 'expr');
		coldefs := coldefs || format('CONSTRAINT %I CHECK (%s)', col ->> 'name', col ->> 'expr');
	END LOOP;
	/* the source's generated columns, computed here as there (never written) */
	FOR col IN SELECT c FROM jsonb_array_elements(generated) c LOOP
		PERFORM tributary._check_target_name('column', col ->> 'name');
		PERFORM tributary._check_generation_expr(format('the generation expression of source column "%s"', col ->> 'name'),
												 col ->> 'expr');
		coldefs := coldefs || format('%I %s GENERATED ALWAYS AS (%s) STORED',
									 col ->> 'name', col ->> 'pg_type', col ->> 'expr');
	END LOOP;
	/* a DEFERRABLE key stays one: a key swap valid on the source is valid here */
	coldefs := coldefs || format('PRIMARY KEY (%s%s)%s', CASE WHEN lead_key IS NOT NULL THEN quote_ident(lead_key) || ', ' ELSE '' END, (
		SELECT string_agg(quote_ident(coalesce(
			(SELECT mk.key FROM jsonb_each_text(cmap) mk WHERE mk.value = kc LIMIT 1), kc)), ', ' ORDER BY o)
		  FROM unnest(keycols) WITH ORDINALITY u(kc, o)),
		CASE key_timing WHEN 'deferred' THEN ' DEFERRABLE INITIALLY DEFERRED'
						WHEN 'deferrable' THEN ' DEFERRABLE' ELSE '' END);
	IF to_regnamespace(quote_ident(nsp)) IS NULL THEN
		PERFORM tributary._exec_as(j.job_owner, format('CREATE SCHEMA %I', nsp));
	END IF;
	PERFORM tributary._exec_as(j.job_owner,
		format('CREATE TABLE %I.%I (%s)', nsp, rel, array_to_string(coldefs, ', ')));
	RAISE NOTICE 'created target table %.%', quote_ident(nsp), quote_ident(rel);
	/* the source's other indexes: plain ones, and expression, partial and INCLUDE ones that pass the checks */
	FOR col IN SELECT c FROM jsonb_array_elements(indexes) c LOOP
		PERFORM tributary._add_table_index(j, nsp, rel, col, src_name);
	END LOOP;
	RETURN to_regclass(format('%I.%I', nsp, rel));
END
$$;

/*
 * _add_table_type_name: a type as the source printed it (format_type),
 * checked to be only a type name (it must read as the cast of one
 * expression, so nothing else rides along) that this database knows.
 */
CREATE FUNCTION tributary._add_table_type_name(what text, typ text)
RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM tributary._check_generation_expr(format('the type of %s', what), 'NULL::' || typ);
	IF to_regtype(typ) IS NULL THEN
		RAISE EXCEPTION 'type % of % does not exist in this database', typ, what
			USING ERRCODE = 'undefined_object',
				  HINT = 'Create it here first, or create the target table yourself.';
	END IF;
	RETURN typ;
END
$$;

/*
 * _add_table_create_types: the source's user-defined types a new target
 * table needs (enums, domains, ranges and composites its columns use,
 * directly or as array elements) that this database lacks, created from
 * the source's definitions in a schema of the same name, as the job's
 * owner.  Types they are built from must exist here (or be created
 * earlier in the list: enums come first).
 */
CREATE FUNCTION tributary._add_table_create_types(j tributary.job, types jsonb)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t jsonb;
	qname text;
	body text;
	x text;
BEGIN
	FOR t IN SELECT e FROM jsonb_array_elements(types) e LOOP
		qname := format('%I.%I', t ->> 'schema', t ->> 'name');
		CONTINUE WHEN to_regtype(qname) IS NOT NULL;
		PERFORM tributary._check_target_name('schema', t ->> 'schema');
		PERFORM tributary._check_target_name('type', t ->> 'name');
		IF t ->> 'kind' = 'e' THEN
			SELECT format('CREATE TYPE %s AS ENUM (%s)', qname, coalesce(string_agg(quote_literal(l), ', ' ORDER BY o), ''))
			  INTO body FROM jsonb_array_elements_text(t -> 'labels') WITH ORDINALITY AS lab(l, o);
		ELSIF t ->> 'kind' = 'd' THEN
			body := format('CREATE DOMAIN %s AS %s', qname,
						   tributary._add_table_type_name(format('domain %s', qname), t ->> 'base'));
			IF (t ->> 'notnull')::boolean THEN
				body := body || ' NOT NULL';
			END IF;
			FOR x IN SELECT jsonb_array_elements_text(t -> 'checks') LOOP
				PERFORM tributary._check_generation_expr(format('a check of domain %s', qname), x);
				body := body || format(' CHECK (%s)', x);
			END LOOP;
		ELSIF t ->> 'kind' = 'r' THEN
			body := format('CREATE TYPE %s AS RANGE (subtype = %s)', qname,
						   tributary._add_table_type_name(format('range %s', qname), t ->> 'subtype'));
		ELSE
			SELECT format('CREATE TYPE %s AS (%s)', qname,
						  string_agg(format('%I %s', a ->> 'name',
											tributary._add_table_type_name(format('composite %s', qname), a ->> 'type')),
									 ', ' ORDER BY o))
			  INTO body FROM jsonb_array_elements(t -> 'attrs') WITH ORDINALITY AS y(a, o);
		END IF;
		IF to_regnamespace(quote_ident(t ->> 'schema')) IS NULL THEN
			PERFORM tributary._exec_as(j.job_owner, format('CREATE SCHEMA %I', t ->> 'schema'));
		END IF;
		PERFORM tributary._exec_as(j.job_owner, body);
		RAISE NOTICE 'created type %', qname;
	END LOOP;
END
$$;

/*
 * _add_table_cascades: the foreign keys whose actions the source carries
 * out without logging the rows they change (MySQL InnoDB's CASCADE and
 * SET NULL; describe_table's "cascades" and "referenced_by"): a NOTICE for
 * each the job's worker carries out on the target (child and parent both
 * in the job), a WARNING for each it cannot (the parent is not in the job).
 */
CREATE FUNCTION tributary._add_table_cascades(j tributary.job, src_name text, info jsonb)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c jsonb;
	other text;
BEGIN
	FOR c IN SELECT jsonb_array_elements(coalesce(info -> 'cascades', '[]'::jsonb)) LOOP
		other := (c ->> 'parent_nsp') || '.' || (c ->> 'parent_rel');
		IF other = src_name OR EXISTS (SELECT 1 FROM tributary.job_table
										WHERE jt_job_id = j.job_id AND jt_source_schema = c ->> 'parent_nsp'
										  AND jt_source_rel = c ->> 'parent_rel') THEN
			RAISE NOTICE 'foreign key % of source table [%] (ON DELETE %, ON UPDATE %) is carried out on the target',
				c ->> 'name', src_name, c ->> 'on_delete', c ->> 'on_update'
				USING DETAIL = format('The source changes rows through it without logging them; job "%s" makes the same changes after each change of [%s].',
									  j.job_name, other);
		ELSE
			RAISE WARNING 'foreign key % of source table [%] references [%] ON DELETE % ON UPDATE %, which the source carries out without logging it',
				c ->> 'name', src_name, other, c ->> 'on_delete', c ->> 'on_update'
				USING DETAIL = format('While [%s] is not in job "%s", the rows of [%s] the foreign key changes on the source keep their old values on the target.',
									  other, j.job_name, src_name),
					  HINT = format('Add [%s] to the job: its worker then carries out the foreign key''s actions on the target.', other);
		END IF;
	END LOOP;
	FOR c IN SELECT jsonb_array_elements(coalesce(info -> 'referenced_by', '[]'::jsonb)) LOOP
		other := (c ->> 'child_nsp') || '.' || (c ->> 'child_rel');
		IF other <> src_name AND EXISTS (SELECT 1 FROM tributary.job_table
										  WHERE jt_job_id = j.job_id AND jt_source_schema = c ->> 'child_nsp'
											AND jt_source_rel = c ->> 'child_rel') THEN
			RAISE NOTICE 'foreign key % of source table [%] (ON DELETE %, ON UPDATE %) is now carried out on the target',
				c ->> 'name', other, c ->> 'on_delete', c ->> 'on_update'
				USING DETAIL = format('The source changes rows through it without logging them; job "%s" makes the same changes after each change of [%s].',
									  j.job_name, src_name);
		END IF;
	END LOOP;
END
$$;

/*
 * add_table: add one source table to a job, mapped to one target table.
 * Connects to the source to check the table's prerequisites and read its
 * definition; creates the target table when it is missing (create_tables),
 * as the job's owner, else checks that its columns fit the mapping and
 * that the owner may write it.  Column expressions and the filter are
 * checked here (transform.c) and evaluated on the target.
 */
/*
 * _add_table_mark_column: soft deletes (job option dml delete
 * "mark:<column>"): a target created here gets the column (timestamptz);
 * an existing one must have it as timestamptz, timestamp or boolean, and
 * no source column may be mapped to it.
 */
CREATE FUNCTION tributary._add_table_mark_column(j tributary.job, tgt_oid oid, tgt_name text, mark text,
												 copied jsonb, created boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	typ oid;
BEGIN
	IF EXISTS (SELECT 1 FROM jsonb_array_elements(copied) c WHERE c ->> 'target' = mark) THEN
		RAISE EXCEPTION 'target column "%" of % is mapped to the source, so it cannot mark deleted rows', mark, tgt_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name another column in the job option dml ("delete": "mark:<column>").';
	END IF;
	IF created AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tgt_oid AND attname = mark
								 AND attnum > 0 AND NOT attisdropped) THEN
		PERFORM tributary._exec_as(j.job_owner, format('ALTER TABLE %s ADD COLUMN %I timestamptz', tgt_name, mark));
	END IF;
	SELECT atttypid INTO typ FROM pg_attribute
	 WHERE attrelid = tgt_oid AND attname = mark AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
	IF typ IS NULL OR typ NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'boolean'::regtype) THEN
		RAISE EXCEPTION 'target table % has no column "%" to mark deleted rows in', tgt_name, mark
			USING ERRCODE = 'undefined_column',
				  DETAIL = 'The job option dml marks deleted rows in that column instead of deleting them; it must be a timestamptz, timestamp or boolean column.',
				  HINT = format('Add it: ALTER TABLE %s ADD COLUMN %I timestamptz;', tgt_name, mark);
	END IF;
END
$$;

/*
 * _incremental_column_check: the incremental column of a table of an
 * incremental job: named, a column of the source table, never NULL, and
 * of a type whose values the source orders exactly.  Returns its name.
 */
CREATE FUNCTION tributary._incremental_column_check(j tributary.job, info jsonb, src_name text, col text)
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c jsonb;
BEGIN
	IF col IS NULL THEN
		RAISE EXCEPTION 'source table [%] needs an incremental column in job "%"', src_name, j.job_name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A job of mode incremental reads each table in the order of a column whose value grows with every insert and update (a timestamp such as updated_at, or an id).',
				  HINT = 'Name it: tributary.add_table(job, table, incremental_column => ''updated_at''), or set the job option incremental_column.';
	END IF;
	SELECT x INTO c FROM jsonb_array_elements(info -> 'columns') x WHERE x ->> 'name' = col;
	IF c IS NULL THEN
		RAISE EXCEPTION 'source table [%] has no column "%"', src_name, col
			USING ERRCODE = 'undefined_column',
				  HINT = 'Name an existing column as incremental_column.';
	END IF;
	IF NOT coalesce((c ->> 'not_null')::boolean, false) THEN
		RAISE EXCEPTION 'incremental column "%" of source table [%] may be NULL', col, src_name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Rows whose incremental column is NULL would never be read.',
				  HINT = 'Make the column NOT NULL on the source, or choose another column.';
	END IF;
	/* MySQL orders ENUM and SET by their index but compares them as strings */
	IF (c ->> 'pg_type') !~ '^(smallint|integer|bigint|numeric|date|timestamp|character varying|character|text)( |\(|$)'
	   OR coalesce(c ->> 'mysql_type', '') ~* '^(enum|set)\(' THEN
		RAISE EXCEPTION 'incremental column "%" of source table [%] has type %, which cannot be polled exactly', col, src_name,
				coalesce(c ->> 'mysql_type', c ->> 'pg_type')
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'Polls compare the column''s values as the source orders them; integers, numerics, dates, timestamps and strings can be; floating-point, boolean, binary and JSON values, and MySQL ENUM and SET (ordered by their index, compared as strings), cannot.',
				  HINT = 'Choose a timestamp or integer column that grows with every insert and update.';
	END IF;
	RETURN col;
END
$$;

CREATE FUNCTION tributary._api_add_table(job_name text, source_table text, target_table text,
										 columns jsonb, filter text, incremental_column text,
										 merge boolean, source_column text)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	j tributary.job := tributary._owned_job(job_name);
	s tributary.source;
	opts jsonb := tributary._effective_options(j.job_options);
	src record;
	src_name text;
	tgt record;
	tgt_name text;
	tgt_oid oid;
	info jsonb;
	srccols jsonb;
	keycols text[];
	cmap jsonb;
	copied jsonb;
	checked jsonb;
	transformed boolean;
	m record;
	related text;
	inc text;
	mark text;
	created boolean := false;
	merged_with text;
	srccol text;
	id integer;
BEGIN
	IF incremental_column IS NOT NULL AND j.job_mode <> 'incremental' THEN
		RAISE EXCEPTION 'job "%" does not poll an incremental column (mode %)', j.job_name, j.job_mode
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Only jobs of mode incremental take incremental_column.';
	END IF;
	SELECT * INTO s FROM tributary.source WHERE source_id = j.job_source_id;
	src := tributary._split_table_name(s.source_kind, source_table);
	src_name := src.nsp || '.' || src.rel;
	IF EXISTS (SELECT 1 FROM tributary.job_table
				WHERE jt_job_id = j.job_id AND jt_source_schema = src.nsp AND jt_source_rel = src.rel) THEN
		RAISE EXCEPTION 'source table [%] is already part of job "%"', src_name, j.job_name
			USING ERRCODE = 'duplicate_object';
	END IF;
	tgt := tributary._add_table_target(j, opts, src.nsp, src.rel, target_table);
	/* several source tables into one target: only when asked for (merge.c) */
	SELECT format('%s.%s', o.jt_source_schema, o.jt_source_rel) INTO merged_with
	  FROM tributary.job_table o
	 WHERE o.jt_job_id = j.job_id AND o.jt_target_schema = tgt.nsp AND o.jt_target_rel = tgt.rel
	 ORDER BY o.jt_id LIMIT 1;
	IF merged_with IS NOT NULL AND NOT coalesce(merge, false) THEN
		RAISE EXCEPTION 'several source tables map to target table %.% (source table [%] among them)',
						quote_ident(tgt.nsp), quote_ident(tgt.rel), src_name
			USING ERRCODE = 'duplicate_object',
				  DETAIL = format('Source table [%s] of job "%s" is synced into it already.', merged_with, j.job_name),
				  HINT = 'Give each source table its own target (name_rule), or merge them into one with merge => true, and source_column => ''source_table'' to tell their rows apart.';
	END IF;

	/* the source table: exists, has a primary key, has full row images */
	info := tributary._remote_table_info(s.source_name, src.nsp, src.rel);
	PERFORM tributary._check_remote_table(s, j.job_mode, src.nsp, src.rel, info);
	IF j.job_mode = 'incremental' THEN
		inc := tributary._incremental_column_check(j, info, src_name,
												   coalesce(incremental_column, opts ->> 'incremental_column'));
	END IF;
	IF j.job_mode NOT IN ('full', 'incremental') THEN
		PERFORM tributary._add_table_cascades(j, src_name, info);
	END IF;
	/* a partition and its partitioned table in one job would split its changes */
	SELECT format('%s.%s', t.jt_source_schema, t.jt_source_rel) INTO related
	  FROM tributary.job_table t
	 WHERE t.jt_job_id = j.job_id
	   AND format('%I.%I', t.jt_source_schema, t.jt_source_rel) IN
		   (SELECT jsonb_array_elements_text(info -> 'partition_family'))
	 LIMIT 1;
	IF related IS NOT NULL THEN
		RAISE EXCEPTION 'source table [%] and source table [%] of job "%" are partitions of one another', src_name, related, j.job_name
			USING ERRCODE = 'duplicate_object',
				  DETAIL = 'A change reaches the target of the partitioned table only; a job syncs either a partitioned table or its partitions.',
				  HINT = 'Sync the partitioned table alone, or its partitions as tables of their own in another job.';
	END IF;
	tgt_name := quote_ident(tgt.nsp) || '.' || quote_ident(tgt.rel);
	tgt_oid := to_regclass(tgt_name);

	SELECT array_agg(x ORDER BY o) INTO keycols
	  FROM jsonb_array_elements_text(info -> 'key') WITH ORDINALITY AS e(x, o);
	/* a target to create may need the source's types */
	IF tgt_oid IS NULL AND (opts -> 'create_tables')::boolean THEN
		PERFORM tributary._add_table_create_types(j, info -> 'types');
	END IF;
	srccols := tributary._add_table_columns(info, opts);
	/* a column that says which source table a row comes from: every column, and it */
	IF source_column IS NOT NULL THEN
		PERFORM tributary._check_target_name('column', source_column);
		IF columns IS NULL THEN
			IF EXISTS (SELECT 1 FROM jsonb_array_elements(info -> 'columns') c WHERE c ->> 'name' = source_column) THEN
				RAISE EXCEPTION 'source table [%] has a column "%" already, which source_column would name too', src_name, source_column
					USING ERRCODE = 'duplicate_column',
						  HINT = 'Choose another name for source_column.';
			END IF;
			SELECT jsonb_object_agg(c ->> 'name', c ->> 'name') INTO columns FROM jsonb_array_elements(info -> 'columns') c;
		END IF;
		IF columns ? source_column THEN
			RAISE EXCEPTION 'source_column "%" is mapped in columns too', source_column
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Name the column that holds tributary.source_table() once: in columns, or as source_column.';
		END IF;
		columns := columns || jsonb_build_object(source_column, 'tributary.source_table()');
	END IF;
	cmap := tributary._add_table_mapping(columns, info, keycols, tgt_oid, src_name, tgt_name);
	copied := tributary._add_table_copied(info, cmap);

	/* filters and expression columns: checked and typed on the target, as the owner */
	transformed := filter IS NOT NULL OR EXISTS (SELECT 1 FROM jsonb_array_elements(copied) c WHERE c ? 'expr');
	IF transformed AND j.job_mode = 'incremental' THEN
		RAISE EXCEPTION 'source table [%] has a row filter or expression columns, which incremental polling does not apply', src_name
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = format('Job "%s" has mode incremental: a poll cannot see a row leave a filter.', j.job_name),
				  HINT = 'Map plain columns only, or sync the table with a full+cdc or cdc job.';
	END IF;
	IF transformed THEN
		checked := tributary._transform_check(srccols, copied, filter, tgt_oid::regclass, j.job_owner, src_name);
	END IF;

	IF tgt_oid IS NULL THEN
		IF NOT (opts -> 'create_tables')::boolean THEN
			RAISE EXCEPTION 'target table % does not exist', tgt_name
				USING ERRCODE = 'undefined_table',
					  HINT = 'Create it, or set the job option create_tables to true.';
		END IF;
		/* generated columns come along when every column keeps its name */
		created := true;
		tgt_oid := tributary._add_table_create_target(j, tgt.nsp, tgt.rel, srccols, copied,
													   checked -> 'types', cmap, keycols, src_name,
													   CASE WHEN cmap IS NULL THEN info -> 'generated' END,
													   CASE WHEN cmap IS NULL AND filter IS NULL THEN info -> 'checks' END,
													   CASE WHEN cmap IS NULL THEN info -> 'indexes' END,
													   info ->> 'key_timing',
													   CASE WHEN coalesce(merge, false) THEN tributary._source_column(copied) END);
	ELSE
		/* an existing target must have every mapped column */
		FOR m IN SELECT c ->> 'target' AS tcol FROM jsonb_array_elements(copied) c LOOP
			IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tgt_oid AND attname = m.tcol
							 AND attnum > 0 AND NOT attisdropped) THEN
				RAISE EXCEPTION 'target table % has no column "%"', tgt_name, m.tcol
					USING ERRCODE = 'undefined_column',
						  HINT = 'Add the column to the target table, or map the columns with the columns argument.';
			END IF;
		END LOOP;
	END IF;
	/* the owner may write the target: a table of its own kind, privileges, no row security */
	PERFORM tributary._check_target(tgt_oid::regclass, j.job_owner, j.job_mode, j.job_name);
	/* a key computed from the change's metadata would move rows with every change */
	SELECT c ->> 'target' INTO srccol
	  FROM jsonb_array_elements(copied) c
	 WHERE c ->> 'expr' ~* 'source_(op|commit_time|position)' AND EXISTS (
			SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
			 WHERE i.indrelid = tgt_oid AND i.indisprimary AND a.attname = c ->> 'target')
	 LIMIT 1;
	IF srccol IS NOT NULL THEN
		RAISE EXCEPTION 'target column "%" of % is in its primary key and computed from the change''s metadata', srccol, tgt_name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'tributary.source_op(), source_commit_time() and source_position() differ from one change of a row to the next, so its key would too.',
				  HINT = 'Key the target by source columns (and tributary.source_table()).';
	END IF;
	/* merged source tables with equal keys would overwrite each other's rows */
	srccol := tributary._source_column(copied);
	IF coalesce(merge, false) AND (srccol IS NULL OR NOT EXISTS (
			SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
			 WHERE i.indrelid = tgt_oid AND i.indisprimary AND a.attname = srccol)) THEN
		RAISE WARNING 'the key of target table % does not include a column fed by tributary.source_table()', tgt_name
			USING DETAIL = format('Rows with equal keys from source table [%s] and the other source tables merged into %s overwrite each other, and a truncate of one of them empties the whole target (by the job''s ddl and dml policy).', src_name, tgt_name),
				  HINT = 'Pass source_column => ''source_table'' (a target that add_table creates gets it in its key), or give the target a key that includes such a column.';
	END IF;
	/* soft deletes: the column deleted rows are marked in */
	mark := substring(coalesce(opts -> 'dml' -> src_name ->> 'delete', opts -> 'dml' ->> 'delete') FROM '^mark:(.+)$');
	IF mark IS NOT NULL THEN
		PERFORM tributary._add_table_mark_column(j, tgt_oid, tgt_name, mark, copied, created);
	END IF;
	IF transformed THEN
		checked := tributary._transform_check(srccols, copied, filter, tgt_oid::regclass, j.job_owner, src_name);
	END IF;

	INSERT INTO tributary.job_table (jt_job_id, jt_source_schema, jt_source_rel, jt_target_schema,
									 jt_target_rel, jt_column_map, jt_filter, jt_key_columns, jt_columns,
									 jt_read_columns, jt_incremental_column)
	VALUES (j.job_id, src.nsp, src.rel, tgt.nsp, tgt.rel, cmap, filter, keycols, copied,
			checked -> 'read', inc)
	RETURNING jt_id INTO id;
	PERFORM tributary._record_job_version(j.job_id, 'add_table ' || src_name);
	IF j.job_state = 'running' AND j.job_mode = 'full+cdc' AND j.job_slot IS NOT NULL
	   AND NOT EXISTS (SELECT 1 FROM tributary.job_table o
						WHERE o.jt_job_id = j.job_id AND o.jt_id <> id AND o.jt_state IN ('init', 'snapshot')) THEN
		/* a streaming job copies the table while its other tables stream
		 * (table_sync.c): its worker sees it within a second, streams again
		 * with it from its checkpoint, copies it and keeps its changes */
		UPDATE tributary.job_table SET jt_state = 'resync' WHERE jt_id = id;
	ELSE
		/* a running job picks the table up at once: its worker is replaced, copies
		 * the new table and catches up, then streams all its tables */
		UPDATE tributary.job SET job_generation = job_generation + 1
		 WHERE job_id = j.job_id AND job_state = 'running';
	END IF;
	RETURN id;
END
$$;
