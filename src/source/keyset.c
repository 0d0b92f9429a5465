/*-------------------------------------------------------------------------
 *
 * keyset.c
 *		Keyset chunking of snapshot reads, shared by the SQL source kinds.
 *
 * A table is copied in chunks of snapshot_chunk_rows rows in primary key
 * order.  A chunk is the rows after one key bound up to and including the
 * next; a bound is a JSON object mapping key column names to their values
 * as text, stored in the catalog so that a restarted job resumes at its
 * first uncopied chunk.  The upper bound of a chunk is the key of the
 * rows-th row after its lower bound.  The dialect (keyset.h) says how a
 * kind quotes names, reads keys as text and writes them back as values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/json.h"

#include "source/keyset.h"

/*
 * key_column: the name of key column i.
 */
static const char *
key_column(TributaryTable *t, int i)
{
	return (const char *) list_nth(t->key_columns, i);
}

/*
 * tributary_keyset_bound: the condition "key op bound" (op ">" or "<="), as a row
 * comparison or spelled out: (k1 > v1) OR (k1 = v1 AND k2 > v2) ..., the
 * last column compared with op, the others strictly.
 */
char *
tributary_keyset_bound(const TributaryKeysetDialect *d, TributarySource *src, TributaryTable *t,
					   const char *op, const char *key)
{
	int			n = list_length(t->key_columns);
	char	  **vals = palloc(sizeof(char *) * n);
	StringInfoData buf;

	for (int i = 0; i < n; i++)
		vals[i] = d->bound_value(src, t, key, i);
	initStringInfo(&buf);
	if (d->row_values)
	{
		appendStringInfoChar(&buf, '(');
		for (int i = 0; i < n; i++)
			appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", d->ident(key_column(t, i)));
		appendStringInfo(&buf, ") %s (", op);
		for (int i = 0; i < n; i++)
			appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", vals[i]);
		appendStringInfoChar(&buf, ')');
		return buf.data;
	}
	appendStringInfoChar(&buf, '(');
	for (int i = 0; i < n; i++)
	{
		bool		last = (i == n - 1);
		const char *cmp = (strcmp(op, ">") == 0) ? ">" : (last ? "<=" : "<");

		if (i > 0)
			appendStringInfoString(&buf, " OR ");
		appendStringInfoChar(&buf, '(');
		for (int j = 0; j < i; j++)
			appendStringInfo(&buf, "%s = %s AND ", d->ident(key_column(t, j)), vals[j]);
		appendStringInfo(&buf, "%s %s %s)", d->ident(key_column(t, i)), cmp, vals[i]);
	}
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * tributary_keyset_where: " WHERE ..." of the chunk (after, upto], either
 * bound NULL for none; "" for a whole table (filters are evaluated on the
 * target: transform.c).
 */
char *
tributary_keyset_where(const TributaryKeysetDialect *d, TributarySource *src, TributaryTable *t,
					   const char *after, const char *upto)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (after)
		appendStringInfo(&buf, " WHERE %s", tributary_keyset_bound(d, src, t, ">", after));
	if (upto)
		appendStringInfo(&buf, "%s%s", buf.len ? " AND " : " WHERE ", tributary_keyset_bound(d, src, t, "<=", upto));
	return buf.data;
}

/*
 * tributary_keyset_upper_sql: the query whose one row (none when fewer
 * rows remain) holds the key columns, as bound text, of the rows-th row
 * after "after" (NULL: from the first row).
 */
char *
tributary_keyset_upper_sql(const TributaryKeysetDialect *d, TributarySource *src, TributaryTable *t,
						   const char *after, int64 rows)
{
	return tributary_keyset_nth_sql(d, src, t, tributary_keyset_where(d, src, t, after, NULL),
									rows, false);
}

/*
 * tributary_keyset_nth_sql: the query whose one row holds the key columns,
 * as bound text, of the rows-th row in key order (last: the last row,
 * rows unused) among the rows "where" (" WHERE ...", or "") selects.
 */
char *
tributary_keyset_nth_sql(const TributaryKeysetDialect *d, TributarySource *src, TributaryTable *t,
						 const char *where, int64 rows, bool last)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < list_length(t->key_columns); i++)
		appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "", d->key_text(src, t, i, d->ident(key_column(t, i))));
	appendStringInfo(&sql, " FROM %s%s ORDER BY ", d->table(src, t), where);
	for (int i = 0; i < list_length(t->key_columns); i++)
		appendStringInfo(&sql, "%s%s%s", i > 0 ? ", " : "", d->ident(key_column(t, i)),
						 last ? " DESC" : "");
	if (last)
		appendStringInfoString(&sql, " LIMIT 1");
	else
		appendStringInfo(&sql, " LIMIT 1 OFFSET " INT64_FORMAT, rows - 1);
	return sql.data;
}

/*
 * tributary_keyset_at_least: the condition "first key column >= its value
 * in key" (a bound naming that column at least).
 */
char *
tributary_keyset_at_least(const TributaryKeysetDialect *d, TributarySource *src, TributaryTable *t,
						  const char *key)
{
	return psprintf("%s >= %s", d->ident(key_column(t, 0)), d->bound_value(src, t, key, 0));
}

/*
 * tributary_keyset_key_json: a bound from the key columns' text values
 * (the row of the upper-bound query).
 */
char *
tributary_keyset_key_json(TributaryTable *t, char **values, const unsigned long *lens)
{
	StringInfoData obj;

	initStringInfo(&obj);
	appendStringInfoChar(&obj, '{');
	for (int i = 0; i < list_length(t->key_columns); i++)
	{
		if (i > 0)
			appendStringInfoString(&obj, ", ");
		escape_json(&obj, key_column(t, i));
		appendStringInfoString(&obj, ": ");
		escape_json(&obj, pnstrdup(values[i], lens[i]));
	}
	appendStringInfoChar(&obj, '}');
	return obj.data;
}
