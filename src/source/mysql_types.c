/*-------------------------------------------------------------------------
 *
 * mysql_types.c
 *		The PostgreSQL type of a MySQL column, for auto-created targets
 *		(DESIGN §5), from the column's information_schema.COLUMNS entry.
 *
 *	TINYINT, SMALLINT, TINYINT UNSIGNED	smallint (SMALLINT UNSIGNED integer)
 *	MEDIUMINT, INT						integer (INT UNSIGNED bigint)
 *	BIGINT								bigint (BIGINT UNSIGNED numeric(20,0))
 *	DECIMAL(p,s)						numeric(p,s)
 *	FLOAT, DOUBLE						real, double precision
 *	BIT(n)								bit(n)
 *	CHAR(n), VARCHAR(n), TEXT kinds		character(n), character varying(n), text
 *	BINARY, VARBINARY, BLOB kinds		bytea
 *	DATE, DATETIME(p), TIMESTAMP(p)		date, timestamp(p), timestamptz(p)
 *	TIME(p), YEAR						time(p), smallint
 *	ENUM, SET							text
 *	JSON								jsonb
 *	GEOMETRY kinds						bytea (WKB)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "source/mysql_types.h"

/*
 * tributary_mysql_pg_type: see the file header.  data_type is
 * information_schema's DATA_TYPE (lower case, "int"), column_type its
 * COLUMN_TYPE ("int(10) unsigned").
 */
char *
tributary_mysql_pg_type(const char *data_type, const char *column_type,
						long char_len, int num_precision, int num_scale,
						int datetime_precision)
{
	bool		is_unsigned = (strstr(column_type, "unsigned") != NULL);
	int			p = Max(datetime_precision, 0);

	if (strcmp(data_type, "tinyint") == 0)
		return pstrdup("smallint");
	if (strcmp(data_type, "smallint") == 0)
		return pstrdup(is_unsigned ? "integer" : "smallint");
	if (strcmp(data_type, "mediumint") == 0)
		return pstrdup("integer");
	if (strcmp(data_type, "int") == 0 || strcmp(data_type, "integer") == 0)
		return pstrdup(is_unsigned ? "bigint" : "integer");
	if (strcmp(data_type, "bigint") == 0)
		return pstrdup(is_unsigned ? "numeric(20,0)" : "bigint");
	if (strcmp(data_type, "decimal") == 0 || strcmp(data_type, "numeric") == 0)
		return psprintf("numeric(%d,%d)", num_precision, num_scale);
	if (strcmp(data_type, "float") == 0)
		return pstrdup("real");
	if (strcmp(data_type, "double") == 0 || strcmp(data_type, "real") == 0)
		return pstrdup("double precision");
	if (strcmp(data_type, "bit") == 0)
		return psprintf("bit(%d)", Max(num_precision, 1));
	if (strcmp(data_type, "char") == 0)
		return psprintf("character(%ld)", Max(char_len, 1));
	if (strcmp(data_type, "varchar") == 0)
		return psprintf("character varying(%ld)", Max(char_len, 1));
	if (strstr(data_type, "text") != NULL)
		return pstrdup("text");
	if (strcmp(data_type, "binary") == 0 || strcmp(data_type, "varbinary") == 0 ||
		strstr(data_type, "blob") != NULL)
		return pstrdup("bytea");
	if (strcmp(data_type, "date") == 0)
		return pstrdup("date");
	if (strcmp(data_type, "datetime") == 0)
		return psprintf("timestamp(%d) without time zone", p);
	if (strcmp(data_type, "timestamp") == 0)
		return psprintf("timestamp(%d) with time zone", p);
	if (strcmp(data_type, "time") == 0)
		return psprintf("time(%d) without time zone", p);
	if (strcmp(data_type, "year") == 0)
		return pstrdup("smallint");
	if (strcmp(data_type, "enum") == 0 || strcmp(data_type, "set") == 0)
		return pstrdup("text");
	if (strcmp(data_type, "json") == 0)
		return pstrdup("jsonb");
	if (strcmp(data_type, "geometry") == 0 || strcmp(data_type, "point") == 0 ||
		strcmp(data_type, "linestring") == 0 || strcmp(data_type, "polygon") == 0 ||
		strncmp(data_type, "multi", 5) == 0 || strcmp(data_type, "geometrycollection") == 0 ||
		strcmp(data_type, "geomcollection") == 0)
		return pstrdup("bytea");
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("MySQL type %s has no PostgreSQL mapping", column_type),
			 errhint("Create the target table yourself and map the column with an expression.")));
	return NULL;				/* keep compiler quiet */
}
