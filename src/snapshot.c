/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *		The snapshot phase of a job: every table not yet copied is planned
 *		as primary-key chunks, and the chunks are read from the source and
 *		loaded into their targets with COPY by the job worker and up to
 *		parallelism.default - 1 snapshot helpers (bgworker/snapshot_helper.c)
 *		at once.  Each chunk is committed together with its progress row, so
 *		a crash loses only the chunks in flight.
 *
 * Per table (one tributary.table_state row per chunk):
 *	plan	in one transaction: truncate the target, then insert every
 *			chunk (lower, upper] as not done, walking the key with
 *			chunk_upper in the run's view (upper NULL: to the end);
 *			jt_state becomes 'snapshot', jt_chunks_total the count
 *	copy	a process claims the first chunk that is neither done nor
 *			locked (FOR UPDATE SKIP LOCKED), COPYs its rows into the target
 *			and marks it done with its row count, in one transaction
 *	finish	when no chunk is left, jt_state becomes final_state ('done' for
 *			full jobs, 'catchup' for full+cdc)
 *
 * Views: every reader of a run reads in the same view of the source: the
 * snapshot exported with the job's slot (the first run of a full+cdc job),
 * else one the worker opens and exports (snapshot export_view, TRIB_CAP_SHARED_VIEW).
 * Sources that cannot share a view (MySQL: TRIB_CAP_OWN_VIEWS) give every
 * reader a view of its own, whose position each records as a catch-up
 * bound before reading (tributary_snapshot_record_view): chunks read at
 * different times converge once the stream has been applied,
 * idempotently, past the latest of them.
 *
 * The source connector reads the chunks; the apply engine (apply/copy_in.c)
 * writes them, in COPY's binary format where every column has the same
 * built-in type on both sides, else in text.  An error context names the
 * job, the tables and the chunk.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "apply/copy_in.h"
#include "pg_tributary.h"
#include "security.h"
#include "part_watch.h"
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

	if (c->table == NULL)
		errcontext("pg_tributary job \"%s\": snapshot", c->job->name);
	else
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

	return src->connector->snapshot->copy_read(src, buf);
}

/*
 * begin_catalog_xact / commit_catalog_xact: a transaction of the worker,
 * with a snapshot for SPI.
 */
