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

#include "lib/stringinfo.h"
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

/*
 * pg_table_ids: the OID of every job table (char *, in the tables' order;
 * NULL for a table that does not exist), read with the connection's own
 * snapshot, in one query: the names go as one parameter, separated by
 * chr(1).  A table dropped and created again under its name has another
 * OID, which the WAL does not say.
 */
List *
pg_table_ids(TributarySource *src, List *tables)
{
	StringInfoData names;
	const char *params[1];
	PGresult   *res;
	List	   *ids = NIL;
	ListCell   *lc;

	if (src->conn == NULL)
		elog(ERROR, "source \"%s\" is not connected", src->cfg.name);
	if (tables == NIL)
		return NIL;
	initStringInfo(&names);
	foreach(lc, tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);

		appendStringInfo(&names, "%s%s\001%s", foreach_current_index(lc) > 0 ? "\001" : "",
						 t->source_nsp, t->source_rel);
	}
	params[0] = names.data;
	res = tributary_pq_query((PGconn *) src->conn, src->cfg.name,
							 "WITH x AS (SELECT v, o FROM unnest(pg_catalog.string_to_array($1, chr(1))) "
							 "                    WITH ORDINALITY AS x(v, o)) "
							 "SELECT (SELECT c.oid::text FROM pg_catalog.pg_class c "
							 "          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
							 "         WHERE n.nspname = s.v AND c.relname = r.v) "
							 "  FROM x s JOIN x r ON r.o = s.o + 1 "
							 " WHERE s.o % 2 = 1 ORDER BY s.o",
							 1, params);
	if (PQntuples(res) != list_length(tables))
	{
		PQclear(res);
		elog(ERROR, "source \"%s\" gave %d table identities for %d tables", src->cfg.name,
			 PQntuples(res), list_length(tables));
	}
	for (int i = 0; i < PQntuples(res); i++)
		ids = lappend(ids, PQgetisnull(res, i, 0) ? NULL : pstrdup(PQgetvalue(res, i, 0)));
	PQclear(res);
	return ids;
}
