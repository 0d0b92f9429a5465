/*-------------------------------------------------------------------------
 *
 * mysql_snapshot.c
 *		Snapshot reads from MySQL / MariaDB: primary-key chunk bounds and
 *		the rows of a chunk, streamed with mysql_use_result and turned into
 *		COPY text format for the local COPY (apply/copy_in.c).
 *
 * The view: one REPEATABLE READ transaction started WITH CONSISTENT
 * SNAPSHOT, read only, in session time zone +00:00 (TIMESTAMP values are
 * UTC in MySQL; they are passed on as UTC) and with character_set_results
 * = NULL: strings arrive in their column's character set and are
 * converted once, by mysql_convert.c, as the binlog's are.  No FLUSH
 * TABLES WITH READ LOCK and no table locks are taken.
 *
 * Keys: a chunk bound is a JSON object of the key columns' values as the
 * server prints them in utf8mb4; binary-string key columns (BINARY,
 * VARBINARY, BLOB) are written in hex, since their bytes need not be
 * UTF-8, and compared as X'..' literals.  The chunk queries come from
 * keyset.c, with "(k1, k2) > (v1, v2)" spelled out as
 * "k1 > v1 OR (k1 = v1 AND k2 > v2)" so that every server uses the primary
 * key's range access.
 *
 * Values (DESIGN §5), by the result's field types, rendered by
 * mysql_value.c as the binlog's are:
 *	binary strings (charset 63)		bytea, \x hex
 *	FLOAT							read as CAST(... AS DOUBLE): the server
 *									prints FLOAT with 6 significant digits,
 *									DOUBLE exactly
 *	BIT(n)							bit string of n digits
 *	GEOMETRY						bytea of the WKB (MySQL's 4-byte SRID
 *									prefix dropped)
 *	DATE, DATETIME, TIMESTAMP		zero dates ("0000-00-00", or a zero
 *									month or day) follow zero_date: NULL,
 *									-infinity, or an error; TIMESTAMP gets
 *									"+00"
 *	everything else					the server's text, converted from the
 *									field's character set to the
 *									database's encoding
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "source/mysql_source.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "catalog.h"
#include "source/keyset.h"
#include "source/mysql_value.h"

/* how a column's text becomes COPY text */
typedef enum MyValueKind
{
	MYV_TEXT,
	MYV_BYTEA,
	MYV_BIT,
	MYV_GEOMETRY,
	MYV_DATE,
	MYV_TIMESTAMP				/* DATETIME; TIMESTAMP adds a zone */
} MyValueKind;

/* the copy in progress (one per process) */
typedef struct MyCopy
{
	MYSQL_RES  *res;
	int			nfields;
	MyValueKind *kinds;
	bool	   *utc;			/* TIMESTAMP columns */
	int		   *bits;			/* BIT(n) widths */
	int		   *encodings;		/* of text columns (myv_charset_encoding) */
	char	  **names;			/* column names, for messages */
	StringInfoData buf;
	TributarySource *src;
	const char *table;			/* db.table, for messages */
} MyCopy;

static MyCopy *copy_state = NULL;
static MemoryContext copy_cxt = NULL;	/* holds copy_state; reset per chunk */

#define COPY_BLOCK_BYTES	65536

/*
 * my_ident: a MySQL identifier in backquotes.
 */
static char *
my_ident(const char *name)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '`');
	for (const char *p = name; *p; p++)
	{
		if (*p == '`')
			appendStringInfoChar(&buf, '`');
		appendStringInfoChar(&buf, *p);
	}
	appendStringInfoChar(&buf, '`');
	return buf.data;
}

/*
 * my_exec: run a statement without a result.
 */
static void
my_exec(TributarySource *src, const char *sql)
{
	MYSQL_RES  *res = mysrc_query(src, sql);

	if (res)
		mysql_free_result(res);
}

/*
 * mysrc_snapshot_begin: open the consistent view all chunks of the run
 * are read in.
 */
