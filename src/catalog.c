/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		Reads of the tributary catalog from C: sources and jobs.
 *
 * Every function here runs SPI inside the caller's transaction and copies
 * what it returns into the caller's memory context, so results outlive
 * SPI_finish (and, when the caller allocated in a long-lived context, the
 * transaction).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "catalog.h"
#include "source/connector.h"

/*
 * connector_for_kind: the function table of a source kind.
 */
static const TributaryConnector *
connector_for_kind(const char *kind)
{
	if (strcmp(kind, "postgresql") == 0)
		return &tributary_pg_connector;
	if (strcmp(kind, "mysql") == 0)
		return &tributary_mysql_connector;
	elog(ERROR, "unknown source kind \"%s\"", kind);
	return NULL;				/* keep compiler quiet */
}

/*
 * spi_text: a text column of the current SPI row, copied to cxt, or NULL.
 */
static char *
spi_text(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	MemoryContext old;
	char	   *s;

	if (isnull)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	s = TextDatumGetCString(d);
	MemoryContextSwitchTo(old);
	return s;
}

/*
 * spi_int8: an integer column of the current SPI row, or dflt when NULL.
 */
static int64
spi_int8(HeapTuple tup, TupleDesc desc, int col, int64 dflt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? dflt : DatumGetInt64(d);
}

static const char *source_sql =
"SELECT source_id::int8, source_name, source_kind, source_conninfo,"
"       source_options->>'decoder',"
"       (source_options->>'server_id')::int8,"
"       (coalesce((source_options->>'heartbeat_interval')::numeric, 10) * 1000)::int8,"
"       coalesce((source_options->>'connect_timeout')::numeric, 30)::int8"
"  FROM tributary.source WHERE ";

/*
 * source_load: the source matching a WHERE clause with one parameter.
 */
static TributarySource *
source_load(const char *where, Oid argtype, Datum arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	TributarySource *src = NULL;
	char	   *sql = psprintf("%s%s", source_sql, where);

	SPI_connect();
	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tributary.source");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		src = MemoryContextAllocZero(cxt, sizeof(TributarySource));
		src->id = (int32) spi_int8(tup, desc, 1, 0);
		src->name = spi_text(tup, desc, 2, cxt);
		src->kind = spi_text(tup, desc, 3, cxt);
		src->conninfo = spi_text(tup, desc, 4, cxt);
		src->decoder = spi_text(tup, desc, 5, cxt);
		src->server_id = spi_int8(tup, desc, 6, 0);
		src->heartbeat_ms = (int) spi_int8(tup, desc, 7, 10000);
		src->connect_timeout = (int) spi_int8(tup, desc, 8, 30);
		src->connector = connector_for_kind(src->kind);
	}
	SPI_finish();
	return src;
}

/*
 * tributary_source_load: the source called source_name; a user error if
 * there is none.
 */
TributarySource *
tributary_source_load(const char *source_name)
{
	TributarySource *src = source_load("source_name = $1", TEXTOID,
									   CStringGetTextDatum(source_name));

	if (src == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("source \"%s\" does not exist", source_name)));
	return src;
}

/*
 * tributary_source_load_by_id: the source with this id, or NULL.
 */
TributarySource *
tributary_source_load_by_id(int32 source_id)
{
	return source_load("source_id = $1", INT4OID, Int32GetDatum(source_id));
}

/*
 * tributary_job_load: the job with this id, with its source, or NULL if the
 * job was dropped.
 */
TributaryJob *
tributary_job_load(int32 job_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	TributaryJob *job = NULL;
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(job_id);
	int32		source_id = 0;

	SPI_connect();
	if (SPI_execute_with_args("SELECT job_name, job_mode, job_source_id::int8, "
							  "tributary.job_effective_options(job_name)::text, job_generation::int8 "
							  "FROM tributary.job WHERE job_id = $1",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tributary.job");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		job = MemoryContextAllocZero(cxt, sizeof(TributaryJob));
		job->id = job_id;
		job->name = spi_text(tup, desc, 1, cxt);
		job->mode = spi_text(tup, desc, 2, cxt);
		source_id = (int32) spi_int8(tup, desc, 3, 0);
		job->options_json = spi_text(tup, desc, 4, cxt);
		job->generation = (int32) spi_int8(tup, desc, 5, 0);
	}
	SPI_finish();

	if (job)
		job->source = tributary_source_load_by_id(source_id);
	return job;
}
