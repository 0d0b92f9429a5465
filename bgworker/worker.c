/*-------------------------------------------------------------------------
 *
 * worker.c
 *		A pg_tributary job worker: one background worker per running job,
 *		started by the launcher.
 *
 * Life of a worker (one run):
 *	1. attach to its slot (bgw_main_arg is the slot number), connect to the
 *	   database (as the bootstrap superuser), then act as the job's owner;
 *	2. in one transaction: close runs of this job left 'running' by a crash
 *	   as failed, insert this run's row;
 *	3. connect to the source with the source's connector (state 'running'
 *	   once connected), then by mode:
 *	   full		copy every table (snapshot.c), then the job is finished;
 *	   full+cdc	position first: create the slot (its consistent point is
 *				the stream start P0, its exported snapshot the view of the
 *				first snapshot run), copy the tables, then stream from the
 *				last checkpoint (or P0), idempotent up to the position of
 *				the last snapshot read (stream.c);
 *	   cdc		create the slot, stream from it (or from start_position),
 *				idempotently (the target was not copied by the job);
 *	   a lost source connection while streaming is retried, with backoff,
 *	   for the source's reconnect_timeout before the run fails;
 *	4. end: a stop request (SIGTERM from the launcher after stop_job or
 *	   restart_job, or from the postmaster at shutdown) ends the run as
 *	   'stopped' and exits with 0; any error ends it as 'failed', records
 *	   an errors row (SQLSTATE, message, detail, context) and exits with 1,
 *	   after which the launcher applies the job's restart strategy.
 *
 * The worker tells the launcher how it ended through exit_kind in its
 * slot; a worker that dies without setting it (SIGKILL, crash) has its run
 * closed by the launcher or, after a server crash, by its next run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "access/xlog.h"
#include "catalog.h"
#include "incremental.h"
#include "pg_tributary.h"
#include "security.h"
#include "apply/apply.h"
#include "apply/copy_in.h"
#include "snapshot.h"
#include "stream.h"
#include "table_sync.h"

static TributaryWorkerSlot *MySlot = NULL;

static List *worker_load_tables(MemoryContext run_cxt);
static TributaryJob *MyJob = NULL;
static int64 MyRunId = 0;

/*
 * worker_detach: clear the slot's pid at exit, so that a launcher that
 * adopted this worker sees it gone.
 */
static void
worker_detach(int code, Datum arg)
{
	if (MySlot == NULL)
		return;
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	if (MySlot->pid == MyProcPid)
		MySlot->pid = 0;
	LWLockRelease(TributaryShmem->lock);
	ConditionVariableBroadcast(&TributaryShmem->progress_cv);
}

/*
 * worker_set_state: publish the worker's state (and wake wait_for_sync).
 */
static void
worker_set_state(TributaryWorkerState state)
{
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	if (MySlot->state != TWS_STOPPING)
		MySlot->state = state;
	LWLockRelease(TributaryShmem->lock);
	ConditionVariableBroadcast(&TributaryShmem->progress_cv);
}

/*
 * worker_begin_run: close runs a crash left open and insert this run's row.
 */
