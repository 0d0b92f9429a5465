/*-------------------------------------------------------------------------
 *
 * check_source.c
 *		SQL functions that look at a source: tributary._source_checks (the
 *		body of check_source), tributary._remote_table_info (used by
 *		add_table and start_job to check and describe a source table) and
 *		tributary._drop_job_slot (drop_job and restart_job).
 *
 * Each opens a short-lived connection with the source's connector; it is
 * closed at the end, and on any error with the memory of the call that
 * loaded the source (catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "source/connector.h"

typedef struct CheckRows
{
	ReturnSetInfo *rsinfo;
} CheckRows;

/*
 * emit_check_row: append one row to check_source's result.
 */
static void
emit_check_row(void *arg, const char *check_name, bool ok, const char *detail, const char *hint)
{
	CheckRows  *rows = (CheckRows *) arg;
	Datum		values[4];
	bool		nulls[4] = {0};

	values[0] = CStringGetTextDatum(check_name);
	values[1] = BoolGetDatum(ok);
	values[2] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[2] = (detail == NULL);
	values[3] = hint ? CStringGetTextDatum(hint) : (Datum) 0;
	nulls[3] = (hint == NULL);
	tuplestore_putvalues(rows->rsinfo->setResult, rows->rsinfo->setDesc, values, nulls);
}

/*
 * job_tables_of_source: the source tables of every job using the source,
 * as "schema.table" strings, when check_source is called without a list.
 */
