
/* ------------------------------------------------------------------------
 * Functions for column expressions (add_table's columns): masking, as
 * DataWorks' desensitization does.  Pure, so that every role may call
 * them in the expressions of its jobs.
 * ------------------------------------------------------------------------ */

/*
 * mask: value with every character but its first keep_left and last
 * keep_right replaced by mask_char ('13812345678', 3, 4 gives
 * '138****5678').  A value no longer than what would be kept is masked
 * whole: a short value is not shown unmasked.
 */
CREATE FUNCTION tributary.mask(value text, keep_left integer DEFAULT 0, keep_right integer DEFAULT 0,
							   mask_char text DEFAULT '*')
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE
		WHEN char_length(value) <= greatest(keep_left, 0) + greatest(keep_right, 0)
			THEN repeat(mask_char, char_length(value))
		ELSE left(value, greatest(keep_left, 0))
			 || repeat(mask_char, char_length(value) - greatest(keep_left, 0) - greatest(keep_right, 0))
			 || right(value, greatest(keep_right, 0))
		END
$$;

/*
 * mask_hash: the hex SHA-256 of salt and value: equal values stay equal
 * (joins and counts still work) while the value cannot be read back.
 */
CREATE FUNCTION tributary.mask_hash(value text, salt text DEFAULT '')
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
	SELECT encode(sha256(convert_to(salt || value, 'UTF8')), 'hex')
$$;