static void
worker_begin_run(void)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2] = {Int32GetDatum(MyJob->id), Int32GetDatum(MyProcPid)};
	TributaryUserSave us = tributary_catalog_enter();

	SPI_connect();
	if (SPI_execute_with_args("UPDATE tributary.run SET run_status = 'failed', run_ended_at = now(), "
							  "run_message = 'the run was cut short by a server crash', run_crashed = true "
							  "WHERE run_job_id = $1 AND run_status = 'running'",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not close earlier runs");
	if (SPI_execute_with_args("INSERT INTO tributary.run (run_job_id, run_pid) VALUES ($1, $2) "
							  "RETURNING run_id",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not insert the run");
	MyRunId = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										  &(bool) {false}));
	SPI_finish();
	tributary_catalog_leave(us);

	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	MySlot->run_id = MyRunId;
	MySlot->started_at = GetCurrentTimestamp();
	LWLockRelease(TributaryShmem->lock);
}

/*
 * worker_end_run: record the end of the run (and, on failure, the error)
 * in a transaction of its own.
 */
static void
worker_end_run(const char *status, ErrorData *edata, const char *message)
{
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[7];
	char		nulls[7] = "       ";
	TributaryUserSave us;

	us = tributary_catalog_xact_begin();

	args[0] = Int64GetDatum(MyRunId);
	args[1] = CStringGetTextDatum(status);
	args[2] = CStringGetTextDatum(message ? message : (edata ? edata->message : ""));
	args[3] = Int32GetDatum(MyJob->id);
	if (edata)
	{
		args[4] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
		if (edata->detail)
			args[5] = CStringGetTextDatum(edata->detail);
		else
			nulls[5] = 'n';
		if (edata->context)
			args[6] = CStringGetTextDatum(edata->context);
		else
			nulls[6] = 'n';
		SPI_execute_with_args("INSERT INTO tributary.error_log (err_job_id, err_run_id, err_sqlstate, "
							  "err_message, err_detail, err_context) "
							  "SELECT $4, $1, $5, $3, $6, $7 "
							  "WHERE EXISTS (SELECT 1 FROM tributary.job WHERE job_id = $4)",
							  7, argtypes, args, nulls, false, 0);
	}
	else
	{
		nulls[4] = nulls[5] = nulls[6] = 'n';
		args[4] = args[5] = args[6] = (Datum) 0;
	}
	SPI_execute_with_args("UPDATE tributary.run SET run_status = $2, run_ended_at = now(), "
						  "run_message = nullif($3, '') WHERE run_id = $1",
						  7, argtypes, args, nulls, false, 0);
	if (strcmp(status, "finished") == 0)
		SPI_execute_with_args("UPDATE tributary.job SET job_state = 'finished' "
							  "WHERE job_id = $4 AND job_state = 'running'",
							  7, argtypes, args, nulls, false, 0);
	tributary_catalog_xact_end(us);
}

/*
 * worker_set_phase: publish the job's phase ("" for none).
 */
static void
worker_set_phase(const char *phase)
{
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	strlcpy(MySlot->phase, phase, sizeof(MySlot->phase));
	LWLockRelease(TributaryShmem->lock);
	ConditionVariableBroadcast(&TributaryShmem->progress_cv);
}

/*
 * worker_count_rows: snapshot progress callback; rows written this run.
 */
static void
worker_count_rows(int64 rows)
{
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	MySlot->rows_applied += rows;
	LWLockRelease(TributaryShmem->lock);
	ConditionVariableBroadcast(&TributaryShmem->progress_cv);
}

/*
 * worker_full_copy: a 'full' job: copy every table, then the job is
 * finished.
 */
static void
worker_full_copy(MemoryContext run_cxt)
{
	List	   *tables = worker_load_tables(run_cxt);

	worker_set_phase("snapshot");
	tributary_snapshot_run(MyJob, tables, "done", NULL, NULL, worker_count_rows);
	worker_set_phase("");
}

/* reconnect bookkeeping: set by the stream's first progress report */
static bool stream_alive = false;

/* scratch memory of progress reports, reset after each */
static MemoryContext progress_cxt = NULL;

/* when the job last had nothing left to apply (lag_seconds counts from there at most) */
static TimestampTz caught_up_at = 0;

/*
 * worker_stream_progress: publish the stream's progress.
 */
static void
worker_stream_progress(XLogRecPtr applied, XLogRecPtr received, int64 rows,
					   TimestampTz commit_ts, const char *phase)
{
	/* called right after commits: format in a scratch context, not in TopMemoryContext */
	MemoryContext old = MemoryContextSwitchTo(progress_cxt);
	char		applied_text[TRIBUTARY_POSITION_LEN];
	char		received_text[TRIBUTARY_POSITION_LEN];
	int64		lag_bytes = tributary_position_bytes(MyJob->source, applied, received);

	strlcpy(applied_text, tributary_position_out(MyJob->source, applied), TRIBUTARY_POSITION_LEN);
	strlcpy(received_text, tributary_position_out(MyJob->source, received), TRIBUTARY_POSITION_LEN);
	MemoryContextSwitchTo(old);
	MemoryContextReset(progress_cxt);

	stream_alive = true;
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	MySlot->applied_lsn = applied;
	memcpy(MySlot->applied_position, applied_text, TRIBUTARY_POSITION_LEN);
	memcpy(MySlot->source_position, received_text, TRIBUTARY_POSITION_LEN);
	MySlot->lag_bytes = lag_bytes;
	if (lag_bytes == 0 && received != InvalidXLogRecPtr)
	{
		MySlot->lag_seconds = 0;	/* caught up (MySQL commit times have whole seconds) */
		caught_up_at = GetCurrentTimestamp();
	}
	else if (commit_ts != 0 || caught_up_at != 0)
	{
		/* behind since the last applied commit, or at most since last caught up */
		TimestampTz since = Max(commit_ts, caught_up_at);

		MySlot->lag_seconds = Max(0, (double) (GetCurrentTimestamp() - since) / USECS_PER_SEC);
	}
	MySlot->rows_applied += rows;
	strlcpy(MySlot->phase, phase, sizeof(MySlot->phase));
	MySlot->state = MySlot->state == TWS_STOPPING ? TWS_STOPPING : TWS_RUNNING;
	MySlot->last_error[0] = '\0';
	LWLockRelease(TributaryShmem->lock);
	ConditionVariableBroadcast(&TributaryShmem->progress_cv);
}

/*
 * tributary_worker_parts_seen: record in the job's slot when the last
 * check of partitioned tables' leaves that found nothing to act on began
 * (wait_for_sync reads it).  No-op outside a job worker.
 */
void
tributary_worker_parts_seen(TimestampTz seen)
{
	if (MySlot == NULL)
		return;
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	MySlot->parts_seen = seen;
	LWLockRelease(TributaryShmem->lock);
	ConditionVariableBroadcast(&TributaryShmem->progress_cv);
}

/*
 * tributary_worker_sync_since: when the latest wait_for_sync call on the
 * job began (0 outside a job worker): a look at what the log does not
 * tell begun after it satisfies that call, and later requests of the same
 * call need no other.
 */
TimestampTz
tributary_worker_sync_since(void)
{
	TimestampTz since;

	if (MySlot == NULL)
		return 0;
	LWLockAcquire(TributaryShmem->lock, LW_SHARED);
	since = MySlot->sync_since;
	LWLockRelease(TributaryShmem->lock);
	return since;
}

/*
 * worker_sync_requested: whether wait_for_sync asked for a fresh source
 * position (the flag is cleared).
 */
static bool
worker_sync_requested(void)
{
	bool		requested;

	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	requested = MySlot->sync_requested;
	MySlot->sync_requested = false;
	LWLockRelease(TributaryShmem->lock);
	return requested;
}

/*
 * catalog_exec: run a catalog statement with text parameters in a
 * transaction of its own.
 */
static void
catalog_exec(const char *sql, int nargs, const char **values)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		args[4];
	char		nulls[4];
	TributaryUserSave us;

	Assert(nargs <= 4);
	for (int i = 0; i < nargs; i++)
	{
		args[i] = values[i] ? CStringGetTextDatum(values[i]) : (Datum) 0;
		nulls[i] = values[i] ? ' ' : 'n';
	}
	us = tributary_catalog_xact_begin();
	if (SPI_execute_with_args(sql, nargs, types, args, nulls, false, 0) < 0)
		elog(ERROR, "catalog statement failed: %s", sql);
	tributary_catalog_xact_end(us);
}