static void
begin_catalog_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
commit_catalog_xact(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * snapshot_plan_table: empty the target and record every chunk of the
 * table, in one transaction (tables: all of the run's, for the targets'
 * foreign keys).  The bounds are read in the run's view, so
 * together the chunks hold every row of that view exactly once.
 */
static void
snapshot_plan_table(TributaryJob *job, TributaryTable *t, List *tables, ChunkContext *cctx,
					bool online)
{
	TributarySource *src = job->source;
	Oid			argtypes[4] = {INT4OID, INT4OID, TEXTOID, TEXTOID};
	char	   *after = NULL;
	int32		chunk_no = 0;
	TributaryUserSave us;

	cctx->table = t;
	cctx->chunk_no = 0;
	begin_catalog_xact();
	pgstat_report_activity(STATE_RUNNING, psprintf("planning the snapshot of %s.%s",
												   t->source_nsp, t->source_rel));
	tributary_truncate_target(t, tables);
	us = tributary_catalog_enter();
	SPI_connect();
	if (online)
	{
		/* a copy begun before, and the changes kept for it, are replaced */
		Datum		arg = Int32GetDatum(t->id);

		if (SPI_execute_with_args("DELETE FROM tributary.table_state WHERE ts_jt_id = $1",
								  1, argtypes, &arg, NULL, false, 0) != SPI_OK_DELETE ||
			SPI_execute_with_args("DELETE FROM tributary.sync_change WHERE sc_jt_id = $1",
								  1, argtypes, &arg, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not forget an earlier copy");
	}
	for (;;)
	{
		char	   *upto;
		Datum		args[4];
		char		nulls[4] = "    ";

		CHECK_FOR_INTERRUPTS();
		upto = src->connector->snapshot->chunk_upper(src, t, after, job->chunk_rows);
		args[0] = Int32GetDatum(t->id);
		args[1] = Int32GetDatum(chunk_no);
		args[2] = after ? CStringGetTextDatum(after) : (Datum) 0;
		nulls[2] = after ? ' ' : 'n';
		args[3] = upto ? CStringGetTextDatum(upto) : (Datum) 0;
		nulls[3] = upto ? ' ' : 'n';
		if (SPI_execute_with_args("INSERT INTO tributary.table_state (ts_jt_id, ts_chunk_no, ts_lower, ts_upper) "
								  "VALUES ($1, $2, $3, $4)", 4, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record a snapshot chunk");
		chunk_no++;
		if (upto == NULL)
			break;
		after = upto;
	}
	{
		/* the table's identity and leaves, in the view the chunks read */
		char	   *parts = tributary_parts_current(src, t);
		char	   *oid = tributary_table_id_current(src, t);
		Datum		args[4] = {Int32GetDatum(t->id), Int32GetDatum(chunk_no),
			parts ? CStringGetTextDatum(parts) : (Datum) 0,
		oid ? CStringGetTextDatum(oid) : (Datum) 0};
		Oid			types[4] = {INT4OID, INT4OID, TEXTOID, TEXTOID};
		char		nulls[5] = "    ";

		nulls[2] = parts ? ' ' : 'n';
		nulls[3] = oid ? ' ' : 'n';
		if (SPI_execute_with_args(online
								  ? "UPDATE tributary.job_table SET jt_state = 'sync', jt_chunks_total = $2, "
								  "jt_chunks_done = 0, jt_rows_copied = 0, jt_source_parts = $3, jt_source_oid = $4 "
								  "WHERE jt_id = $1"
								  : "UPDATE tributary.job_table SET jt_state = 'snapshot', jt_chunks_total = $2, "
								  "jt_chunks_done = 0, jt_rows_copied = 0, jt_source_parts = $3, jt_source_oid = $4 "
								  "WHERE jt_id = $1",
								  4, types, args, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record the snapshot plan");
		t->source_parts = parts ? MemoryContextStrdup(GetMemoryChunkContext(t), parts) : NULL;
		t->source_oid = oid ? MemoryContextStrdup(GetMemoryChunkContext(t), oid) : NULL;
	}
	SPI_finish();
	tributary_catalog_leave(us);
	commit_catalog_xact();
	t->planned = true;
	t->chunks_left = chunk_no;
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" copies source table [%s.%s] in %d chunks",
					job->name, t->source_nsp, t->source_rel, chunk_no)));
}

/*
 * snapshot_claim_chunk: lock the first chunk of the job's tables in
 * snapshot (or, with only_jt, of that table) that is neither done nor
 * being copied by another process.  Returns false when there is none.
 * The bounds are copied into the caller's memory.  A table copied while
 * the job streams (jt_state 'sync') is copied by its worker alone.
 */
static bool
snapshot_claim_chunk(TributaryJob *job, int32 only_jt, int32 *jt_id, int32 *chunk_no,
					 char **lower, char **upper)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2] = {Int32GetDatum(job->id), Int32GetDatum(only_jt)};
	bool		found = false;
	TributaryUserSave us = tributary_catalog_enter();

	SPI_connect();
	if (SPI_execute_with_args("SELECT s.ts_jt_id, s.ts_chunk_no, s.ts_lower, s.ts_upper "
							  "  FROM tributary.table_state s JOIN tributary.job_table t ON t.jt_id = s.ts_jt_id "
							  " WHERE t.jt_job_id = $1 AND NOT s.ts_done "
							  "   AND CASE WHEN $2 = 0 THEN t.jt_state = 'snapshot' ELSE t.jt_id = $2 END "
							  " ORDER BY s.ts_jt_id, s.ts_chunk_no LIMIT 1 FOR UPDATE OF s SKIP LOCKED",
							  2, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not claim a snapshot chunk");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		*jt_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		*chunk_no = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		*lower = spi_text(tup, desc, 3, cxt);
		*upper = spi_text(tup, desc, 4, cxt);
		found = true;
	}
	SPI_finish();
	tributary_catalog_leave(us);
	return found;
}

/*
 * snapshot_chunk_done: mark a chunk copied, with the table's counters, in
 * the chunk's transaction.
 */
static void
snapshot_chunk_done(int32 jt_id, int32 chunk_no, uint64 rows)
{
	Oid			argtypes[3] = {INT4OID, INT4OID, INT8OID};
	Datum		args[3] = {Int32GetDatum(jt_id), Int32GetDatum(chunk_no), Int64GetDatum((int64) rows)};
	TributaryUserSave us = tributary_catalog_enter();

	SPI_connect();
	if (SPI_execute_with_args("UPDATE tributary.table_state SET ts_done = true, ts_rows = $3 "
							  "WHERE ts_jt_id = $1 AND ts_chunk_no = $2",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_execute_with_args("UPDATE tributary.job_table SET jt_rows_copied = jt_rows_copied + $3, "
							  "jt_chunks_done = jt_chunks_done + 1 WHERE jt_id = $1",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record snapshot progress");
	SPI_finish();
	tributary_catalog_leave(us);
}

/*
 * snapshot_copy_format: whether this process copies table t in COPY's
 * binary format (decided once per process and table).
 */
static bool
snapshot_copy_format(TributaryJob *job, TributaryTable *t)
{
	TributarySource *src = job->source;

	if (t->copy_format < 0)
	{
		bool		binary = false;

		if ((src->connector->caps & TRIB_CAP_BINARY_COPY) && !t->transformed)
			binary = tributary_copy_can_be_binary(t, src->connector->snapshot->column_types(src, t));
		t->copy_format = binary ? 1 : 0;
		ereport(LOG,
				(errmsg("pg_tributary job \"%s\" copies source table [%s.%s] into %s in %s format",
						job->name, t->source_nsp, t->source_rel,
						quote_qualified_identifier(t->target_nsp, t->target_rel),
						binary ? "binary" : "text")));
	}
	return t->copy_format == 1;
}

/*
 * snapshot_copy_next: claim one chunk (of the run's tables in snapshot,
 * or with only_jt of that table) and copy it, committed with its progress
 * row in a transaction of its own.  Returns false when none was left.
 */
static bool
snapshot_copy_next(TributaryJob *job, List *tables, int32 only_jt, ChunkContext *cctx,
				   TributarySnapshotProgress progress)
{
	TributarySource *src = job->source;
	MemoryContext cxt = CurrentMemoryContext;
	int32		jt_id;
	char	   *lower;
	char	   *upper;
	uint64		rows;
	bool		binary;
	ListCell   *lc;

	CHECK_FOR_INTERRUPTS();
	tributary_exit_if_orphaned();
	begin_catalog_xact();
	cctx->table = NULL;
	if (!snapshot_claim_chunk(job, only_jt, &jt_id, &cctx->chunk_no, &lower, &upper))
	{
		commit_catalog_xact();
		MemoryContextSwitchTo(cxt);
		return false;
	}
	foreach(lc, tables)
		if (((TributaryTable *) lfirst(lc))->id == jt_id)
			cctx->table = (TributaryTable *) lfirst(lc);
	if (cctx->table == NULL)
		elog(ERROR, "snapshot chunk of job table %d that this run does not copy", jt_id);
	pgstat_report_activity(STATE_RUNNING, psprintf("snapshot of %s.%s, chunk %d",
												   cctx->table->source_nsp, cctx->table->source_rel,
												   cctx->chunk_no));
	binary = snapshot_copy_format(job, cctx->table);
	src->connector->snapshot->copy_begin(src, cctx->table, lower, upper, binary);
	if (cctx->table->transformed)
		rows = tributary_copy_transformed(cctx->table, read_from_source, src);
	else
		rows = tributary_copy_into(cctx->table, read_from_source, src, binary);
	snapshot_chunk_done(jt_id, cctx->chunk_no, rows);
	commit_catalog_xact();
	MemoryContextSwitchTo(cxt);
	if (progress)
		progress((int64) rows);
	return true;
}

/*
 * tributary_snapshot_copy_chunks: copy chunks of the job's tables until
 * none is left to claim.  Run by the job worker and by its snapshot
 * helpers, each inside the view of the source it opened.  Returns the
 * number of chunks this process copied.
 */
int
tributary_snapshot_copy_chunks(TributaryJob *job, List *tables,
							   TributarySnapshotProgress progress)
{
	ChunkContext cctx = {job, NULL, 0};
	ErrorContextCallback errcb;
	int			copied = 0;

	errcb.callback = snapshot_error_context;
	errcb.arg = &cctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	while (!ShutdownRequestPending && snapshot_copy_next(job, tables, 0, &cctx, progress))
		copied++;
	error_context_stack = errcb.previous;
	pgstat_report_activity(STATE_IDLE, NULL);
	return copied;
}

/*
 * tributary_snapshot_plan_online: plan the copy of one table that is
 * copied again while its job streams (table_sync.c), in the view the
 * caller opened on job's source: its earlier chunks and kept changes are
 * forgotten, its target emptied, its chunks recorded and jt_state set to
 * 'sync', in one transaction.
 */
void
tributary_snapshot_plan_online(TributaryJob *job, TributaryTable *t, List *tables)
{
	ChunkContext cctx = {job, NULL, 0};
	ErrorContextCallback errcb;

	errcb.callback = snapshot_error_context;
	errcb.arg = &cctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	snapshot_plan_table(job, t, tables, &cctx, true);
	error_context_stack = errcb.previous;
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * tributary_snapshot_copy_one: copy the next chunk of table t (in the view
 * the caller opened on job's source), in a transaction of its own.
 * Returns false when every chunk of t is copied.  Lets a streaming worker
 * copy a table between its stream transactions, one chunk at a time.
 */
bool
tributary_snapshot_copy_one(TributaryJob *job, TributaryTable *t,
							TributarySnapshotProgress progress)
{
	ChunkContext cctx = {job, NULL, 0};
	ErrorContextCallback errcb;
	bool		copied;

	errcb.callback = snapshot_error_context;
	errcb.arg = &cctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	copied = snapshot_copy_next(job, list_make1(t), t->id, &cctx, progress);
	error_context_stack = errcb.previous;
	pgstat_report_activity(STATE_IDLE, NULL);
	return copied;
}

/*
 * snapshot_finish_tables: tables whose chunks are all copied take their
 * final state.  Every table of the run must be finished by now.
 */
static void
snapshot_finish_tables(List *tables, const char *final_state)
{
	Datum	   *ids = palloc(sizeof(Datum) * list_length(tables));
	Oid			argtypes[2] = {INT4ARRAYOID, TEXTOID};
	Datum		args[2];
	ListCell   *lc;
	uint64		finished;
	TributaryUserSave us;

	foreach(lc, tables)
		ids[foreach_current_index(lc)] = Int32GetDatum(((TributaryTable *) lfirst(lc))->id);
	begin_catalog_xact();
	args[0] = PointerGetDatum(construct_array(ids, list_length(tables), INT4OID, 4, true, TYPALIGN_INT));
	args[1] = CStringGetTextDatum(final_state);
	us = tributary_catalog_enter();
	SPI_connect();
	if (SPI_execute_with_args("UPDATE tributary.job_table t SET jt_state = $2 "
							  " WHERE t.jt_id = ANY ($1) AND t.jt_state = 'snapshot' "
							  "   AND NOT EXISTS (SELECT 1 FROM tributary.table_state s "
							  "                    WHERE s.ts_jt_id = t.jt_id AND NOT s.ts_done)",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the end of the snapshot");
	finished = SPI_processed;
	SPI_finish();
	tributary_catalog_leave(us);
	if (finished != (uint64) list_length(tables))
		elog(ERROR, "the snapshot left %d of %d tables not copied",
			 list_length(tables) - (int) finished, list_length(tables));
	commit_catalog_xact();
	foreach(lc, tables)
		((TributaryTable *) lfirst(lc))->snapshot_done = true;
}

/*
 * tributary_snapshot_record_view: a reader of the snapshot opened a view
 * of the source as of "position": the stream must be applied idempotently
 * up to there.  Raises the job's catch-up bound to it (readers of sources
 * that cannot share a view each record their own, in any order: the bound
 * is compared and raised under a row lock, by the connector's ordering of
 * positions).  Committed before the reader reads any chunk.
 */
void
tributary_snapshot_record_view(TributaryJob *job, XLogRecPtr position)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	char	   *current = NULL;
	char	   *text = tributary_position_out(job->source, position);
	TributaryUserSave us;

	us = tributary_catalog_xact_begin();
	args[0] = Int32GetDatum(job->id);
	if (SPI_execute_with_args("SELECT job_catchup_until FROM tributary.job WHERE job_id = $1 FOR UPDATE",
							  1, types, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the job's catch-up bound");
	if (SPI_processed == 1)
		current = spi_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, CurrentMemoryContext);
	if (current == NULL || tributary_position_in(job->source, current) < position)
	{
		args[1] = CStringGetTextDatum(text);
		if (SPI_execute_with_args("UPDATE tributary.job SET job_catchup_until = $2 WHERE job_id = $1",
								  2, types, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record the job's catch-up bound");
		current = text;
	}
	/* in the job's own memory: a streaming job's online copies call this too */
	job->catchup_until = MemoryContextStrdup(GetMemoryChunkContext(job), current);
	tributary_catalog_xact_end(us);
}

/*
 * tributary_snapshot_run: copy every table of the job that is not copied
 * yet.  Tables whose snapshot is complete are skipped, and planned tables
 * keep their plan, so a restarted job goes on where it stopped.  All
 * chunks of the run are read in one view of the source: the snapshot
 * exported with the job's slot when given (the first run of a full+cdc
 * job), else a new one, whose position is handed to on_view before any
 * chunk is read.  Up to parallelism.default - 1 helpers copy chunks
 * alongside the worker; chunks a failed helper left are copied by the
 * worker itself, so that their error, if any, is the run's.
 */
void
tributary_snapshot_run(TributaryJob *job, List *tables, const char *final_state,
					   const char *exported_snapshot, TributarySnapshotView on_view,
					   TributarySnapshotProgress progress)
{
	TributarySource *src = job->source;
	List	   *pending = NIL;
	const char *view = exported_snapshot;
	ChunkContext cctx = {job, NULL, 0};
	ErrorContextCallback errcb;
	int			nchunks = 0;
	int			nhelpers;
	ListCell   *lc;

	foreach(lc, tables)
		if (!((TributaryTable *) lfirst(lc))->snapshot_done)
			pending = lappend(pending, lfirst(lc));
	if (pending == NIL)
		return;
	if (src->connector->snapshot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("snapshots of %s sources are not supported yet", src->cfg.kind),
				 errdetail("Job \"%s\" reads source \"%s\".", job->name, src->cfg.name)));

	if (exported_snapshot)
		src->connector->snapshot->join(src, exported_snapshot);
	else
	{
		src->connector->snapshot->begin(src);
		if (src->connector->caps & TRIB_CAP_SHARED_VIEW)
			view = src->connector->snapshot->export_view(src);
		/* the position of this view: read in it, so it covers all it sees */
		if (on_view)
			on_view(tributary_current_position(src));
	}

	errcb.callback = snapshot_error_context;
	errcb.arg = &cctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	foreach(lc, pending)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);

		if (!t->planned)
			snapshot_plan_table(job, t, tables, &cctx, false);
		nchunks += t->chunks_left;
	}
	error_context_stack = errcb.previous;

	nhelpers = Min(job->parallelism - 1, nchunks - 1);
	/* helpers read in the shared view, or (OWN_VIEWS: an empty name) in their own */
	if (view == NULL && (src->connector->caps & TRIB_CAP_OWN_VIEWS) == 0)
		nhelpers = 0;
	if (nhelpers > 0)
		tributary_snapshot_helpers_start(job, nhelpers, view ? view : "");
	tributary_snapshot_copy_chunks(job, pending, progress);
	if (nhelpers > 0)
	{
		/* the view must outlive the helpers; then copy what a failed one left */
		tributary_snapshot_helpers_wait();
		tributary_snapshot_copy_chunks(job, pending, progress);
	}
	if (ShutdownRequestPending)
		ereport(ERROR,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("stop requested during the snapshot")));
	snapshot_finish_tables(pending, final_state);
	src->connector->snapshot->end(src);
}