void
mysrc_snapshot_begin(TributarySource *src)
{
	my_exec(src, "SET SESSION time_zone = '+00:00'");
	my_exec(src, "SET SESSION character_set_results = NULL");
	my_exec(src, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");
	my_exec(src, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
}

/*
 * mysrc_snapshot_end: end the view.
 */
void
mysrc_snapshot_end(TributarySource *src)
{
	my_exec(src, "COMMIT");
	my_exec(src, "SET SESSION character_set_results = utf8mb4");
}

/* what the reader needs to know of a table's column types */
typedef struct TableTypes
{
	int32		jt_id;
	bool	   *key_binary;		/* per key column: a binary string */
	List	   *float_columns;	/* names of FLOAT columns */
} TableTypes;

/*
 * table_types: the column types of t that change how it is read, looked
 * up once per table and process: binary-string key columns (bounds kept in
 * hex) and FLOAT columns (read as DOUBLE: the server prints FLOAT with 6
 * significant digits, DOUBLE exactly, and every FLOAT is a DOUBLE).
 */
static TableTypes *
table_types(TributarySource *src, TributaryTable *t)
{
	static List *cache = NIL;	/* of TableTypes, in TopMemoryContext */
	TableTypes *tt;
	ListCell   *lc;
	MemoryContext old;
	MYSQL_RES  *res;
	MYSQL_ROW	row;

	foreach(lc, cache)
	{
		tt = (TableTypes *) lfirst(lc);
		if (tt->jt_id == t->id)
			return tt;
	}
	res = mysrc_query(src, psprintf("SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
									"WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
									mysrc_quote(src, t->source_nsp), mysrc_quote(src, t->source_rel)));
	old = MemoryContextSwitchTo(TopMemoryContext);
	tt = palloc0(sizeof(TableTypes));
	tt->jt_id = t->id;
	tt->key_binary = palloc0(sizeof(bool) * list_length(t->key_columns));
	while ((row = mysql_fetch_row(res)) != NULL)
	{
		if (row[0] == NULL || row[1] == NULL)
			continue;
		if (strcmp(row[1], "float") == 0)
			tt->float_columns = lappend(tt->float_columns, pstrdup(row[0]));
		foreach(lc, t->key_columns)
			if (strcmp((char *) lfirst(lc), row[0]) == 0)
				tt->key_binary[foreach_current_index(lc)] =
					(strcmp(row[1], "binary") == 0 || strcmp(row[1], "varbinary") == 0 ||
					 strstr(row[1], "blob") != NULL);
	}
	cache = lappend(cache, tt);
	MemoryContextSwitchTo(old);
	mysql_free_result(res);
	return tt;
}

/*
 * my_table: the source table as `db`.`table`.
 */
static char *
my_table(TributarySource *src, TributaryTable *t)
{
	return psprintf("%s.%s", my_ident(t->source_nsp), my_ident(t->source_rel));
}

/*
 * my_bound_value: the MySQL literal of key column i of a bound (binary
 * strings travel in hex).
 */
static char *
my_bound_value(TributarySource *src, TributaryTable *t, const char *key, int i)
{
	const char *col = (const char *) list_nth(t->key_columns, i);
	char	   *s;

	s = TextDatumGetCString(DirectFunctionCall2(json_object_field_text,
												CStringGetTextDatum(key),
												CStringGetTextDatum(col)));
	if (table_types(src, t)->key_binary[i])
	{
		for (char *p = s; *p; p++)
			if (!isxdigit((unsigned char) *p))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("invalid binary key value \"%s\" in a snapshot bound", s)));
		return psprintf("X'%s'", s);
	}
	return mysrc_quote(src, s);
}

/*
 * my_key_text: a key column as bound text: binary strings in hex, others
 * in utf8mb4 (the session reads strings unconverted; a bound is JSON).
 */
static char *
my_key_text(TributarySource *src, TributaryTable *t, int i, const char *column)
{
	return psprintf(table_types(src, t)->key_binary[i] ? "HEX(%s)" : "CONVERT(%s USING utf8mb4)", column);
}

/* keyset chunking in MySQL's dialect: comparisons spelled out per column */
const TributaryKeysetDialect mysrc_keyset = {
	.ident = my_ident,
	.table = my_table,
	.bound_value = my_bound_value,
	.key_text = my_key_text,
	.row_values = false,
};

/*
 * mysrc_bound_query: run a keyset query (keyset.c) and return the key of
 * its first row as a JSON object, or NULL when it returns no row.
 */
char *
mysrc_bound_query(TributarySource *src, TributaryTable *t, const char *sql)
{
	MYSQL_RES  *res = mysrc_query(src, sql);
	MYSQL_ROW	row = mysql_fetch_row(res);
	char	   *key = NULL;

	if (row)
		key = tributary_keyset_key_json(t, row, mysql_fetch_lengths(res));
	mysql_free_result(res);
	return key;
}

/*
 * mysrc_chunk_upper: the key of the rows-th row after "after", as a JSON
 * object, or NULL when fewer rows remain.
 */
char *
mysrc_chunk_upper(TributarySource *src, TributaryTable *t, const char *after, int64 rows)
{
	return mysrc_bound_query(src, t, tributary_keyset_upper_sql(&mysrc_keyset, src, t, after, rows));
}

/*
 * mysrc_copy_begin: start streaming the copied columns of a chunk.  Only
 * COPY text is produced (binary is never asked for: column_types is not
 * provided).
 */