/*
 * worker_load_tables: the job's tables, in the run's memory.
 */
static List *
worker_load_tables(MemoryContext run_cxt)
{
	List	   *tables;
	MemoryContext old;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	old = MemoryContextSwitchTo(run_cxt);
	tables = tributary_job_tables_load(MyJob->id);
	MemoryContextSwitchTo(old);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return tables;
}

/*
 * worker_create_slot: position first.  Create the job's slot; its
 * consistent point becomes the stream start (and, until a snapshot says
 * otherwise, the catch-up bound).  Returns the exported snapshot.
 */
static char *
worker_create_slot(MemoryContext run_cxt, List *tables)
{
	TributarySource *src = MyJob->source;
	char		job_id[16];
	char	   *slot;
	char	   *snapshot;
	XLogRecPtr	p0;
	const char *values[4];
	MemoryContext old = MemoryContextSwitchTo(run_cxt);

	snprintf(job_id, sizeof(job_id), "%d", MyJob->id);
	slot = psprintf("tributary_" UINT64_FORMAT "_%d", GetSystemIdentifier(), MyJob->id);
	src->connector->stream->fix_start(src, slot, tributary_table_names(tables), &p0, &snapshot);
	MyJob->slot = slot;
	MyJob->decoder = src->job.slot_decoder;
	MyJob->stream_start = tributary_position_out(src, p0);
	MyJob->catchup_until = MyJob->stream_start;
	MemoryContextSwitchTo(old);

	values[0] = job_id;
	values[1] = slot;
	values[2] = MyJob->stream_start;
	values[3] = MyJob->decoder;
	catalog_exec("UPDATE tributary.job SET job_slot = $2, job_stream_start = $3, job_catchup_until = $3, "
				 "job_decoder = $4 WHERE job_id = $1::int", 4, values);
	if (strcmp(MyJob->mode, "cdc") == 0)
		catalog_exec("UPDATE tributary.job_table SET jt_state = 'streaming' WHERE jt_job_id = $1::int",
					 1, values);
	if (MyJob->decoder)
		ereport(LOG,
				(errmsg("pg_tributary job \"%s\" created slot \"%s\" with %s on source \"%s\" at %s",
						MyJob->name, slot, MyJob->decoder, src->cfg.name, MyJob->stream_start)));
	else
		ereport(LOG,
				(errmsg("pg_tributary job \"%s\" fixed its stream start on source \"%s\" at %s",
						MyJob->name, src->cfg.name, MyJob->stream_start)));
	return snapshot;
}