static List *
job_tables_of_source(int32 source_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *tables = NIL;
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(source_id);

	SPI_connect();
	if (SPI_execute_with_args("SELECT DISTINCT t.jt_source_schema || '.' || t.jt_source_rel "
							  "FROM tributary.job_table t JOIN tributary.job j ON j.job_id = t.jt_job_id "
							  "WHERE j.job_source_id = $1 ORDER BY 1",
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read tributary.job_table");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *val = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		tables = lappend(tables, pstrdup(val));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return tables;
}

PG_FUNCTION_INFO_V1(tributary_source_checks);

/*
 * tributary_source_checks: connect and run the connector's checks.  A
 * failed connection is a failed check row, not an error.
 */
Datum
tributary_source_checks(PG_FUNCTION_ARGS)
{
	char	   *source_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TributarySource *src = tributary_source_load(source_name);
	CheckRows	rows;
	List	   *tables = NIL;
	char	   *err;

	InitMaterializedSRF(fcinfo, 0);
	rows.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (!PG_ARGISNULL(1))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
		Datum	   *elems;
		bool	   *elnulls;
		int			n;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elnulls, &n);
		for (int i = 0; i < n; i++)
			if (!elnulls[i])
				tables = lappend(tables, TextDatumGetCString(elems[i]));
	}
	else
		tables = job_tables_of_source(src->cfg.id);

	err = src->connector->admin->try_connect(src, "pg_tributary check_source");
	if (err != NULL)
	{
		emit_check_row(&rows, "connection", false,
					   psprintf("could not connect to source \"%s\": %s", src->cfg.name, err),
					   "Check the source's host, port, user and password (tributary.sources shows them, password masked), and that it accepts connections from this server.");
		return (Datum) 0;
	}

	src->connector->admin->run_checks(src, tables, emit_check_row, &rows);
	tributary_source_disconnect(src);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(tributary_remote_table_info);

/*
 * tributary_remote_table_info: describe one source table as jsonb; a user
 * error when it does not exist.
 */
Datum
tributary_remote_table_info(PG_FUNCTION_ARGS)
{
	char	   *source_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *nsp = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *rel = text_to_cstring(PG_GETARG_TEXT_PP(2));
	TributarySource *src = tributary_source_load(source_name);
	char	   *json = NULL;

	tributary_source_connect(src, "pg_tributary");
	json = src->connector->admin->describe_table(src, nsp, rel);
	tributary_source_disconnect(src);

	if (json == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("source table [%s.%s] does not exist", nsp, rel),
				 errdetail("Source \"%s\" has no table \"%s\" in %s \"%s\".", source_name, rel,
						   strcmp(src->cfg.kind, "mysql") == 0 ? "database" : "schema", nsp),
				 errhint("Source tables are named %s.table, without quotes unless the name needs them.",
						 strcmp(src->cfg.kind, "mysql") == 0 ? "database" : "schema")));

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

PG_FUNCTION_INFO_V1(tributary_remote_tables);

/*
 * tributary_remote_tables: the source's tables (schema or database, name),
 * for add_tables.
 */
Datum
tributary_remote_tables(PG_FUNCTION_ARGS)
{
	char	   *source_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TributarySource *src = tributary_source_load(source_name);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *tables = NIL;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	if (src->connector->admin->list_tables == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("listing the tables of %s sources is not supported", src->cfg.kind)));
	tributary_source_connect(src, "pg_tributary");
	tables = src->connector->admin->list_tables(src);
	tributary_source_disconnect(src);
	foreach(lc, tables)
	{
		char	  **pair = (char **) lfirst(lc);
		Datum		values[2] = {CStringGetTextDatum(pair[0]), CStringGetTextDatum(pair[1])};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(tributary_drop_job_slot);

/*
 * tributary_drop_job_slot: drop the replication slot (and the publication
 * of the same name) that a job created on its source, ending the
 * walsender that still uses it.  It acts only on the name the job
 * recorded, and only if that is the name pg_tributary gives the job's
 * slot (tributary_<system identifier>_<job id>): no call can reach
 * another slot or publication.  A source that cannot be reached gets a
 * warning that says how to drop the slot by hand, so that a job can
 * always be dropped.  Returns whether the slot is gone.
 */
Datum
tributary_drop_job_slot(PG_FUNCTION_ARGS)
{
	int32		job_id = PG_GETARG_INT32(0);
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(job_id);
	char	   *slot = NULL;
	char	   *source_name = NULL;
	char	   *expected = psprintf("tributary_" UINT64_FORMAT "_%d", GetSystemIdentifier(), job_id);
	TributarySource *src;
	char	   *err;
	bool		dropped = false;

	SPI_connect();
	if (SPI_execute_with_args("SELECT j.job_slot, s.source_name FROM tributary.job j "
							  "JOIN tributary.source s ON s.source_id = j.job_source_id WHERE j.job_id = $1",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tributary.job");
	if (SPI_processed == 1)
	{
		slot = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		source_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		slot = slot ? MemoryContextStrdup(CurTransactionContext, slot) : NULL;
		source_name = MemoryContextStrdup(CurTransactionContext, source_name);
	}
	SPI_finish();
	if (slot == NULL)
		PG_RETURN_BOOL(false);
	if (strcmp(slot, expected) != 0)
	{
		ereport(WARNING,
				(errmsg("not dropping replication slot \"%s\" recorded for job %d: pg_tributary names that job's slot \"%s\"",
						slot, job_id, expected)));
		PG_RETURN_BOOL(false);
	}

	src = tributary_source_load(source_name);
	/* MySQL sources have no slot: the binlog position is ours alone */
	if ((src->connector->caps & TRIB_CAP_SLOT) == 0)
		PG_RETURN_BOOL(false);
	err = src->connector->admin->try_connect(src, "pg_tributary drop_job");
	if (err == NULL)
	{
		err = src->connector->stream->drop_slot(src, slot);
		dropped = (err == NULL);
		tributary_source_disconnect(src);
	}
	if (!dropped)
		ereport(WARNING,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not drop replication slot \"%s\" on source \"%s\": %s", slot, source_name, err),
				 errhint("The slot keeps WAL on the source until it is dropped: run SELECT pg_drop_replication_slot('%s'); there.", slot)));
	PG_RETURN_BOOL(dropped);
}