void
mysrc_copy_begin(TributarySource *src, TributaryTable *t, const char *after, const char *upto,
				 bool binary)
{
	Assert(!binary);
	mysrc_rows_begin(src, t, tributary_keyset_where(&mysrc_keyset, src, t, after, upto));
}

/*
 * mysrc_rows_begin: start streaming the copied columns of the rows "where"
 * (" WHERE ...", or "") selects, in COPY text format.
 */
void
mysrc_rows_begin(TributarySource *src, TributaryTable *t, const char *where)
{
	MYSQL	   *conn = mysrc_conn(src);
	StringInfoData sql;
	MYSQL_FIELD *fields;
	MyCopy	   *cs;
	MemoryContext old;
	List	   *floats = table_types(src, t)->float_columns;

	if (copy_state && copy_state->res)
		mysql_free_result(copy_state->res);
	copy_state = NULL;
	if (copy_cxt == NULL)
		copy_cxt = AllocSetContextCreate(TopMemoryContext, "tributary mysql copy",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(copy_cxt);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < t->nread; i++)
	{
		const char *name = t->read[i].name;
		bool		is_float = false;
		ListCell   *lc;

		foreach(lc, floats)
			if (strcmp(name, (char *) lfirst(lc)) == 0)
				is_float = true;
		if (is_float)
			appendStringInfo(&sql, "%sCAST(%s AS DOUBLE)", i > 0 ? ", " : "", my_ident(name));
		else
			appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "", my_ident(name));
	}
	appendStringInfo(&sql, " FROM %s%s", my_table(src, t), where);

	CHECK_FOR_INTERRUPTS();
	if (myio_query(conn, sql.data, sql.len) != 0)
		mysrc_raise(src, "could not read a snapshot chunk");

	old = MemoryContextSwitchTo(copy_cxt);
	cs = palloc0(sizeof(MyCopy));
	cs->res = mysql_use_result(conn);
	if (cs->res == NULL)
		mysrc_raise(src, "could not read a snapshot chunk");
	cs->src = src;
	cs->table = psprintf("%s.%s", t->source_nsp, t->source_rel);
	cs->nfields = mysql_num_fields(cs->res);
	cs->kinds = palloc(sizeof(MyValueKind) * cs->nfields);
	cs->utc = palloc0(sizeof(bool) * cs->nfields);
	cs->bits = palloc0(sizeof(int) * cs->nfields);
	cs->encodings = palloc(sizeof(int) * cs->nfields);
	cs->names = palloc(sizeof(char *) * cs->nfields);
	fields = mysql_fetch_fields(cs->res);
	for (int i = 0; i < cs->nfields; i++)
	{
		MYSQL_FIELD *f = &fields[i];
		MARIADB_CHARSET_INFO *ci = mariadb_get_charset_by_nr(f->charsetnr);

		cs->names[i] = pstrdup(f->name);
		cs->encodings[i] = myv_charset_encoding(ci ? ci->csname : NULL);
		if (cs->encodings[i] == -2)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of source table [%s] has a character set pg_tributary cannot convert",
							f->name, cs->table),
					 errhint("Convert the column to utf8mb4 on the source.")));
		myv_prepare_conversion(cs->encodings[i]);

		switch (f->type)
		{
			case MYSQL_TYPE_BIT:
				cs->kinds[i] = MYV_BIT;
				cs->bits[i] = Max((int) f->length, 1);
				break;
			case MYSQL_TYPE_GEOMETRY:
				cs->kinds[i] = MYV_GEOMETRY;
				break;
			case MYSQL_TYPE_DATE:
			case MYSQL_TYPE_NEWDATE:
				cs->kinds[i] = MYV_DATE;
				break;
			case MYSQL_TYPE_TIMESTAMP:
			case MYSQL_TYPE_TIMESTAMP2:
				cs->utc[i] = true;
				/* FALLTHROUGH */
			case MYSQL_TYPE_DATETIME:
			case MYSQL_TYPE_DATETIME2:
				cs->kinds[i] = MYV_TIMESTAMP;
				break;
			case MYSQL_TYPE_STRING:
			case MYSQL_TYPE_VAR_STRING:
			case MYSQL_TYPE_VARCHAR:
			case MYSQL_TYPE_TINY_BLOB:
			case MYSQL_TYPE_MEDIUM_BLOB:
			case MYSQL_TYPE_LONG_BLOB:
			case MYSQL_TYPE_BLOB:
				cs->kinds[i] = (f->charsetnr == 63 && !(f->flags & (ENUM_FLAG | SET_FLAG)))
					? MYV_BYTEA : MYV_TEXT;
				break;
			default:
				cs->kinds[i] = MYV_TEXT;
		}
	}
	initStringInfo(&cs->buf);
	copy_state = cs;
	MemoryContextSwitchTo(old);
}

