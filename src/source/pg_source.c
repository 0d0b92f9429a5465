/*-------------------------------------------------------------------------
 *
 * pg_source.c
 *		The PostgreSQL source connector: connection, table descriptions and
 *		the prerequisite checks of check_source.
 *
 * Checks, in order: connection, wal_level, replication privilege, free
 * replication slots, free WAL senders, output_plugin_libraries (PostgreSQL
 * 15.19 and later only let replication clients use the plugins it lists),
 * whether tributary_decoder is installed and allowed (tested by creating a
 * temporary slot with it), which decoder a job will use and why, and per
 * table: existence, primary key and REPLICA IDENTITY FULL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "catalog.h"
#include "source/connector.h"
#include "source/keyset.h"
#include "source/pg_libpq.h"
#include "source/pg_stream.h"

#define CHECK_TIMEOUT_MS	5000

/* the COPY data block handed out last, freed on the next read */
static char *pg_copybuf = NULL;

/*
 * pg_conn: the open connection of a source, or an error if there is none.
 */
static PGconn *
pg_conn(TributarySource *src)
{
	if (src->conn == NULL)
		elog(ERROR, "source \"%s\" is not connected", src->cfg.name);
	return (PGconn *) src->conn;
}

/*
 * pg_try_connect: connect as a normal client.
 */
static char *
pg_try_connect(TributarySource *src, const char *appname)
{
	char	   *err;

	src->conn = tributary_pq_connect(src->cfg.conninfo, appname, false,
									 src->cfg.connect_timeout, &err);
	if (src->conn && src->cfg.password_required && !PQconnectionUsedPassword((PGconn *) src->conn))
	{
		PQfinish((PGconn *) src->conn);
		src->conn = NULL;
		tributary_password_refused(src);
	}
	if (src->conn)
	{
		/*
		 * A read-only session whose text output does not depend on the
		 * source's defaults (publication DDL opens its own read-write
		 * transaction).  An empty search_path, as PostgreSQL's own
		 * subscriber sets: no object of the source's users can stand in
		 * for a catalog one, and type names and expressions come
		 * schema-qualified (a composite's attribute types, domain checks
		 * calling functions), so the target resolves them as the source
		 * did.
		 */
		PGresult   *res = tributary_pq_exec((PGconn *) src->conn,
											"SELECT pg_catalog.set_config('default_transaction_read_only', 'on', false), "
											"pg_catalog.set_config('search_path', '', false), "
											"pg_catalog.set_config('datestyle', 'ISO', false), "
											"pg_catalog.set_config('intervalstyle', 'postgres', false), "
											"pg_catalog.set_config('extra_float_digits', '3', false), "
											"pg_catalog.set_config('bytea_output', 'hex', false), "
											"pg_catalog.set_config('timezone', 'UTC', false)",
											0, NULL, src->cfg.connect_timeout * 1000);

		if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			err = res ? pchomp(PQresultErrorMessage(res)) : pchomp(PQerrorMessage((PGconn *) src->conn));
			PQclear(res);
			PQfinish((PGconn *) src->conn);
			src->conn = NULL;
			return err;
		}
		PQclear(res);
	}
	return err;
}

/*
 * pg_disconnect: close the connection, if open.
 */
static void
pg_disconnect(TributarySource *src)
{
	if (pg_copybuf)
		PQfreemem(pg_copybuf);
	pg_copybuf = NULL;
	if (src->conn)
		PQfinish((PGconn *) src->conn);
	src->conn = NULL;
}

