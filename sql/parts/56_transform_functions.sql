
/* ------------------------------------------------------------------------
 * Functions for column expressions (add_table's columns): masking, as
 * DataWorks' desensitization does.  Pure, so that every role may call
 * them in the expressions of its jobs.
 * ------------------------------------------------------------------------ */

/*
 * mask: value with every character but its first keep_left and last
 * keep_right replaced by mask_char ('13812345678', 3, 4 gives
 * '138****5678').  A value no longer than what would be kept is masked
 * whole: a short value is not shown unmasked.  Every name is qualified
 * and the function sets no search_path, so that a call costs no
 * configuration change per row.
 */
CREATE FUNCTION tributary.mask(value text, keep_left integer DEFAULT 0, keep_right integer DEFAULT 0,
							   mask_char text DEFAULT '*')
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT CASE
		WHEN pg_catalog.char_length(value) OPERATOR(pg_catalog.<=)
			 (greatest(keep_left, 0) OPERATOR(pg_catalog.+) greatest(keep_right, 0))
			THEN pg_catalog.repeat(mask_char, pg_catalog.char_length(value))
		ELSE (pg_catalog.left(value, greatest(keep_left, 0))
			  OPERATOR(pg_catalog.||)
			  pg_catalog.repeat(mask_char, ((pg_catalog.char_length(value) OPERATOR(pg_catalog.-) greatest(keep_left, 0))
											OPERATOR(pg_catalog.-) greatest(keep_right, 0))))
			 OPERATOR(pg_catalog.||) pg_catalog.right(value, greatest(keep_right, 0))
		END
$$;

/*
 * mask_hash: the hex SHA-256 of salt and value: equal values stay equal
 * (joins and counts still work) while the value cannot be read back.
 * Qualified names, no search_path: see mask.
 */
CREATE FUNCTION tributary.mask_hash(value text, salt text DEFAULT '')
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(salt OPERATOR(pg_catalog.||) value, 'UTF8')), 'hex')
$$;

/* ------------------------------------------------------------------------
 * What a column expression or filter may ask about the row it evaluates
 * (transform.c): NULL outside a job's evaluation.  STABLE: constant for a
 * row, never folded into a constant when the expression is planned.
 * ------------------------------------------------------------------------ */

/* source_table: the row's source table, "schema.table" (MySQL "db.table") */
CREATE FUNCTION tributary.source_table() RETURNS text
	LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'tributary_source_table';

/* source_op: 'r' a snapshot read, 'c' an insert, 'u' an update, 'd' a delete */
CREATE FUNCTION tributary.source_op() RETURNS text
	LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'tributary_source_op';

/* source_commit_time: the source transaction's commit time (NULL for snapshot rows) */
CREATE FUNCTION tributary.source_commit_time() RETURNS timestamptz
	LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'tributary_source_commit_time';

/* source_position: where the source transaction begins (NULL for snapshot rows) */
CREATE FUNCTION tributary.source_position() RETURNS text
	LANGUAGE C STABLE PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'tributary_source_position';
