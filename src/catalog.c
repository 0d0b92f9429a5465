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
#include "security.h"
#include "source/connector.h"

/*
 * connector_for_kind: the registered kind of a source.
 */
static const TributaryConnector *
connector_for_kind(const char *kind)
{
	const TributaryConnector *c = tributary_find_connector(kind);

	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("source kind \"%s\" is not available in this server", kind),
				 errhint("The library that provides it must be listed in shared_preload_libraries.")));
	return c;
}

/*
 * spi_text: a text column of the current SPI row, copied to cxt, or NULL.
 */
char *
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

/*
 * spi_bool: a boolean column of the current SPI row (NULL is false).
 */
static bool
spi_bool(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

static const char *source_sql =
"SELECT source_id::int8, source_name, source_kind, source_conninfo,"
"       source_options->>'decoder',"
"       (source_options->>'server_id')::int8,"
"       (coalesce((source_options->>'heartbeat_interval')::numeric, 10) * 1000)::int8,"
"       coalesce((source_options->>'connect_timeout')::numeric, 30)::int8,"
"       (coalesce((source_options->>'reconnect_timeout')::numeric, 60) * 1000)::int8,"
"       source_password_required"
"  FROM tributary.source WHERE ";

/*
 * source_release: the memory context holding a source goes away (the end
 * of the call or transaction that loaded it, on success or error): its
 * connections are closed with it.
 */
static void
source_release(void *arg)
{
	tributary_source_disconnect((TributarySource *) arg);
}

/*
 * source_load: the source matching a WHERE clause with one parameter.  Its
 * connections belong to the memory context it is loaded in: they are
 * closed when that context is reset or deleted, so no error path can leave
 * one open (callers may still close them earlier).
 */
static TributarySource *
source_load(const char *where, Oid argtype, Datum arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	TributarySource *src = NULL;
	char	   *sql = psprintf("%s%s", source_sql, where);
	TributaryUserSave us = tributary_catalog_enter();

	SPI_connect();
	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tributary.source");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		src = MemoryContextAllocZero(cxt, sizeof(TributarySource));
		src->cfg.id = (int32) spi_int8(tup, desc, 1, 0);
		src->cfg.name = spi_text(tup, desc, 2, cxt);
		src->cfg.kind = spi_text(tup, desc, 3, cxt);
		src->cfg.conninfo = spi_text(tup, desc, 4, cxt);
		src->cfg.decoder = spi_text(tup, desc, 5, cxt);
		src->cfg.server_id = spi_int8(tup, desc, 6, 0);
		src->cfg.heartbeat_ms = (int) spi_int8(tup, desc, 7, 10000);
		src->cfg.connect_timeout = (int) spi_int8(tup, desc, 8, 30);
		src->cfg.reconnect_ms = (int) spi_int8(tup, desc, 9, 60000);
		src->cfg.password_required = spi_bool(tup, desc, 10);
		src->connector = connector_for_kind(src->cfg.kind);
		{
			MemoryContextCallback *cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));

			cb->func = source_release;
			cb->arg = src;
			MemoryContextRegisterResetCallback(cxt, cb);
		}
	}
	SPI_finish();
	tributary_catalog_leave(us);
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
	char	   *zero_date = NULL;	/* goes to the source: its snapshot reads act on it */
	TributaryUserSave us = tributary_catalog_enter();

	SPI_connect();
	if (SPI_execute_with_args("SELECT job_name, job_mode, job_source_id::int8, o::text, job_generation::int8, "
							  "(o->>'snapshot_chunk_rows')::int8, (o->>'execution.checkpointing.interval')::int8, "
							  "(o->>'state.checkpoints.num-retained')::int8, o->>'start_position', "
							  "job_slot, job_stream_start, job_catchup_until, "
							  "(SELECT cp_position FROM tributary.checkpoint WHERE cp_job_id = job_id "
							  " ORDER BY cp_seq DESC LIMIT 1), "
							  "o->>'dirty_data' = 'skip', (o->>'dirty_data_limit')::int8, job_decoder, "
							  "(SELECT max(cp_seq) FROM tributary.checkpoint WHERE cp_job_id = job_id), "
							  "(o->>'parallelism.default')::int8, o->>'zero_date', "
							  "((o->>'poll_interval')::numeric * 1000)::int8, (o->>'poll_batch_rows')::int8 "
							  "FROM tributary.job, LATERAL tributary._effective_options(job_options) o "
							  "WHERE job_id = $1",
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
		job->chunk_rows = spi_int8(tup, desc, 6, 100000);
		job->checkpoint_ms = (int) spi_int8(tup, desc, 7, 1000);
		job->num_retained = (int) spi_int8(tup, desc, 8, 1);
		job->start_position = spi_text(tup, desc, 9, cxt);
		job->slot = spi_text(tup, desc, 10, cxt);
		job->stream_start = spi_text(tup, desc, 11, cxt);
		job->catchup_until = spi_text(tup, desc, 12, cxt);
		job->checkpoint = spi_text(tup, desc, 13, cxt);
		job->dirty_skip = spi_bool(tup, desc, 14);
		job->dirty_limit = spi_int8(tup, desc, 15, -1);
		job->decoder = spi_text(tup, desc, 16, cxt);
		job->checkpoint_seq = spi_int8(tup, desc, 17, 0);
		job->parallelism = (int) spi_int8(tup, desc, 18, 1);
		zero_date = spi_text(tup, desc, 19, cxt);
		job->poll_ms = (int) Max(spi_int8(tup, desc, 20, 1000), 1);
		job->poll_rows = spi_int8(tup, desc, 21, 10000);
	}
	SPI_finish();
	tributary_catalog_leave(us);

	if (job)
	{
		job->source = tributary_source_load_by_id(source_id);
		if (job->source)
			job->source->job.zero_date = zero_date;
	}
	return job;
}