static const char *describe_sql =
"SELECT json_build_object("
"  'wal_level', current_setting('wal_level'),"
"  'replident', c.relreplident,"
"  'relkind', c.relkind,"
"  'persistence', c.relpersistence,"
"  'types', coalesce((SELECT json_agg(json_build_object("
"       'schema', tn.nspname, 'name', t.typname, 'kind', t.typtype, 'notnull', t.typnotnull,"
"       'labels', CASE WHEN t.typtype = 'e' THEN (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)"
"                   FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) END,"
"       'base', CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,"
"       'checks', coalesce((SELECT json_agg(pg_catalog.pg_get_expr(con.conbin, 0) ORDER BY con.conname)"
"                   FROM pg_catalog.pg_constraint con WHERE con.contypid = t.oid AND con.contype = 'c'), '[]'::json),"
"       'subtype', CASE WHEN t.typtype = 'r' THEN (SELECT pg_catalog.format_type(r.rngsubtype, NULL)"
"                   FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) END,"
"       'attrs', CASE WHEN t.typtype = 'c' THEN (SELECT json_agg(json_build_object('name', ta.attname,"
"                   'type', pg_catalog.format_type(ta.atttypid, ta.atttypmod)) ORDER BY ta.attnum)"
"                   FROM pg_catalog.pg_attribute ta WHERE ta.attrelid = t.typrelid AND ta.attnum > 0 AND NOT ta.attisdropped) END)"
"       ORDER BY CASE t.typtype WHEN 'e' THEN 0 WHEN 'd' THEN 1 WHEN 'r' THEN 2 ELSE 3 END, tn.nspname, t.typname)"
"     FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace"
"     WHERE t.typtype IN ('e', 'd', 'r', 'c') AND tn.nspname NOT IN ('pg_catalog', 'information_schema')"
"       AND t.oid IN (SELECT CASE WHEN et.typcategory = 'A' AND et.typelem <> 0 THEN et.typelem ELSE et.oid END"
"                       FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type et ON et.oid = a.atttypid"
"                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)), '[]'::json),"
"  'indexes', coalesce((SELECT json_agg(json_build_object('name', ic.relname, 'unique', i.indisunique,"
"       'simple', i.indexprs IS NULL AND i.indpred IS NULL AND am.amname = 'btree' AND i.indimmediate,"
"       'columns', (SELECT json_agg(ia.attname ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)"
"                    JOIN pg_catalog.pg_attribute ia ON ia.attrelid = c.oid AND ia.attnum = k.attnum"
"                   WHERE k.n <= i.indnkeyatts),"
"       'method', am.amname, 'immediate', i.indimmediate,"
"       'keys', (SELECT json_agg(json_build_object('text', pg_catalog.pg_get_indexdef(i.indexrelid, k.n::int, false),"
"                    'expr', k.attnum = 0) ORDER BY k.n)"
"                  FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) WHERE k.n <= i.indnkeyatts),"
"       'include', (SELECT json_agg(ia.attname ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)"
"                    JOIN pg_catalog.pg_attribute ia ON ia.attrelid = c.oid AND ia.attnum = k.attnum"
"                   WHERE k.n > i.indnkeyatts),"
"       'predicate', pg_catalog.pg_get_expr(i.indpred, i.indrelid),"
"       'default_opclasses', NOT EXISTS (SELECT FROM unnest(i.indclass::oid[]) AS oc(oid)"
"                    JOIN pg_catalog.pg_opclass opc ON opc.oid = oc.oid WHERE NOT opc.opcdefault)"
"       ) ORDER BY ic.relname)"
"     FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
"     JOIN pg_catalog.pg_am am ON am.oid = ic.relam"
"     WHERE i.indrelid = c.oid AND NOT i.indisprimary AND i.indisvalid), '[]'::json),"
"  'checks', coalesce((SELECT json_agg(json_build_object('name', con.conname,"
"       'expr', pg_catalog.pg_get_expr(con.conbin, con.conrelid)) ORDER BY con.conname)"
"     FROM pg_catalog.pg_constraint con WHERE con.conrelid = c.oid AND con.contype = 'c' AND con.convalidated), '[]'::json),"
"  'partition_family', coalesce((SELECT json_agg(pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(fc.relname))"
"     FROM (SELECT relid FROM pg_catalog.pg_partition_ancestors(c.oid) WHERE c.relispartition"
"           UNION SELECT relid FROM pg_catalog.pg_partition_tree(c.oid) WHERE c.relkind = 'p') f"
"     JOIN pg_catalog.pg_class fc ON fc.oid = f.relid JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace"
"     WHERE f.relid <> c.oid), '[]'::json),"
"  'partitions_not_full', CASE WHEN c.relkind = 'p' THEN (SELECT json_agg(x.name ORDER BY x.name)"
"     FROM (SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(pc.relname) AS name"
"             FROM pg_catalog.pg_partition_tree(c.oid) pt JOIN pg_catalog.pg_class pc ON pc.oid = pt.relid"
"             JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace"
"            WHERE pt.isleaf AND pc.relreplident <> 'f') x) END,"
"  'columns', (SELECT json_agg(json_build_object("
"       'name', a.attname, 'pg_type', pg_catalog.format_type(a.atttypid, a.atttypmod),"
"       'type_schema', (SELECT tn.nspname FROM pg_catalog.pg_type ty"
"                        JOIN pg_catalog.pg_namespace tn ON tn.oid = ty.typnamespace WHERE ty.oid = a.atttypid),"
"       'type_oid', a.atttypid, 'typmod', a.atttypmod, 'not_null', a.attnotnull,"
"       'default', (SELECT pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) FROM pg_catalog.pg_attrdef ad"
"                    WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum),"
"       'collation', (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)"
"                       FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace"
"                       JOIN pg_catalog.pg_type ct ON ct.oid = a.atttypid"
"                      WHERE co.oid = a.attcollation AND a.attcollation <> ct.typcollation))"
"       ORDER BY a.attnum)"
"     FROM pg_catalog.pg_attribute a"
"     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''),"
"  'generated', coalesce((SELECT json_agg(json_build_object("
"       'name', a.attname, 'pg_type', pg_catalog.format_type(a.atttypid, a.atttypmod),"
"       'expr', pg_catalog.pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum)"
"     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
"     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''), '[]'::json),"
"  'key_timing', (SELECT CASE WHEN pc.condeferred THEN 'deferred' ELSE 'deferrable' END"
"     FROM pg_catalog.pg_constraint pc WHERE pc.conrelid = c.oid AND pc.contype = 'p' AND pc.condeferrable),"
"  'key', coalesce((SELECT json_agg(a.attname ORDER BY k.n)"
"     FROM pg_catalog.pg_index i,"
"          unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n),"
"          pg_catalog.pg_attribute a"
"     WHERE i.indrelid = c.oid AND i.indisprimary AND k.n <= i.indnkeyatts"
"       AND a.attrelid = c.oid AND a.attnum = k.attnum), '[]'::json))::text"
"  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
" WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')";