/*
 * worker_record_snapshot_view: a snapshot run that is not at the slot's
 * exported snapshot sees the source as of "position": the stream must be
 * applied idempotently up to there.  Committed before any chunk of the
 * run.
 */
static void
worker_record_snapshot_view(XLogRecPtr position)
{
	tributary_snapshot_record_view(MyJob, position);
}

/*
 * worker_is_retryable: whether an error means the source connection was
 * lost or the source is briefly unavailable (and a reconnect may help).
 * Retries end at the source's reconnect_timeout.
 */
static bool
worker_is_retryable(ErrorData *edata)
{
	return ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION ||
		edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
		edata->sqlerrcode == ERRCODE_CRASH_SHUTDOWN ||
		edata->sqlerrcode == ERRCODE_CANNOT_CONNECT_NOW ||
		/*
		 * the slot is still held by the walsender of our last connection:
		 * the source's error (tributary_pq_raise says "from source"), not
		 * a local one of the same code, such as an ALTER TABLE on a target
		 * the apply holds open
		 */
		(edata->sqlerrcode == ERRCODE_OBJECT_IN_USE && edata->message != NULL &&
		 strstr(edata->message, " from source \"") != NULL);
}

/*
 * worker_binary_values: whether the stream may carry values in binary:
 * with tributary_decoder, when every copied column of every table has the
 * same built-in type on both sides (as for binary COPY).
 */
static bool
worker_binary_values(List *tables)
{
	TributarySource *src = MyJob->source;
	MemoryContext cxt = CurrentMemoryContext;
	ListCell   *lc;
	bool		binary;

	if (src->job.slot_decoder == NULL || strcmp(src->job.slot_decoder, "tributary_decoder") != 0 ||
		(src->connector->caps & TRIB_CAP_BINARY_COPY) == 0)
		return false;
	binary = true;
	foreach(lc, tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);
		List	   *types = src->connector->snapshot->column_types(src, t);

		StartTransactionCommand();
		if (!tributary_copy_can_be_binary(t, types))
			binary = false;
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
		if (!binary)
			break;
	}
	return binary;
}

/*
 * worker_resume_state: before the stream starts again, the job's position
 * and source settings as committed (alter_source: the next connect uses
 * the source's settings as they are now), and its tables reloaded into
 * tables_cxt (emptied first): a failed attempt may have changed them in
 * memory only, a schema change applied may have renamed or removed one.
 */
static List *
worker_resume_state(MemoryContext run_cxt, MemoryContext tables_cxt)
{
	TributarySource *src = MyJob->source;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	{
		MemoryContext old = MemoryContextSwitchTo(run_cxt);
		TributaryJob *fresh = tributary_job_load(MyJob->id);

		MemoryContextSwitchTo(old);
		if (fresh == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("job was dropped")));
		MyJob->checkpoint = fresh->checkpoint;
		/* a stream rebased by GTID recorded a bound in the new numbering */
		MyJob->catchup_until = fresh->catchup_until;
		src->job.slot_decoder = MyJob->decoder;
		if (fresh->source)
			src->cfg = fresh->source->cfg;
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	src->job.stream_tables = NIL;
	MemoryContextReset(tables_cxt);
	return worker_load_tables(tables_cxt);
}

