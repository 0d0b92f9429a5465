/*-------------------------------------------------------------------------
 *
 * snapshot_helper.c
 *		Snapshot helpers: the extra chunk copiers a job worker starts when
 *		its job's parallelism.default is above 1.
 *
 * Protocol between a job worker (the coordinator) and its helpers:
 *	1. the worker plans the chunks of its tables (snapshot.c), then
 *	   registers n helpers (dynamic background workers, never restarted,
 *	   notifying it when they stop) with its job id as main argument and
 *	   its pid and the name of the source view in bgw_extra;
 *	2. a helper checks that the job's slot still belongs to that pid,
 *	   connects to the same database as the job's owner, opens the source
 *	   and imports the view (snapshot_use), then copies chunks with the
 *	   worker's own loop until none is left, adding its rows to the slot's
 *	   counter, and exits with 0;
 *	3. the worker copies chunks too, then waits for every helper to stop,
 *	   keeping its view open until then; chunks a failed helper left behind
 *	   are still not done, and the worker copies them itself.
 * A worker that exits for any reason terminates its helpers first
 * (before_shmem_exit), so no helper outlives its worker's run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "pg_tributary.h"
#include "snapshot.h"

/* what a helper is started with, in bgw_extra */
typedef struct HelperArgs
{
	pid_t		coordinator;
	int32		number;
	char		view[BGW_EXTRALEN - sizeof(pid_t) - sizeof(int32)];
} HelperArgs;

#define MAX_HELPERS 64

static BackgroundWorkerHandle *helpers[MAX_HELPERS];
static int	nhelpers = 0;
static bool cleanup_registered = false;

/* in a helper: the job's slot */
static int32 helper_job_id = 0;

/*
 * helpers_terminate: ask every helper still running to stop; registered
 * as a before_shmem_exit callback of the worker.
 */
static void
helpers_terminate(int code, Datum arg)
{
	for (int i = 0; i < nhelpers; i++)
		TerminateBackgroundWorker(helpers[i]);
	nhelpers = 0;
}

/*
 * tributary_snapshot_helpers_start: register n helpers reading in the
 * source view "view".  Fewer start when the server has no free
 * background-worker slots (max_worker_processes); the worker then simply
 * copies more chunks itself.
 */
void
tributary_snapshot_helpers_start(TributaryJob *job, int n, const char *view)
{
	BackgroundWorker bgw;
	HelperArgs	args;

	if (strlen(view) >= sizeof(args.view))
		elog(ERROR, "source view name \"%s\" is too long", view);
	if (!cleanup_registered)
	{
		before_shmem_exit(helpers_terminate, (Datum) 0);
		cleanup_registered = true;
	}
	n = Min(n, MAX_HELPERS);
	tributary_bgw_init(&bgw, "tributary_snapshot_helper_main", "pg_tributary snapshot helper",
					   BGW_NEVER_RESTART);
	bgw.bgw_main_arg = Int32GetDatum(job->id);
	bgw.bgw_notify_pid = MyProcPid;

	for (int i = 0; i < n; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		bool		ok;

		memset(&args, 0, sizeof(args));
		args.coordinator = MyProcPid;
		args.number = i + 1;
		strlcpy(args.view, view, sizeof(args.view));
		memcpy(bgw.bgw_extra, &args, sizeof(args));
		snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_tributary snapshot helper %d for job %d",
				 i + 1, job->id);
		ok = RegisterDynamicBackgroundWorker(&bgw, &helpers[nhelpers]);
		MemoryContextSwitchTo(old);
		if (!ok)
		{
			ereport(LOG,
					(errmsg("pg_tributary job \"%s\" could start only %d of %d snapshot helpers",
							job->name, i, n),
					 errhint("Raise max_worker_processes.")));
			break;
		}
		nhelpers++;
	}
	if (nhelpers > 0)
		ereport(LOG,
				(errmsg_plural("pg_tributary job \"%s\" copies with %d snapshot helper",
							   "pg_tributary job \"%s\" copies with %d snapshot helpers",
							   nhelpers, job->name, nhelpers)));
}

/*
 * tributary_snapshot_helpers_wait: wait until every helper has stopped.
 * The helpers' stops set this process's latch (bgw_notify_pid).  A stop
 * request ends the wait with an error; the helpers are then terminated on
 * the way out.
 */
void
tributary_snapshot_helpers_wait(void)
{
	for (;;)
	{
		bool		running = false;

		for (int i = 0; i < nhelpers; i++)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(helpers[i], &pid) != BGWH_STOPPED)
				running = true;
		}
		if (!running)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			ereport(ERROR,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("stop requested during the snapshot")));
	}
	for (int i = 0; i < nhelpers; i++)
		pfree(helpers[i]);
	nhelpers = 0;
}

/*
 * helper_count_rows: add a copied chunk's rows to the job's counter.
 */
static void
helper_count_rows(int64 rows)
{
	TributaryWorkerSlot *slot;

	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	slot = tributary_slot_for_job(helper_job_id);
	if (slot)
		slot->rows_applied += rows;
	LWLockRelease(TributaryShmem->lock);
	ConditionVariableBroadcast(&TributaryShmem->progress_cv);
}

/*
 * tributary_snapshot_helper_main: a helper's entry point.
 */
void
tributary_snapshot_helper_main(Datum main_arg)
{
	HelperArgs	args;
	TributaryWorkerSlot *slot;
	TributaryJob *job;
	List	   *tables;
	Oid			dboid = InvalidOid;
	Oid			owner = InvalidOid;
	MemoryContext cxt;
	int			copied;

	helper_job_id = DatumGetInt32(main_arg);
	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	/* the worker that started us must still run the job */
	LWLockAcquire(TributaryShmem->lock, LW_SHARED);
	slot = tributary_slot_for_job(helper_job_id);
	if (slot && slot->pid == args.coordinator)
	{
		dboid = slot->dboid;
		owner = slot->owner;
	}
	LWLockRelease(TributaryShmem->lock);
	if (!OidIsValid(dboid))
		proc_exit(0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	tributary_worker_become_owner(owner, helper_job_id);
	cxt = AllocSetContextCreate(TopMemoryContext, "tributary snapshot helper",
								ALLOCSET_DEFAULT_SIZES);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		job = tributary_job_load(helper_job_id);
		tables = job ? tributary_job_tables_load(helper_job_id) : NIL;
		MemoryContextSwitchTo(old);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (job == NULL || job->source == NULL)
		proc_exit(0);
	pgstat_report_appname(psprintf("pg_tributary job %s snapshot helper %d", job->name, args.number));

	tributary_source_connect(job->source, psprintf("pg_tributary job %s snapshot helper %d",
													job->name, args.number));
	/* an empty view name: the kind cannot share views, open one of its own */
	job->source->connector->snapshot->join(job->source, args.view[0] ? args.view : NULL);
	/* a view of its own: the stream must be idempotent up to its position */
	if (args.view[0] == '\0' && strcmp(job->mode, "full") != 0)
		tributary_snapshot_record_view(job, tributary_current_position(job->source));
	copied = tributary_snapshot_copy_chunks(job, tables, helper_count_rows);
	job->source->connector->snapshot->end(job->source);
	tributary_source_disconnect(job->source);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" snapshot helper %d copied %d chunks",
					job->name, args.number, copied)));
	proc_exit(0);
}