/*
 * pg_list_tables: the ordinary and partitioned tables outside the system
 * schemas.
 */
static List *
pg_list_tables(TributarySource *src)
{
	PGresult   *res = tributary_pq_query(pg_conn(src), src->cfg.name,
										 "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
										 "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
										 "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
										 "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
										 "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "
										 "ORDER BY 1, 2", 0, NULL);
	List	   *tables = NIL;

	for (int i = 0; i < PQntuples(res); i++)
	{
		char	  **pair = palloc(sizeof(char *) * 2);

		pair[0] = pstrdup(PQgetvalue(res, i, 0));
		pair[1] = pstrdup(PQgetvalue(res, i, 1));
		tables = lappend(tables, pair);
	}
	PQclear(res);
	return tables;
}

/*
 * pg_describe_table: a table's columns (with their PostgreSQL type names),
 * primary key, replica identity and the server's wal_level, as JSON text;
 * NULL when there is no such table.
 */
static char *
pg_describe_table(TributarySource *src, const char *nsp, const char *rel)
{
	const char *params[2] = {nsp, rel};
	PGresult   *res;
	char	   *json = NULL;

	res = tributary_pq_query(pg_conn(src), src->cfg.name, describe_sql, 2, params);
	if (PQntuples(res) > 0)
		json = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return json;
}

/*
 * pg_scalar: the first value of a query's single row, or NULL (SQL NULL or
 * no row).
 */
static char *
pg_scalar(TributarySource *src, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = tributary_pq_query(pg_conn(src), src->cfg.name, sql, nparams, params);
	char	   *val = NULL;

	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		val = pstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return val;
}

/*
 * plugin_list_has: whether a comma-separated plugin list names a plugin.
 */
static bool
plugin_list_has(const char *list, const char *plugin)
{
	char	   *copy = pstrdup(list);
	List	   *names;
	ListCell   *lc;
	bool		found = false;

	if (!SplitIdentifierString(copy, ',', &names))
		return false;
	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), plugin) == 0)
			found = true;
	return found;
}

/*
 * test_decoder_slot: try to create (and drop) a temporary logical slot
 * with tributary_decoder: the one reliable test that the plugin is
 * installed and allowed.  Returns NULL on success or the source's error.
 */
static char *
test_decoder_slot(TributarySource *src)
{
	PGconn	   *conn = pg_conn(src);
	PGresult   *res;
	char	   *err = NULL;

	res = tributary_pq_exec(conn, "SET statement_timeout = '5s'", 0, NULL, CHECK_TIMEOUT_MS);
	PQclear(res);
	res = tributary_pq_exec(conn,
							"SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
							"FROM pg_catalog.pg_create_logical_replication_slot("
							"'tributary_check_' || pg_catalog.pg_backend_pid(), 'tributary_decoder', true)",
							0, NULL, CHECK_TIMEOUT_MS * 2);
	if (res == NULL)
		err = pchomp(PQerrorMessage(conn));
	else if (PQresultStatus(res) != PGRES_TUPLES_OK)
		err = pchomp(PQresultErrorMessage(res));
	PQclear(res);
	res = tributary_pq_exec(conn, "RESET statement_timeout", 0, NULL, CHECK_TIMEOUT_MS);
	PQclear(res);
	return err;
}