/*
 * worker_capture: a cdc or full+cdc job, from slot creation to a stop
 * request.
 */
static void
worker_capture(MemoryContext run_cxt, const char *appname)
{
	TributarySource *src = MyJob->source;
	/* reloaded after a failed attempt, whose schema changes rolled back */
	MemoryContext tables_cxt = AllocSetContextCreate(run_cxt, "tributary job tables",
													 ALLOCSET_DEFAULT_SIZES);
	List	   *volatile tables;
	char	   *exported = NULL;
	bool		pending_snapshot = false;
	ListCell   *lc;
	TimestampTz lost_at = 0;
	int			backoff_ms = 500;
	volatile bool prepare = false;

	if (src->connector->stream == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("change capture from %s sources is not supported yet", src->cfg.kind),
				 errdetail("Job \"%s\" reads source \"%s\".", MyJob->name, src->cfg.name)));
	tables = worker_load_tables(tables_cxt);
	if (MyJob->slot == NULL)
		exported = worker_create_slot(run_cxt, tables);
	else
	{
		src->job.slot_decoder = MyJob->decoder;
		src->connector->stream->prepare(src, MyJob->slot, tributary_table_names(tables));
	}

	foreach(lc, tables)
		if (!((TributaryTable *) lfirst(lc))->snapshot_done)
			pending_snapshot = true;
	if (strcmp(MyJob->mode, "full+cdc") == 0 && pending_snapshot)
	{
		worker_set_phase("snapshot");
		/* without the slot's snapshot, the stream is idempotent up to the new view */
		tributary_snapshot_run(MyJob, tables, "catchup", exported,
							   worker_record_snapshot_view, worker_count_rows);
		/* helpers with views of their own may have raised the catch-up bound */
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		{
			MemoryContext old = MemoryContextSwitchTo(run_cxt);
			TributaryJob *fresh = tributary_job_load(MyJob->id);

			if (fresh && fresh->catchup_until)
				MyJob->catchup_until = MemoryContextStrdup(TopMemoryContext, fresh->catchup_until);
			MemoryContextSwitchTo(old);
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}

	/* stream, reconnecting for a while when the source goes away */
	for (;;)
	{
		volatile bool done = false;
		volatile bool reload = false;
		/* what one attempt allocates (apply state, relation map) goes with it */
		MemoryContext attempt_cxt = AllocSetContextCreate(run_cxt, "tributary stream attempt",
														  ALLOCSET_DEFAULT_SIZES);

		/* a failed connect must count towards reconnect_timeout too */
		stream_alive = false;
		MemoryContextSwitchTo(attempt_cxt);
		PG_TRY();
		{
			XLogRecPtr	start_lsn;

			if (src->conn == NULL)
				tributary_source_connect(src, appname);
			if (prepare)
			{
				/* the job's tables changed (pgoutput: the publication follows) */
				src->connector->stream->prepare(src, MyJob->slot, tributary_table_names(tables));
				prepare = false;
			}
			if (MyJob->checkpoint)
				start_lsn = tributary_position_in(src, MyJob->checkpoint);
			else
			{
				start_lsn = tributary_position_in(src, MyJob->stream_start);
				if (MyJob->start_position)
				{
					XLogRecPtr	wanted = tributary_position_in(src, MyJob->start_position);

					/*
					 * a position without a number (MySQL earliest, a GTID
					 * set) is resolved by the connector from the text; only
					 * a slot cannot go back before its creation
					 */
					if (wanted == InvalidXLogRecPtr)
						wanted = start_lsn;
					else if (wanted < start_lsn && (src->connector->caps & TRIB_CAP_SLOT))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("start_position %s is before the job's slot was created at %s",
										MyJob->start_position, MyJob->stream_start),
								 errhint("A slot can only stream changes made after it was created.")));
					start_lsn = wanted;
				}
			}
			reload = tributary_stream_run(MyJob, tables, MyJob->slot, start_lsn,
										  MyJob->checkpoint ? MyJob->checkpoint
										  : MyJob->start_position ? MyJob->start_position : MyJob->stream_start,
										  tributary_position_in(src, MyJob->catchup_until),
										  strcmp(MyJob->mode, "cdc") == 0,
										  worker_binary_values(tables),
										  MyJob->checkpoint_ms, MyJob->num_retained,
										  worker_stream_progress, worker_sync_requested);
			done = !reload;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(run_cxt);
			edata = CopyErrorData();
			if (stream_alive)
				lost_at = 0;	/* streaming worked since the last loss */
			if (ShutdownRequestPending || !worker_is_retryable(edata) ||
				src->cfg.reconnect_ms <= 0 ||
				(lost_at != 0 &&
				 TimestampDifferenceExceeds(lost_at, GetCurrentTimestamp(), src->cfg.reconnect_ms)))
				PG_RE_THROW();

			HOLD_INTERRUPTS();
			FlushErrorState();
			AbortOutOfAnyTransaction();
			tributary_source_disconnect(src);
			MemoryContextSwitchTo(run_cxt);
			tributary_apply_forget();
			tributary_table_sync_close();
			MemoryContextDelete(attempt_cxt);
			RESUME_INTERRUPTS();
			if (lost_at == 0)
			{
				lost_at = GetCurrentTimestamp();
				backoff_ms = 500;
			}
			ereport(LOG,
					(errmsg("pg_tributary job \"%s\" lost its source: %s; reconnecting",
							MyJob->name, edata->message)));
			LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
			strlcpy(MySlot->last_error, edata->message, TRIBUTARY_ERROR_LEN);
			LWLockRelease(TributaryShmem->lock);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 backoff_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			backoff_ms = Min(backoff_ms * 2, 5000);

			/* the tables as committed: the failed attempt may have changed them in memory */
			tables = worker_resume_state(run_cxt, tables_cxt);
			CHECK_FOR_INTERRUPTS();
		}
		PG_END_TRY();
		if (done || ShutdownRequestPending)
			break;
		if (reload)
		{
			/* a schema change applied renamed or dropped a table, or one was added: start again */
			tributary_source_disconnect(src);
			MemoryContextSwitchTo(run_cxt);
			tributary_apply_forget();
			tributary_table_sync_close();
			MemoryContextDelete(attempt_cxt);
			tables = worker_resume_state(run_cxt, tables_cxt);
			prepare = true;
		}
	}
}

