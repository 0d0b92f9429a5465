/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *		The snapshot phase of a job: every table not yet copied is read
 *		from the source in primary-key chunks and loaded into its target
 *		with COPY; each chunk is committed together with its progress row
 *		(tributary.table_state) and the table's counters, so a crash
 *		resumes with the first chunk not committed.
 *
 * Per table:
 *	chunk 0			truncate the target (same transaction as the chunk)
 *	chunk n			upto = key of the snapshot_chunk_rows-th row after the
 *					last committed key (NULL: the rest of the table);
 *					COPY rows in (after, upto] into the target; record
 *					(after, upto, rows) as done
 *	last chunk		upto is NULL: the table's state becomes final_state
 *					('done' for full jobs)
 *
 * The source connector reads the chunks; the apply engine (apply/copy_in.c)
 * writes them, in COPY's binary format where every column has the same
 * built-in type on both sides, else in text.  An error context names the job, the tables and the chunk.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "apply/copy_in.h"
#include "snapshot.h"
#include "source/connector.h"

typedef struct ChunkContext
{
	TributaryJob *job;
	TributaryTable *table;
	int32		chunk_no;
} ChunkContext;

/*
 * snapshot_error_context: name the job, the tables and the chunk.
 */
static void
snapshot_error_context(void *arg)
{
	ChunkContext *c = (ChunkContext *) arg;

	errcontext("pg_tributary job \"%s\": snapshot of source table [%s.%s] into %s, chunk %d",
			   c->job->name, c->table->source_nsp, c->table->source_rel,
			   quote_qualified_identifier(c->table->target_nsp, c->table->target_rel),
			   c->chunk_no);
}

/*
 * read_from_source: the COPY reader over the source connector.
 */
static int
read_from_source(void *arg, char **buf)
{
	TributarySource *src = (TributarySource *) arg;

	return src->connector->copy_read(src, buf);
}

/*
 * record_chunk: the chunk's progress row and the table's counters, in the
 * chunk's transaction.
 */
static void
record_chunk(TributaryTable *t, int32 chunk_no, const char *after, const char *upto,
			 uint64 rows, const char *final_state)
{
	Oid			argtypes[6] = {INT4OID, INT4OID, TEXTOID, TEXTOID, INT8OID, TEXTOID};
	Datum		args[6];
	char		nulls[6] = "      ";

	args[0] = Int32GetDatum(t->id);
	args[1] = Int32GetDatum(chunk_no);
	args[2] = after ? CStringGetTextDatum(after) : (Datum) 0;
	nulls[2] = after ? ' ' : 'n';
	args[3] = upto ? CStringGetTextDatum(upto) : (Datum) 0;
	nulls[3] = upto ? ' ' : 'n';
	args[4] = Int64GetDatum((int64) rows);
	args[5] = CStringGetTextDatum(final_state);

	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO tributary.table_state (ts_jt_id, ts_chunk_no, ts_lower, ts_upper, ts_rows, ts_done) "
							  "VALUES ($1, $2, $3, $4, $5, true)",
							  6, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record snapshot progress");
	if (SPI_execute_with_args("UPDATE tributary.job_table SET jt_rows_copied = jt_rows_copied + $5, "
							  "jt_chunks_done = $2 + 1, "
							  "jt_state = CASE WHEN $4 IS NULL THEN $6 ELSE 'snapshot' END, "
							  "jt_chunks_total = CASE WHEN $4 IS NULL THEN $2 + 1 ELSE jt_chunks_total END "
							  "WHERE jt_id = $1",
							  6, argtypes, args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record snapshot progress");
	SPI_finish();
}

/*
 * snapshot_table: copy one table from where its last run stopped.
 */
static void
snapshot_table(TributaryJob *job, TributaryTable *t, int64 chunk_rows,
			   const char *final_state, TributarySnapshotProgress progress)
{
	TributarySource *src = job->source;
	MemoryContext cxt = CurrentMemoryContext;	/* outlives the chunks' transactions */
	char	   *after = t->resume_after;
	int32		chunk_no = t->chunks_done;
	ChunkContext cctx = {job, t, chunk_no};
	ErrorContextCallback errcb;
	bool		binary = false;

	/* binary COPY where source and target column types are the same */
	if (src->connector->column_types)
	{
		List	   *types = src->connector->column_types(src, t);

		StartTransactionCommand();
		binary = tributary_copy_can_be_binary(t, types);
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
	}
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" copies source table [%s.%s] into %s in %s format",
					job->name, t->source_nsp, t->source_rel,
					quote_qualified_identifier(t->target_nsp, t->target_rel), binary ? "binary" : "text")));

	errcb.callback = snapshot_error_context;
	errcb.arg = &cctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	for (;;)
	{
		char	   *upto;
		uint64		rows;

		cctx.chunk_no = chunk_no;
		CHECK_FOR_INTERRUPTS();
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, psprintf("snapshot of %s.%s, chunk %d",
													   t->source_nsp, t->source_rel, chunk_no));

		if (chunk_no == 0)
			tributary_truncate_target(t);
		upto = src->connector->chunk_upper(src, t, after, chunk_rows);
		src->connector->copy_begin(src, t, after, upto, binary);
		rows = tributary_copy_into(t, read_from_source, src, binary);
		record_chunk(t, chunk_no, after, upto, rows, final_state);

		PopActiveSnapshot();
		CommitTransactionCommand();
		if (progress)
			progress((int64) rows);
		if (upto == NULL)
			break;
		if (after && after != t->resume_after)
			pfree(after);
		after = MemoryContextStrdup(cxt, upto);
		chunk_no++;
	}
	t->snapshot_done = true;
	error_context_stack = errcb.previous;
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * tributary_snapshot_run: copy every table of the job that is not copied
 * yet.  Tables whose snapshot is complete are skipped, so a restarted job
 * goes on where it stopped.  All chunks of the run are read in one view
 * of the source: the snapshot exported with the job's slot when given
 * (the first run of a full+cdc job), else a new one, whose position is
 * handed to on_view before any chunk is read.
 */
void
tributary_snapshot_run(TributaryJob *job, List *tables, int64 chunk_rows,
					   const char *final_state, const char *exported_snapshot,
					   TributarySnapshotView on_view, TributarySnapshotProgress progress)
{
	TributarySource *src = job->source;
	ListCell   *lc;

	if (src->connector->chunk_upper == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("snapshots of %s sources are not supported yet", src->kind),
				 errdetail("Job \"%s\" reads source \"%s\".", job->name, src->name)));

	if (exported_snapshot)
		src->connector->snapshot_use(src, exported_snapshot);
	else
	{
		src->connector->snapshot_begin(src);
		/* the position of this view: read in it, so it covers all it sees */
		if (on_view)
			on_view(src->connector->current_position(src));
	}
	foreach(lc, tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);

		if (t->snapshot_done)
			continue;
		snapshot_table(job, t, chunk_rows, final_state, progress);
	}
	src->connector->snapshot_end(src);
}
