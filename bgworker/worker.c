/*-------------------------------------------------------------------------
 *
 * worker.c
 *		A pg_tributary job worker: one background worker per running job,
 *		started by the launcher.
 *
 * Life of a worker (one run):
 *	1. attach to its slot (bgw_main_arg is the slot number), connect to the
 *	   database as the job's owner;
 *	2. in one transaction: close runs of this job left 'running' by a crash
 *	   as failed, insert this run's row;
 *	3. connect to the source with the source's connector (state 'running'
 *	   once connected) and hold the connection: wait on the latch and the
 *	   source's socket, send a heartbeat every heartbeat_interval;
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

#include "catalog.h"
#include "pg_tributary.h"
#include "snapshot.h"

static TributaryWorkerSlot *MySlot = NULL;
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

	SPI_connect();
	if (SPI_execute_with_args("UPDATE tributary.run SET run_status = 'failed', run_ended_at = now(), "
							  "run_message = 'the run was cut short by a server crash' "
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

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();

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
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * worker_hold_source: keep the source connection open until a stop
 * request, consuming what arrives and checking liveness every heartbeat
 * interval.  The data path (snapshot, stream, apply) runs here once it
 * exists.
 */
static void
worker_hold_source(TributarySource *src)
{
	TimestampTz next_heartbeat = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), src->heartbeat_ms);

	for (;;)
	{
		long		timeout;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			return;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_heartbeat);
		if (timeout <= 0)
		{
			src->connector->heartbeat(src);
			next_heartbeat = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), src->heartbeat_ms);
			continue;
		}
		rc = WaitLatchOrSocket(MyLatch,
							   WL_LATCH_SET | WL_TIMEOUT | WL_SOCKET_READABLE | WL_EXIT_ON_PM_DEATH,
							   src->connector->socket(src), timeout, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		if (rc & WL_SOCKET_READABLE)
			src->connector->consume(src);
	}
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
	List	   *tables;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	{
		MemoryContext old = MemoryContextSwitchTo(run_cxt);

		tables = tributary_job_tables_load(MyJob->id);
		MemoryContextSwitchTo(old);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();

	worker_set_phase("snapshot");
	tributary_snapshot_run(MyJob, tables, MyJob->chunk_rows, "done", worker_count_rows);
	worker_set_phase("");
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
					MyJob->name, MyJob->source->name)));

	if (strcmp(MyJob->mode, "full") == 0)
	{
		worker_full_copy(run_cxt);
		return TEK_FINISHED;
	}

	/* change capture: the stream and apply engine come with the data path */
	pgstat_report_activity(STATE_IDLE, "holding the source connection");
	worker_hold_source(MyJob->source);
	return TEK_STOPPED;
}

/*
 * worker_become_owner: run as the job's owner from here on, so that the
 * worker can only write what its owner may write.  Transaction aborts
 * restore this identity, since it is set outside any transaction.
 */
static void
worker_become_owner(Oid owner)
{
	char	   *name;

	StartTransactionCommand();
	name = GetUserNameFromId(owner, true);
	CommitTransactionCommand();
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of pg_tributary job %d no longer exists", MySlot->job_id),
				 errhint("Drop the job and define it again as an existing role.")));
	SetUserIdAndSecContext(owner, SECURITY_LOCAL_USERID_CHANGE);
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
		LWLockRelease(TributaryShmem->lock);
		MySlot = NULL;
		proc_exit(0);			/* the launcher gave up on this slot */
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
	worker_become_owner(owner);

	run_cxt = AllocSetContextCreate(TopMemoryContext, "tributary worker run",
									ALLOCSET_DEFAULT_SIZES);

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