/*
 * worker_run: the body of a run, from connecting to the source to a stop
 * request or the end of a 'full' job.  Returns how the run ended.
 */
static TributaryExitKind
worker_run(MemoryContext run_cxt)
{
	char	   *appname = psprintf("pg_tributary job %s", MyJob->name);

	pgstat_report_activity(STATE_RUNNING, "connecting to the source");
	tributary_source_connect(MyJob->source, appname);
	worker_set_state(TWS_RUNNING);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" connected to source \"%s\"",
					MyJob->name, MyJob->source->cfg.name)));

	if (strcmp(MyJob->mode, "full") == 0)
	{
		worker_full_copy(run_cxt);
		return TEK_FINISHED;
	}
	if (strcmp(MyJob->mode, "incremental") == 0)
	{
		worker_set_phase("streaming");
		tributary_incremental_run(MyJob, worker_load_tables(run_cxt), worker_count_rows,
								  worker_sync_requested);
		return TEK_STOPPED;
	}
	worker_capture(run_cxt, appname);
	return TEK_STOPPED;
}

/*
 * tributary_worker_become_owner: run as the job's owner from here on, in
 * a security-restricted operation, so that the worker (or snapshot
 * helper), the triggers its writes fire and the expressions it evaluates
 * can only do what the owner may; catalog statements switch back to the
 * superuser the worker connected as (security.c).  Transaction aborts
 * restore this identity, since it is set outside any transaction.  Every
 * statement names its objects with their schema: search_path is empty,
 * as in PostgreSQL's own apply workers.
 */
void
tributary_worker_become_owner(Oid owner, int32 job_id)
{
	char	   *name;

	tributary_catalog_role = GetUserId();
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);
	/*
	 * As PostgreSQL's apply workers: ordinary and foreign-key triggers of
	 * targets do not fire (ENABLE ALWAYS / ENABLE REPLICA ones do), and no
	 * timeout set for the database or its users cuts an apply short.
	 */
	SetConfigOption("session_replication_role", "replica", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

	StartTransactionCommand();
	name = GetUserNameFromId(owner, true);
	CommitTransactionCommand();
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of pg_tributary job %d no longer exists", job_id),
				 errhint("Drop the job and define it again as an existing role.")));
	SetUserIdAndSecContext(owner, SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
}

