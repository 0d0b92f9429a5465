/*-------------------------------------------------------------------------
 *
 * pg_parts.c
 *		The leaf partitions of a partitioned PostgreSQL source table, for
 *		part_watch.c.
 *
 * Attaching a table as a partition, detaching one and dropping one change
 * the rows of the partitioned table without a single change in the WAL,
 * so logical decoding never sees them.  The leaves are read from
 * pg_inherits with the connection's own snapshot (inside the job's
 * snapshot transaction: the rows the copy reads), by a recursive query
 * rather than pg_partition_tree(), which reads the latest catalog.
 *
 * A leaf's id is its OID followed by the xmin of every pg_inherits row on
 * its path to the root: detaching and attaching again writes new rows, so
 * the id changes.  A leaf was created as a partition when every link on
 * its path was written by the transaction that created the child's row
 * type (CREATE TABLE ... PARTITION OF, whole trees included); an ATTACH
 * writes the link in a later transaction.  pg_inherits rows frozen later
 * keep their raw xmin, which is what the xmin column shows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "catalog.h"
#include "source/connector.h"
#include "source/pg_libpq.h"
#include "source/pg_stream.h"

/*
 * The table itself (depth 0, when partitioned) and every partition below
 * it, not those being detached concurrently (already gone for new
 * snapshots; the condition on pg_inherits.inhdetachpending, which exists
 * from PostgreSQL 14 on, goes where the %s is).  to_regclass: a table
 * dropped since lists nothing.
 */
static const char *const parts_sql =
"WITH RECURSIVE tree(relid, depth, path, created) AS ( "
"  SELECT c.oid, 0, ''::text, true "
"    FROM pg_catalog.pg_class c "
"   WHERE c.oid = pg_catalog.to_regclass($1) AND c.relkind = 'p' "
"  UNION ALL "
"  SELECT i.inhrelid, tree.depth + 1, tree.path || '/' || i.xmin::text, "
"         tree.created AND coalesce(ty.xmin = i.xmin, false) "
"    FROM tree JOIN pg_catalog.pg_inherits i ON i.inhparent = tree.relid%s "
"    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
"    LEFT JOIN pg_catalog.pg_type ty ON ty.oid = c.reltype) "
"SELECT tree.depth, c.relkind = 'p', c.oid::text || tree.path, "
"       pg_catalog.format('%%s.%%s', n.nspname, c.relname), tree.created "
"  FROM tree JOIN pg_catalog.pg_class c ON c.oid = tree.relid "
"  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
" ORDER BY 3";

/*
 * pg_parts: the leaf partitions of t (TributaryPart, ordered by id) in the
 * normal connection's current view; *partitioned false and NIL when t is
 * not a partitioned table (or no longer exists).
 */
List *
pg_parts(TributarySource *src, TributaryTable *t, bool *partitioned)
{
	char	   *name = quote_qualified_identifier(t->source_nsp, t->source_rel);
	const char *params[1] = {name};
	PGresult   *res;
	List	   *parts = NIL;

	if (src->conn == NULL)
		elog(ERROR, "source \"%s\" is not connected", src->cfg.name);
	res = tributary_pq_query((PGconn *) src->conn, src->cfg.name,
							 psprintf(parts_sql, PQserverVersion((PGconn *) src->conn) >= 140000 ?
									  " AND NOT i.inhdetachpending" : ""),
							 1, params);
	*partitioned = false;
	for (int i = 0; i < PQntuples(res); i++)
	{
		TributaryPart *p;

		if (strcmp(PQgetvalue(res, i, 0), "0") == 0)
		{
			*partitioned = true;
			continue;
		}
		if (PQgetvalue(res, i, 1)[0] == 't')
			continue;			/* a partitioned partition: its leaves are listed */
		p = palloc(sizeof(TributaryPart));
		p->id = pstrdup(PQgetvalue(res, i, 2));
		p->name = pstrdup(PQgetvalue(res, i, 3));
		p->created = (PQgetvalue(res, i, 4)[0] == 't');
		parts = lappend(parts, p);
	}
	PQclear(res);
	return parts;
}