/*
 * pg_run_checks: the PostgreSQL prerequisites, one emitted row each.
 */
static void
pg_run_checks(TributarySource *src, List *tables, TributaryCheckEmit emit, void *arg)
{
	char	   *version = pg_scalar(src, "SELECT current_setting('server_version_num')", 0, NULL);
	int			version_num = atoi(version);
	char	   *wal_level = pg_scalar(src, "SELECT current_setting('wal_level')", 0, NULL);
	char	   *user = pg_scalar(src, "SELECT current_user", 0, NULL);
	char	   *dbname = pg_scalar(src, "SELECT current_database()", 0, NULL);
	char	   *can_replicate = pg_scalar(src,
										  "SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
										  0, NULL);
	char	   *free_slots = pg_scalar(src,
									   "SELECT current_setting('max_replication_slots')::int - "
									   "(SELECT count(*) FROM pg_catalog.pg_replication_slots)",
									   0, NULL);
	char	   *free_senders = pg_scalar(src,
										 "SELECT current_setting('max_wal_senders')::int - "
										 "(SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender')",
										 0, NULL);
	char	   *can_read_settings = pg_scalar(src,
											  "SELECT rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') "
											  "FROM pg_catalog.pg_roles WHERE rolname = current_user",
											  0, NULL);
	bool		plugins_readable = (can_read_settings && strcmp(can_read_settings, "t") == 0);
	char	   *plugins = plugins_readable ?
		pg_scalar(src, "SELECT current_setting('output_plugin_libraries', true)", 0, NULL) : NULL;
	bool		logical = (strcmp(wal_level, "logical") == 0);
	bool		replicate = (can_replicate && strcmp(can_replicate, "t") == 0);
	bool		listed = (plugins == NULL || plugin_list_has(plugins, "tributary_decoder"));
	char	   *decoder_err = NULL;
	bool		decoder_ok = false;
	const char *wanted = src->cfg.decoder ? src->cfg.decoder : "auto";
	const char *use;
	char	   *why;
	char	   *plugins_line;
	ListCell   *lc;

	emit(arg, "connection", true,
		 psprintf("connected to PostgreSQL %d.%d as \"%s\", database \"%s\"",
				  version_num / 10000, version_num % 10000, user, dbname),
		 NULL);

	if (logical)
		emit(arg, "wal_level", true, "wal level is logical", NULL);
	else
		emit(arg, "wal_level", false,
			 psprintf("source [%s] wal level is %s, should be set to logical", dbname, wal_level),
			 "On the source run ALTER SYSTEM SET wal_level = logical; and restart it.");

	if (replicate)
		emit(arg, "replication_privilege", true,
			 psprintf("role \"%s\" may start replication", user), NULL);
	else
		emit(arg, "replication_privilege", false,
			 psprintf("role \"%s\" has neither REPLICATION nor SUPERUSER", user),
			 psprintf("On the source run ALTER ROLE %s REPLICATION;", quote_identifier(user)));

	if (atoi(free_slots) > 0)
		emit(arg, "replication_slots", true, psprintf("%s replication slots free", free_slots), NULL);
	else
		emit(arg, "replication_slots", false, "no replication slot is free",
			 "Raise max_replication_slots on the source (restart needed), or drop unused slots.");

	if (atoi(free_senders) > 0)
		emit(arg, "wal_senders", true, psprintf("%s WAL senders free", free_senders), NULL);
	else
		emit(arg, "wal_senders", false, "no WAL sender is free",
			 "Raise max_wal_senders on the source (restart needed).");

	plugins_line = psprintf("output_plugin_libraries = '%s, tributary_decoder'",
							plugins ? plugins : "pgoutput, test_decoding");
	if (!plugins_readable)
		emit(arg, "output_plugin_libraries", false,
			 psprintf("role \"%s\" may not read output_plugin_libraries; the tributary_decoder check below tells whether the plugin may be used", user),
			 psprintf("On the source run GRANT pg_read_all_settings TO %s;", quote_identifier(user)));
	else if (plugins == NULL)
		emit(arg, "output_plugin_libraries", true,
			 "the source does not restrict output plugins (no output_plugin_libraries setting)", NULL);
	else if (listed)
		emit(arg, "output_plugin_libraries", true,
			 psprintf("output_plugin_libraries is '%s' and allows tributary_decoder", plugins), NULL);
	else
		emit(arg, "output_plugin_libraries", false,
			 psprintf("output_plugin_libraries is '%s' and does not allow tributary_decoder", plugins),
			 psprintf("To use tributary_decoder, set %s in the source's postgresql.conf and reload it; otherwise jobs use pgoutput.",
					  plugins_line));

	if (!logical)
		decoder_err = pstrdup("cannot be tested while wal_level is not logical");
	else if (!replicate)
		decoder_err = pstrdup("cannot be tested without the REPLICATION privilege");
	else if (atoi(free_slots) <= 0)
		decoder_err = pstrdup("cannot be tested without a free replication slot");
	else
	{
		decoder_err = test_decoder_slot(src);
		decoder_ok = (decoder_err == NULL);
	}
	if (decoder_ok)
		emit(arg, "tributary_decoder", true, "tributary_decoder is installed and allowed", NULL);
	else
		emit(arg, "tributary_decoder", false,
			 psprintf("tributary_decoder cannot be used: %s", decoder_err),
			 listed ? "Install the tributary_decoder package on the source (make install-decoder), or let jobs use pgoutput."
			 : psprintf("Set %s on the source and install tributary_decoder there, or let jobs use pgoutput.",
						plugins_line));

	/* which decoder a job will use, and why */
	if (strcmp(wanted, "tributary_decoder") == 0)
	{
		use = decoder_ok ? "tributary_decoder" : NULL;
		why = decoder_ok ? pstrdup("the source option decoder asks for it")
			: pstrdup("the source option decoder asks for tributary_decoder, which cannot be used");
	}
	else if (strcmp(wanted, "pgoutput") == 0)
	{
		use = "pgoutput";
		why = pstrdup("the source option decoder asks for it");
	}
	else if (decoder_ok)
	{
		use = "tributary_decoder";
		why = pstrdup("decoder is auto and tributary_decoder is installed and allowed");
	}
	else
	{
		use = "pgoutput";
		why = pstrdup("decoder is auto and tributary_decoder cannot be used");
	}
	if (use && strcmp(use, "pgoutput") == 0 && version_num < 140000)
		emit(arg, "decoder", false,
			 psprintf("pgoutput of PostgreSQL %d lacks protocol version 2, which jobs need", version_num / 10000),
			 "Install tributary_decoder on the source.");
	else if (use)
		emit(arg, "decoder", true, psprintf("%s will be used: %s", use, why), NULL);
	else
		emit(arg, "decoder", false, why,
			 psprintf("Install tributary_decoder on the source and set %s, or set the source option decoder to auto.",
					  plugins_line));

	foreach(lc, tables)
	{
		char	   *qualified = (char *) lfirst(lc);
		List	   *parts = NIL;
		char	   *copy = pstrdup(qualified);
		char	   *nsp;
		char	   *rel;
		const char *params[2];
		PGresult   *res;

		if (!SplitIdentifierString(copy, '.', &parts) || list_length(parts) != 2)
		{
			emit(arg, psprintf("table %s", qualified), false,
				 psprintf("\"%s\" is not a schema.table name", qualified),
				 "Name source tables as schema.table.");
			continue;
		}
		nsp = (char *) linitial(parts);
		rel = (char *) lsecond(parts);
		params[0] = nsp;
		params[1] = rel;
		res = tributary_pq_query(pg_conn(src), src->cfg.name,
								 "SELECT c.relreplident, EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
								 "WHERE i.indrelid = c.oid AND i.indisprimary), "
								 "CASE WHEN c.relkind = 'p' THEN (SELECT pg_catalog.string_agg(x.name, ', ' ORDER BY x.name) "
								 "  FROM (SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(pc.relname) AS name "
								 "    FROM pg_catalog.pg_partition_tree(c.oid) pt JOIN pg_catalog.pg_class pc ON pc.oid = pt.relid "
								 "    JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace "
								 "   WHERE pt.isleaf AND pc.relreplident <> 'f') x) END, c.relkind "
								 "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
								 "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
								 2, params);
		if (PQntuples(res) == 0)
		{
			PQclear(res);
			emit(arg, psprintf("table %s.%s", nsp, rel), false,
				 psprintf("source table [%s.%s] does not exist", nsp, rel),
				 "Check the table name; source tables are named schema.table.");
			continue;
		}
		if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
			emit(arg, psprintf("primary_key %s.%s", nsp, rel), true,
				 psprintf("source table [%s.%s] has a primary key", nsp, rel), NULL);
		else
			emit(arg, psprintf("primary_key %s.%s", nsp, rel), false,
				 psprintf("source table [%s.%s] do not contain any primary key", nsp, rel),
				 psprintf("On the source run ALTER TABLE %s ADD PRIMARY KEY (...);",
						  quote_qualified_identifier(nsp, rel)));
		if (PQgetvalue(res, 0, 3)[0] == 'p')
			emit(arg, psprintf("replica_identity %s.%s", nsp, rel), true,
				 psprintf("table [%s.%s] is partitioned: the replication identity of each partition counts", nsp, rel), NULL);
		else if (PQgetvalue(res, 0, 0)[0] == 'f')
			emit(arg, psprintf("replica_identity %s.%s", nsp, rel), true,
				 psprintf("table [%s.%s] replication identity is [f]", nsp, rel), NULL);
		else
			emit(arg, psprintf("replica_identity %s.%s", nsp, rel), false,
				 psprintf("table [%s.%s] replication identity is [%s], should be set to full",
						  nsp, rel, PQgetvalue(res, 0, 0)),
				 psprintf("On the source run ALTER TABLE %s REPLICA IDENTITY FULL;",
						  quote_qualified_identifier(nsp, rel)));
		/* a partitioned table: each partition keeps its own identity */
		if (!PQgetisnull(res, 0, 2))
			emit(arg, psprintf("replica_identity partitions of %s.%s", nsp, rel), false,
				 psprintf("partitions of table [%s.%s] without replication identity full: %s",
						  nsp, rel, PQgetvalue(res, 0, 2)),
				 "On the source run ALTER TABLE ... REPLICA IDENTITY FULL; for each of them.");
		PQclear(res);
	}
}