/*
 * tributary_job_tables_load: the tables of a job, with their columns and
 * snapshot progress (whether chunks are planned, how many are left).
 */
List *
tributary_job_tables_load(int32 job_id)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *tables = NIL;
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(job_id);
	TributaryUserSave us = tributary_catalog_enter();

	SPI_connect();
	if (SPI_execute_with_args("SELECT t.jt_id, t.jt_source_schema, t.jt_source_rel, t.jt_target_schema, "
							  "       t.jt_target_rel, t.jt_filter, t.jt_state, "
							  "       array_to_string(t.jt_key_columns, chr(1)), "
							  "       (SELECT count(*) FILTER (WHERE NOT s.ts_done)::int4 FROM tributary.table_state s "
							  "         WHERE s.ts_jt_id = t.jt_id), "
							  "       EXISTS (SELECT 1 FROM tributary.table_state s WHERE s.ts_jt_id = t.jt_id), "
							  "       t.jt_state IN ('catchup', 'streaming', 'done', 'resync', 'sync'), "
							  "       coalesce(o->'dml'->(t.jt_source_schema || '.' || t.jt_source_rel)->>'insert', o->'dml'->>'insert') = 'ignore', "
							  "       coalesce(o->'dml'->(t.jt_source_schema || '.' || t.jt_source_rel)->>'update', o->'dml'->>'update') = 'ignore', "
							  "       coalesce(o->'dml'->(t.jt_source_schema || '.' || t.jt_source_rel)->>'delete', o->'dml'->>'delete') = 'ignore', "
							  "       t.jt_column_map IS NULL AND NOT t.jt_ddl_accepted, j.job_name, "
							  "       t.jt_column_map IS NOT NULL, t.jt_source_parts, t.jt_source_oid, "
							  "       t.jt_incremental_column, t.jt_incremental_last, "
							  "       substring(coalesce(o->'dml'->(t.jt_source_schema || '.' || t.jt_source_rel)->>'delete', o->'dml'->>'delete') "
							  "                 FROM '^mark:(.+)$'), "
							  "       tributary._source_column(t.jt_columns) "
							  "  FROM tributary.job_table t JOIN tributary.job j ON j.job_id = t.jt_job_id, "
							  "       LATERAL tributary._effective_options(j.job_options) o "
							  " WHERE t.jt_job_id = $1 ORDER BY t.jt_id",
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read tributary.job_table");
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		n = SPI_processed;

		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	tup = tt->vals[i];
			TupleDesc	desc = tt->tupdesc;
			TributaryTable *t = MemoryContextAllocZero(cxt, sizeof(TributaryTable));
			char	   *keys;
			bool		isnull;
			MemoryContext old;

			t->id = (int32) spi_int8(tup, desc, 1, 0);
			t->source_nsp = spi_text(tup, desc, 2, cxt);
			t->source_rel = spi_text(tup, desc, 3, cxt);
			t->target_nsp = spi_text(tup, desc, 4, cxt);
			t->target_rel = spi_text(tup, desc, 5, cxt);
			t->filter = spi_text(tup, desc, 6, cxt);
			t->state = spi_text(tup, desc, 7, cxt);
			keys = spi_text(tup, desc, 8, cxt);
			t->chunks_left = DatumGetInt32(SPI_getbinval(tup, desc, 9, &isnull));
			t->planned = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
			t->snapshot_done = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
			t->copy_format = -1;
			t->ignore_insert = DatumGetBool(SPI_getbinval(tup, desc, 12, &isnull)) && !isnull;
			t->ignore_update = DatumGetBool(SPI_getbinval(tup, desc, 13, &isnull)) && !isnull;
			t->ignore_delete = DatumGetBool(SPI_getbinval(tup, desc, 14, &isnull)) && !isnull;
			t->all_columns = DatumGetBool(SPI_getbinval(tup, desc, 15, &isnull)) && !isnull;
			t->job_name = spi_text(tup, desc, 16, cxt);
			t->mapped = DatumGetBool(SPI_getbinval(tup, desc, 17, &isnull)) && !isnull;
			t->source_parts = spi_text(tup, desc, 18, cxt);
			t->source_oid = spi_text(tup, desc, 19, cxt);
			t->incremental_column = spi_text(tup, desc, 20, cxt);
			t->incremental_last = spi_text(tup, desc, 21, cxt);
			t->delete_mark = spi_text(tup, desc, 22, cxt);
			t->source_column = spi_text(tup, desc, 23, cxt);
			old = MemoryContextSwitchTo(cxt);
			for (char *k = strtok(keys, "\001"); k; k = strtok(NULL, "\001"))
				t->key_columns = lappend(t->key_columns, pstrdup(k));
			tables = lappend(tables, t);
			MemoryContextSwitchTo(old);
		}
	}

	/* the copied columns, and the source columns snapshots read */
	{
		ListCell   *lc;

		foreach(lc, tables)
		{
			TributaryTable *t = (TributaryTable *) lfirst(lc);
			Datum		jt = Int32GetDatum(t->id);

			if (SPI_execute_with_args("SELECT c->>'target', c->>'source', c->>'expr' "
									  "FROM tributary.job_table, "
									  "     jsonb_array_elements(jt_columns) WITH ORDINALITY AS x(c, o) "
									  "WHERE jt_id = $1 ORDER BY o",
									  1, &argtype, &jt, NULL, true, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not read tributary.job_table columns");
			t->ncolumns = (int) SPI_processed;
			t->columns = MemoryContextAllocZero(cxt, sizeof(TributaryColumn) * Max(t->ncolumns, 1));
			t->transformed = (t->filter != NULL);
			for (int i = 0; i < t->ncolumns; i++)
			{
				HeapTuple	tup = SPI_tuptable->vals[i];
				TupleDesc	desc = SPI_tuptable->tupdesc;

				t->columns[i].target = spi_text(tup, desc, 1, cxt);
				t->columns[i].source = spi_text(tup, desc, 2, cxt);
				t->columns[i].expr = spi_text(tup, desc, 3, cxt);
				if (t->columns[i].source == NULL)
					t->transformed = true;
			}
			if (!t->transformed)
			{
				/* read exactly the copied columns */
				t->nread = t->ncolumns;
				t->read = MemoryContextAllocZero(cxt, sizeof(TributaryReadColumn) * Max(t->nread, 1));
				for (int i = 0; i < t->ncolumns; i++)
					t->read[i].name = t->columns[i].source;
				continue;
			}
			if (SPI_execute_with_args("SELECT c->>'name', c->>'type' "
									  "FROM tributary.job_table, "
									  "     jsonb_array_elements(jt_read_columns) WITH ORDINALITY AS x(c, o) "
									  "WHERE jt_id = $1 ORDER BY o",
									  1, &argtype, &jt, NULL, true, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not read tributary.job_table read columns");
			t->nread = (int) SPI_processed;
			t->read = MemoryContextAllocZero(cxt, sizeof(TributaryReadColumn) * Max(t->nread, 1));
			for (int i = 0; i < t->nread; i++)
			{
				t->read[i].name = spi_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, cxt);
				t->read[i].type = spi_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, cxt);
			}
		}
	}
	SPI_finish();
	tributary_catalog_leave(us);
	return tables;
}

/*
 * tributary_table_names: the source tables as quoted "schema.table"
 * strings, as the decoders and publications name them.
 */
List *
tributary_table_names(List *tables)
{
	List	   *names = NIL;
	ListCell   *lc;

	foreach(lc, tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);

		names = lappend(names, psprintf("%s.%s", quote_identifier(t->source_nsp),
										quote_identifier(t->source_rel)));
	}
	return names;
}