/*
 * append_copy_text: a value in COPY text format, escaped.
 */
static void
append_copy_text(StringInfo out, const char *v, unsigned long len)
{
	const char *start = v;
	const char *end = v + len;

	for (const char *p = v; p < end; p++)
	{
		char		e = 0;

		switch (*p)
		{
			case '\\':
				e = '\\';
				break;
			case '\n':
				e = 'n';
				break;
			case '\r':
				e = 'r';
				break;
			case '\t':
				e = 't';
				break;
			default:
				continue;
		}
		appendBinaryStringInfo(out, start, p - start);
		appendStringInfoChar(out, '\\');
		appendStringInfoChar(out, e);
		start = p + 1;
	}
	appendBinaryStringInfo(out, start, end - start);
}

/*
 * append_value: column i of the current row in COPY text format.
 */
static void
append_value(MyCopy *cs, int i, const char *v, unsigned long len)
{
	StringInfo	out = &cs->buf;

	switch (cs->kinds[i])
	{
		case MYV_TEXT:
			{
				size_t		n;
				const char *conv = myv_to_database(v, len, cs->encodings[i], &n, cs->names[i], cs->table);

				append_copy_text(out, conv, n);
				if (conv != v)
					pfree((char *) conv);
				break;
			}
		case MYV_BYTEA:
			myv_bytea(out, (const uint8 *) v, len, 0, true);
			break;
		case MYV_GEOMETRY:
			{
				const uint8 *wkb;
				size_t		wkb_len;

				if (!myv_geometry_wkb((const uint8 *) v, len, &wkb, &wkb_len))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
							 errmsg("invalid geometry value of %lu bytes in source table [%s]",
									len, cs->table)));
				myv_bytea(out, wkb, wkb_len, 0, true);
				break;
			}
		case MYV_BIT:
			myv_bits(out, (const uint8 *) v, len, cs->bits[i]);
			break;
		case MYV_DATE:
		case MYV_TIMESTAMP:
			if (myv_is_zero_date(v, len))
			{
				const char *r = myv_zero_date(cs->src->job.zero_date, v, len, cs->names[i], cs->table,
											  "read by the snapshot");

				appendStringInfoString(out, r ? r : "\\N");
				break;
			}
			appendBinaryStringInfo(out, v, len);
			if (cs->utc[i])
				appendStringInfoString(out, "+00");
			break;
	}
}

/*
 * mysrc_copy_read: the next block of the chunk in COPY text format (whole
 * rows, about COPY_BLOCK_BYTES), or -1 at its end.
 */
int
mysrc_copy_read(TributarySource *src, char **buf)
{
	MyCopy	   *cs = copy_state;
	MYSQL	   *conn = mysrc_conn(src);

	if (cs == NULL || cs->res == NULL)
		return -1;
	resetStringInfo(&cs->buf);
	while (cs->buf.len < COPY_BLOCK_BYTES)
	{
		MYSQL_ROW	row = myio_fetch_row(cs->res);
		unsigned long *lens;

		if (row == NULL)
		{
			if (mysql_errno(conn) != 0)
			{
				char	   *msg = pstrdup(mysql_error(conn));
				unsigned int err = mysql_errno(conn);

				mysql_free_result(cs->res);
				cs->res = NULL;
				mysrc_raise_saved(src, "snapshot read failed", err, msg);
			}
			mysql_free_result(cs->res);
			cs->res = NULL;
			break;
		}
		lens = mysql_fetch_lengths(cs->res);
		for (int i = 0; i < cs->nfields; i++)
		{
			if (i > 0)
				appendStringInfoChar(&cs->buf, '\t');
			if (row[i] == NULL)
				appendStringInfoString(&cs->buf, "\\N");
			else
				append_value(cs, i, row[i], lens[i]);
		}
		appendStringInfoChar(&cs->buf, '\n');
	}
	CHECK_FOR_INTERRUPTS();
	if (ShutdownRequestPending)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("stop requested during the snapshot")));
	if (cs->buf.len == 0)
		return -1;
	*buf = cs->buf.data;
	return cs->buf.len;
}

/*
 * mysrc_snapshot_join: a snapshot helper's view: MySQL cannot share a
 * consistent view between connections (no exported view is ever named),
 * so a new consistent snapshot of this connection (the helper records its
 * position).
 */
void
mysrc_snapshot_join(TributarySource *src, const char *view)
{
	mysrc_snapshot_begin(src);
}