/*
 * pg_literal: a SQL string literal, escaped by libpq for the connection.
 */
static char *
pg_literal(TributarySource *src, const char *val)
{
	char	   *lit = PQescapeLiteral(pg_conn(src), val, strlen(val));
	char	   *result;

	if (lit == NULL)
		tributary_pq_raise(pg_conn(src), NULL, src->cfg.name, "could not quote a value");
	result = pstrdup(lit);
	PQfreemem(lit);
	return result;
}

/*
 * pg_ident: a quoted identifier (the keyset dialect's).
 */
static char *
pg_ident(const char *name)
{
	return (char *) quote_identifier(name);
}

/*
 * pg_table: the source table as a FROM item: its own rows only.  A table
 * with inheritance children is read ONLY (its children are tables of their
 * own, whose changes the stream gives as theirs); a partitioned table is
 * read whole (its rows are its partitions').  The kind is asked once per
 * process.
 */
static char *
pg_table(TributarySource *src, TributaryTable *t)
{
	if (t->source_from == NULL)
	{
		char	   *name = quote_qualified_identifier(t->source_nsp, t->source_rel);
		const char *params[1] = {name};
		char	   *relkind = pg_scalar(src, "SELECT relkind FROM pg_catalog.pg_class WHERE oid = $1::regclass",
										1, params);

		t->source_from = MemoryContextStrdup(GetMemoryChunkContext(t),
											 relkind && relkind[0] == RELKIND_RELATION ?
											 psprintf("ONLY %s", name) : name);
	}
	return t->source_from;
}