/*
 * tributary_worker_main: the worker's entry point.
 */
void
tributary_worker_main(Datum main_arg)
{
	int			slotno = DatumGetInt32(main_arg);
	Oid			dboid;
	Oid			owner;
	int32		job_id;
	MemoryContext run_cxt;
	volatile TributaryExitKind ended = TEK_STOPPED;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	if (slotno < 0 || slotno >= TributaryShmem->nslots)
		elog(ERROR, "pg_tributary worker started with invalid slot %d", slotno);
	MySlot = &TributaryShmem->slots[slotno];

	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	if (!MySlot->in_use || MySlot->pid != 0)
	{
		pid_t		other = MySlot->pid;

		LWLockRelease(TributaryShmem->lock);
		elog(DEBUG1, "pg_tributary worker: slot %d is %s", slotno,
			 other != 0 ? "taken" : "no longer in use");
		MySlot = NULL;
		proc_exit(0);			/* the launcher gave up on this slot */
	}
	if (MySlot->stop_requested)
	{
		/* stopped before it started: nothing to record */
		MySlot->exit_kind = TEK_STOPPED;
		LWLockRelease(TributaryShmem->lock);
		MySlot = NULL;
		proc_exit(0);
	}
	MySlot->pid = MyProcPid;
	dboid = MySlot->dboid;
	owner = MySlot->owner;
	job_id = MySlot->job_id;
	LWLockRelease(TributaryShmem->lock);
	before_shmem_exit(worker_detach, (Datum) 0);

	/*
	 * Connect as the bootstrap superuser, then act as the job's owner: a
	 * NOLOGIN owner (a member of tributary_admin) could not connect itself.
	 */
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	tributary_worker_become_owner(owner, job_id);

	run_cxt = AllocSetContextCreate(TopMemoryContext, "tributary worker run",
									ALLOCSET_DEFAULT_SIZES);
	progress_cxt = AllocSetContextCreate(run_cxt, "tributary progress", ALLOCSET_SMALL_SIZES);

	/* load the job and start the run */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	{
		MemoryContext old = MemoryContextSwitchTo(run_cxt);

		MyJob = tributary_job_load(job_id);
		MemoryContextSwitchTo(old);
	}
	if (MyJob == NULL || MyJob->source == NULL)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
		MySlot->exit_kind = TEK_STOPPED;
		LWLockRelease(TributaryShmem->lock);
		proc_exit(0);			/* dropped meanwhile */
	}
	worker_begin_run();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_appname(psprintf("pg_tributary job %s", MyJob->name));

	PG_TRY();
	{
		ended = worker_run(run_cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		stopping;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(run_cxt);
		edata = CopyErrorData();
		stopping = (edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN && ShutdownRequestPending);
		if (!stopping)
			EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		tributary_source_disconnect(MyJob->source);
		RESUME_INTERRUPTS();

		if (!stopping)
		{
			LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
			strlcpy(MySlot->last_error, edata->message, TRIBUTARY_ERROR_LEN);
			LWLockRelease(TributaryShmem->lock);
			worker_end_run("failed", edata, NULL);
			LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
			MySlot->exit_kind = TEK_FAILED;
			LWLockRelease(TributaryShmem->lock);
			proc_exit(1);
		}
	}
	PG_END_TRY();

	/* a stop request, or the end of a full job */
	tributary_source_disconnect(MyJob->source);
	if (ended == TEK_FINISHED)
	{
		worker_end_run("finished", NULL, "all tables copied");
		ereport(LOG, (errmsg("pg_tributary job \"%s\" finished", MyJob->name)));
	}
	else
	{
		bool		by_launcher;

		LWLockAcquire(TributaryShmem->lock, LW_SHARED);
		by_launcher = MySlot->stop_requested;
		LWLockRelease(TributaryShmem->lock);
		worker_end_run("stopped", NULL,
					   by_launcher ? "stopped on request" : "stopped by server shutdown");
		ereport(LOG, (errmsg("pg_tributary job \"%s\" stopped", MyJob->name)));
	}
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	MySlot->exit_kind = ended;
	LWLockRelease(TributaryShmem->lock);
	proc_exit(0);
}
