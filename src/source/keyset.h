/*-------------------------------------------------------------------------
 *
 * keyset.h
 *		Keyset chunking of snapshot reads, for every SQL source kind (see
 *		keyset.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_KEYSET_H
#define TRIBUTARY_KEYSET_H

#include "catalog.h"

/*
 * What differs between SQL dialects.  ident quotes an identifier; table
 * names the source table as a FROM item (its own rows only); bound_value is the SQL value of key column i of
 * a bound (a JSON object of key column names to their text); key_text is
 * the select-list expression reading key column i (quoted as "column") as
 * that text.  row_values: the dialect compares (k1, k2) > (v1, v2) with
 * its index (PostgreSQL); else the comparison is spelled out column by
 * column (MySQL's optimizer uses indexes only for that form).
 */
typedef struct TributaryKeysetDialect
{
	char	   *(*ident) (const char *name);
	char	   *(*table) (TributarySource *src, TributaryTable *t);
	char	   *(*bound_value) (TributarySource *src, TributaryTable *t, const char *key, int i);
	char	   *(*key_text) (TributarySource *src, TributaryTable *t, int i, const char *column);
	bool		row_values;
} TributaryKeysetDialect;

extern char *tributary_keyset_where(const TributaryKeysetDialect *d, TributarySource *src,
									TributaryTable *t, const char *after, const char *upto);
extern char *tributary_keyset_upper_sql(const TributaryKeysetDialect *d, TributarySource *src,
										TributaryTable *t, const char *after, int64 rows);
extern char *tributary_keyset_nth_sql(const TributaryKeysetDialect *d, TributarySource *src,
									 TributaryTable *t, const char *where, int64 rows, bool last);
extern char *tributary_keyset_bound(const TributaryKeysetDialect *d, TributarySource *src,
									TributaryTable *t, const char *op, const char *key);
extern char *tributary_keyset_at_least(const TributaryKeysetDialect *d, TributarySource *src,
									   TributaryTable *t, const char *key);
extern char *tributary_keyset_key_json(TributaryTable *t, char **values, const unsigned long *lens);

#endif							/* TRIBUTARY_KEYSET_H */