/*
 * pg_bound_value: key column i of a bound, typed as the table's column:
 * json_populate_record parses the value with the column's input
 * function, so keys of every type compare exactly.
 */
static char *
pg_bound_value(TributarySource *src, TributaryTable *t, const char *key, int i)
{
	return psprintf("(pg_catalog.json_populate_record(NULL::%s, %s::json)).%s",
					quote_qualified_identifier(t->source_nsp, t->source_rel), pg_literal(src, key),
					quote_identifier((char *) list_nth(t->key_columns, i)));
}

/*
 * pg_key_text: a key column as the text of its JSON value (what
 * json_populate_record reads back).
 */
static char *
pg_key_text(TributarySource *src, TributaryTable *t, int i, const char *column)
{
	return psprintf("pg_catalog.to_json(%s) #>> '{}'", column);
}

/* keyset chunking in PostgreSQL's dialect: row comparisons use the index */
static const TributaryKeysetDialect pg_keyset = {
	.ident = pg_ident,
	.table = pg_table,
	.bound_value = pg_bound_value,
	.key_text = pg_key_text,
	.row_values = true,
};

/*
 * pg_snapshot_begin: read all chunks of this run in one repeatable-read
 * transaction of the source: a full copy is of one point in time (unless
 * a crash makes the next run resume in another).
 */
static void
pg_snapshot_begin(TributarySource *src)
{
	PQclear(tributary_pq_query(pg_conn(src), src->cfg.name,
							   "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL));
}

/*
 * pg_snapshot_end: end the snapshot's transaction.
 */
static void
pg_snapshot_end(TributarySource *src)
{
	PQclear(tributary_pq_query(pg_conn(src), src->cfg.name, "COMMIT", 0, NULL));
}

/*
 * pg_snapshot_join: begin the snapshot transaction of the normal connection
 * at an exported snapshot (NULL: a view of its own, as snapshot begin).
 */
static void
pg_snapshot_join(TributarySource *src, const char *snapshot)
{
	PGconn	   *conn = (PGconn *) src->conn;
	char	   *lit;
	char	   *sql;

	if (snapshot == NULL)
	{
		pg_snapshot_begin(src);
		return;
	}
	lit = PQescapeLiteral(conn, snapshot, strlen(snapshot));
	sql = psprintf("SET TRANSACTION SNAPSHOT %s", lit);
	PQfreemem(lit);
	PQclear(tributary_pq_query(conn, src->cfg.name, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL));
	PQclear(tributary_pq_query(conn, src->cfg.name, sql, 0, NULL));
}

/*
 * pg_snapshot_export: export the view of the snapshot transaction begun by
 * snapshot_begin (pg_export_snapshot), so that snapshot helpers read in it.
 */
static char *
pg_snapshot_export(TributarySource *src)
{
	PGresult   *res = tributary_pq_query((PGconn *) src->conn, src->cfg.name,
										 "SELECT pg_catalog.pg_export_snapshot()", 0, NULL);
	char	   *name = pstrdup(PQgetvalue(res, 0, 0));

	PQclear(res);
	return name;
}

/*
 * pg_bound_query: run a keyset query (keyset.c) and return the key of its
 * first row as a JSON object, or NULL when it returns no row.
 */
static char *
pg_bound_query(TributarySource *src, TributaryTable *t, const char *sql)
{
	int			n = list_length(t->key_columns);
	PGresult   *res;
	char	   *key = NULL;

	res = tributary_pq_query(pg_conn(src), src->cfg.name, sql, 0, NULL);
	if (PQntuples(res) >= 1)
	{
		char	  **values = palloc(sizeof(char *) * n);
		unsigned long *lens = palloc(sizeof(unsigned long) * n);

		for (int i = 0; i < n; i++)
		{
			values[i] = PQgetvalue(res, 0, i);
			lens[i] = PQgetlength(res, 0, i);
		}
		key = tributary_keyset_key_json(t, values, lens);
	}
	PQclear(res);
	return key;
}

/*
 * pg_chunk_upper: the key of the rows-th row after "after", as a JSON
 * object, or NULL when fewer rows remain.
 */
static char *
pg_chunk_upper(TributarySource *src, TributaryTable *t, const char *after, int64 rows)
{
	return pg_bound_query(src, t, tributary_keyset_upper_sql(&pg_keyset, src, t, after, rows));
}

/*
 * pg_copy_where: COPY the read columns of the rows "where" selects out of
 * the source.
 */
static void
pg_copy_where(TributarySource *src, TributaryTable *t, const char *where, bool binary)
{
	StringInfoData sql;
	PGresult   *res;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "COPY (SELECT ");
	for (int i = 0; i < t->nread; i++)
		appendStringInfo(&sql, "%s%s", i > 0 ? ", " : "", quote_identifier(t->read[i].name));
	appendStringInfo(&sql, " FROM %s%s) TO STDOUT%s", pg_table(src, t), where,
					 binary ? " (FORMAT binary)" : "");
	res = tributary_pq_exec(pg_conn(src), sql.data, 0, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_OUT)
		tributary_pq_raise(pg_conn(src), res, src->cfg.name, "could not read a snapshot chunk");
	PQclear(res);
}

/*
 * pg_copy_begin: COPY the read columns of the chunk's rows out of the
 * source.
 */
static void
pg_copy_begin(TributarySource *src, TributaryTable *t, const char *after, const char *upto, bool binary)
{
	pg_copy_where(src, t, tributary_keyset_where(&pg_keyset, src, t, after, upto), binary);
}

/*
 * pg_rows_begin: the read columns of the rows "where" selects, in COPY
 * text format (incremental polls).
 */
static void
pg_rows_begin(TributarySource *src, TributaryTable *t, const char *where)
{
	pg_copy_where(src, t, where, false);
}

/*
 * pg_column_types: "oid name" of each copied source column (NULL for an
 * expression), in the table's column order.
 */
static List *
pg_column_types(TributarySource *src, TributaryTable *t)
{
	List	   *types = NIL;
	StringInfoData names;
	const char *params[2];
	PGresult   *res;

	/* one round trip: the column names joined by \001 ("" for an expression) */
	initStringInfo(&names);
	for (int i = 0; i < t->ncolumns; i++)
		appendStringInfo(&names, "%s%s", i > 0 ? "\001" : "",
						 t->columns[i].source ? t->columns[i].source : "");
	params[0] = quote_qualified_identifier(t->source_nsp, t->source_rel);
	params[1] = names.data;
	res = tributary_pq_query(pg_conn(src), src->cfg.name,
							 "SELECT a.atttypid || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) "
							 "FROM unnest(pg_catalog.string_to_array($2, chr(1))) WITH ORDINALITY AS c(name, n) "
							 "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = $1::regclass "
							 " AND a.attname = c.name AND a.attnum > 0 AND NOT a.attisdropped "
							 "ORDER BY c.n",
							 2, params);
	for (int i = 0; i < PQntuples(res); i++)
		types = lappend(types, PQgetisnull(res, i, 0) ? NULL : pstrdup(PQgetvalue(res, i, 0)));
	PQclear(res);
	return types;
}

/*
 * pg_copy_read: the next block of COPY data (one row, as libpq hands it
 * out), or -1 once the COPY has ended successfully.
 */
static int
pg_copy_read(TributarySource *src, char **buf)
{
	PGconn	   *conn = pg_conn(src);

	for (;;)
	{
		int			len;

		if (pg_copybuf)
		{
			PQfreemem(pg_copybuf);
			pg_copybuf = NULL;
		}
		len = PQgetCopyData(conn, &pg_copybuf, 1);
		if (len > 0)
		{
			*buf = pg_copybuf;
			return len;
		}
		if (len == -1)
		{
			PGresult   *res = PQgetResult(conn);

			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				tributary_pq_raise(conn, res, src->cfg.name, "snapshot read failed");
			PQclear(res);
			while ((res = PQgetResult(conn)) != NULL)
				PQclear(res);
			return -1;
		}
		if (len == -2)
			tributary_pq_raise(conn, NULL, src->cfg.name, "snapshot read failed");
		tributary_pq_wait_readable(conn);
	}
}

static const TributaryAdminMethods pg_admin = {
	.try_connect = pg_try_connect,
	.disconnect = pg_disconnect,
	.describe_table = pg_describe_table,
	.list_tables = pg_list_tables,
	.run_checks = pg_run_checks,
};

static const TributarySnapshotMethods pg_snapshot = {
	.begin = pg_snapshot_begin,
	.export_view = pg_snapshot_export,
	.join = pg_snapshot_join,
	.end = pg_snapshot_end,
	.chunk_upper = pg_chunk_upper,
	.column_types = pg_column_types,
	.copy_begin = pg_copy_begin,
	.copy_read = pg_copy_read,
};

static const TributaryPollMethods pg_poll = {
	.keyset = &pg_keyset,
	.bound_query = pg_bound_query,
	.rows_begin = pg_rows_begin,
};

static const TributaryStreamMethods pg_stream = {
	.fix_start = pg_stream_fix_start,
	.prepare = pg_stream_prepare,
	.start = pg_stream_start,
	.poll = pg_stream_poll,
	.feedback = pg_stream_feedback,
	.socket = pg_stream_socket,
	.close = pg_stream_close,
	.drop_slot = pg_drop_slot,
	.parts = pg_parts,
	.table_ids = pg_table_ids,
};

static const TributaryPositionMethods pg_position = {
	.current = pg_current_position,
};

/* PostgreSQL: exported snapshots, binary COPY, replication slots */
const TributaryConnector tributary_pg_connector = {
	.kind = "postgresql",
	.caps = TRIB_CAP_SHARED_VIEW | TRIB_CAP_BINARY_COPY | TRIB_CAP_SLOT | TRIB_CAP_RELATION_DDL,
	.admin = &pg_admin,
	.snapshot = &pg_snapshot,
	.stream = &pg_stream,
	.poll = &pg_poll,
	.position = &pg_position,
};
