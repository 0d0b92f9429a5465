/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The pg_tributary launcher: one background worker per cluster that
 *		runs a job worker for every job whose desired state is 'running' in
 *		database tributary.database, stops workers of jobs that are no
 *		longer wanted, and applies each job's restart strategy.
 *
 * The launcher sleeps on its latch.  It is woken when a transaction that
 * changed tributary.job or tributary.job_table commits (catalog trigger ->
 * tributary._wakeup_launcher -> SIGUSR1 at commit), when one of its
 * workers starts or exits (bgw_notify_pid), and when a restart delay runs
 * out (its wait timeout).  It never polls the catalog otherwise.
 *
 * One pass of the loop (launcher_pass):
 *	1. reap: a slot whose worker has exited is freed; if the worker ended
 *	   without recording the end of its run (killed, or died early), the
 *	   launcher closes that run as failed so the restart strategy counts it.
 *	2. for every job with job_state = 'running':
 *	   - a live worker of an older job_generation (restart_job) is stopped;
 *	   - with no live worker, the restart strategy decides from the job's
 *		 runs: start now, start after a delay, or give up (job_state
 *		 becomes 'failed').
 *	3. every live worker whose job is no longer 'running' (or was dropped)
 *	   is asked to stop: stop_requested in its slot, then SIGTERM.  The
 *	   worker ends its run as 'stopped' and exits.
 *
 * Crashes: a worker's crash (a signal) makes the postmaster restart the
 * whole server.  The first pass of a launcher started with no workers
 * alive closes every run still 'running' as failed and crashed; the
 * restart strategy then decides as for any failed run, and a job whose
 * worker was running at TRIBUTARY_MAX_CRASHES crashes in a row is failed
 * whatever its strategy, with an errors row that says so, so that a job
 * that crashes the server cannot do it forever.
 *
 * Restart strategies (seed names and defaults):
 *	none			a failed run fails the job.
 *	fixed-delay		restart after .delay seconds; the job fails once more
 *					than .attempts runs failed since start_job (-1: never).
 *	failure-rate	restart after .delay seconds; the job fails once more
 *					than .max-failures-per-interval runs failed within the
 *					last .failure-rate-interval seconds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pg_tributary.h"

/* worker handles, by slot index; process-local to the launcher */
static BackgroundWorkerHandle **worker_handles = NULL;

/* slots of workers started by an earlier launcher are still in use */
static bool adopted_workers = false;

/* the first pass of this launcher has not run yet */
static bool first_pass = true;

/* the last pass warned that jobs wait for a worker (warn once per episode) */
static bool warned_waiting = false;

/* a job as one launcher pass sees it */
typedef struct LauncherJob
{
	int32		job_id;
	Oid			owner;
	int32		generation;
	char		strategy[16];
	double		delay_s;		/* delay of the chosen strategy */
	int64		attempts;		/* fixed-delay */
	int64		max_failures;	/* failure-rate */
	bool		last_run_failed;	/* last run of this enablement failed (not cut short by a server crash) */
	TimestampTz last_end;
	int64		failures_since_start;
	int64		failures_in_interval;
	int64		crashes_in_a_row;	/* last runs cut short by a server crash */
} LauncherJob;

/* a job whose worker was running at this many server crashes in a row fails */
#define TRIBUTARY_MAX_CRASHES	3

/*
 * tributary_register_launcher: register the static launcher worker (from
 * _PG_init, while shared_preload_libraries are loaded).
 */
void
tributary_register_launcher(void)
{
	BackgroundWorker bgw;

	tributary_bgw_init(&bgw, "tributary_launcher_main", "pg_tributary launcher", 5);
	RegisterBackgroundWorker(&bgw);
}

/*
 * tributary_bgw_init: the parts every pg_tributary background worker
 * shares (connects to a database, starts once recovery is over), with its
 * entry point, type (also its name, which callers may refine) and restart
 * time.
 */
void
tributary_bgw_init(BackgroundWorker *bgw, const char *function, const char *type, int restart_time)
{
	memset(bgw, 0, sizeof(*bgw));
	bgw->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw->bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw->bgw_restart_time = restart_time;
	snprintf(bgw->bgw_library_name, BGW_MAXLEN, "pg_tributary");
	snprintf(bgw->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(bgw->bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(bgw->bgw_type, BGW_MAXLEN, "%s", type);
}

/*
 * launcher_detach: forget the launcher pid at exit.
 */
static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	if (TributaryShmem->launcher_pid == MyProcPid)
		TributaryShmem->launcher_pid = 0;
	LWLockRelease(TributaryShmem->lock);
}

/*
 * spi_exec_int4: run a catalog statement with one int4 parameter.
 */
static void
spi_exec_int4(const char *sql, int32 arg1, int expected)
{
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(arg1);

	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, false, 0) != expected)
		elog(ERROR, "launcher statement failed: %s", sql);
}

/*
 * launch_worker: fill a free slot for the job and start its worker.
 * Returns NULL, or why no worker could be started (no slot or background
 * worker free).
 */
static char *
launch_worker(LauncherJob *job)
{
	BackgroundWorker bgw;
	TributaryWorkerSlot *slot = NULL;
	int			slotno = -1;
	MemoryContext oldcxt;
	bool		registered;

	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	for (int i = 0; i < TributaryShmem->nslots; i++)
		if (!TributaryShmem->slots[i].in_use)
		{
			slot = &TributaryShmem->slots[i];
			slotno = i;
			break;
		}
	if (slot == NULL)
	{
		LWLockRelease(TributaryShmem->lock);
		return psprintf("waiting for a worker: all %d worker slots are in use (raise tributary.max_workers)",
						TributaryShmem->nslots);
	}
	memset(slot, 0, sizeof(*slot));
	slot->in_use = true;
	slot->job_id = job->job_id;
	slot->generation = job->generation;
	slot->dboid = MyDatabaseId;
	slot->owner = job->owner;
	slot->state = TWS_STARTING;
	slot->lag_bytes = -1;
	slot->lag_seconds = -1;
	LWLockRelease(TributaryShmem->lock);

	tributary_bgw_init(&bgw, "tributary_worker_main", "pg_tributary worker", BGW_NEVER_RESTART);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "pg_tributary worker for job %d", job->job_id);
	bgw.bgw_main_arg = Int32GetDatum(slotno);
	bgw.bgw_notify_pid = MyProcPid;

	/* the handle must outlive this pass's transaction */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&bgw, &worker_handles[slotno]);
	MemoryContextSwitchTo(oldcxt);
	if (!registered)
	{
		LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
		slot->in_use = false;
		LWLockRelease(TributaryShmem->lock);
		return pstrdup("waiting for a worker: no background worker slot is free (raise max_worker_processes, which must cover the launcher and every running job)");
	}
	return NULL;
}

/*
 * reap_workers: free the slots of exited workers; close runs their worker
 * did not get to close.  Runs inside the pass's transaction.
 */
static void
reap_workers(void)
{
	for (int i = 0; i < TributaryShmem->nslots; i++)
	{
		TributaryWorkerSlot *slot = &TributaryShmem->slots[i];
		pid_t		pid;
		int32		job_id;
		int64		run_id;
		TributaryExitKind exit_kind;
		bool		in_use;
		bool		stop_requested;
		bool		gone;

		LWLockAcquire(TributaryShmem->lock, LW_SHARED);
		in_use = slot->in_use;
		job_id = slot->job_id;
		run_id = slot->run_id;
		exit_kind = slot->exit_kind;
		pid = slot->pid;
		stop_requested = slot->stop_requested;
		LWLockRelease(TributaryShmem->lock);

		if (!in_use)
			continue;
		if (worker_handles[i] != NULL)
			gone = (GetBackgroundWorkerPid(worker_handles[i], &pid) == BGWH_STOPPED);
		else
			gone = (pid == 0 || kill(pid, 0) != 0); /* adopted at launcher start */
		if (!gone)
			continue;

		/* the worker is gone */
		elog(DEBUG1, "pg_tributary launcher: worker of job %d in slot %d is gone (pid %d, run " INT64_FORMAT ", exit %d, handle %p)",
			 job_id, i, (int) pid, run_id, (int) exit_kind, worker_handles[i]);
		if (exit_kind == TEK_NONE && !(stop_requested && run_id == 0))
		{
			Oid			argtypes[2] = {INT4OID, INT8OID};
			Datum		args[2] = {Int32GetDatum(job_id), Int64GetDatum(run_id)};

			if (run_id != 0)
				SPI_execute_with_args("UPDATE tributary.run SET run_status = 'failed', run_ended_at = now(), "
									  "run_message = 'the worker exited unexpectedly' "
									  "WHERE run_id = $2 AND run_job_id = $1 AND run_status = 'running'",
									  2, argtypes, args, NULL, false, 0);
			else
				SPI_execute_with_args("INSERT INTO tributary.run (run_job_id, run_status, run_ended_at, run_message) "
									  "SELECT $1, 'failed', now(), 'the worker exited before it started its run' "
									  "WHERE EXISTS (SELECT 1 FROM tributary.job WHERE job_id = $1) AND $2 = 0",
									  2, argtypes, args, NULL, false, 0);
		}
		if (worker_handles[i] != NULL)
		{
			pfree(worker_handles[i]);
			worker_handles[i] = NULL;
		}
		LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
		slot->in_use = false;
		LWLockRelease(TributaryShmem->lock);
		ConditionVariableBroadcast(&TributaryShmem->progress_cv);
	}
}

/*
 * stop_worker: ask a slot's worker to stop gracefully.  Called at every
 * pass until the worker is gone: the postmaster signals the process of
 * the worker's handle (never a pid that may have been reused), and a
 * worker that has not started yet is not started at all; a worker adopted
 * from an earlier launcher (no handle) gets SIGTERM at the pid it
 * recorded, which it clears when it exits.  The worker also reads
 * stop_requested when it attaches, so a stop right after a start is
 * never lost.
 */
static void
stop_worker(int slotno)
{
	TributaryWorkerSlot *slot = &TributaryShmem->slots[slotno];
	pid_t		pid;

	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	slot->stop_requested = true;
	slot->state = TWS_STOPPING;
	pid = slot->pid;
	LWLockRelease(TributaryShmem->lock);
	if (worker_handles[slotno] != NULL)
		TerminateBackgroundWorker(worker_handles[slotno]);
	else if (pid != 0)
		kill(pid, SIGTERM);
}

static const char *jobs_sql =
"SELECT j.job_id, j.job_owner::oid, j.job_generation,"
"       o->>'restart-strategy.type',"
"       CASE o->>'restart-strategy.type' WHEN 'failure-rate'"
"            THEN (o->>'restart-strategy.failure-rate.delay')::float8"
"            ELSE (o->>'restart-strategy.fixed-delay.delay')::float8 END,"
"       (o->>'restart-strategy.fixed-delay.attempts')::int8,"
"       (o->>'restart-strategy.failure-rate.max-failures-per-interval')::int8,"
"       coalesce(lr.run_status = 'failed' AND NOT lr.run_crashed AND lr.run_started_at >= j.job_enabled_at, false),"
"       lr.run_ended_at,"
"       (SELECT count(*) FROM tributary.run r WHERE r.run_job_id = j.job_id"
"           AND r.run_status = 'failed' AND r.run_started_at >= j.job_enabled_at),"
"       (SELECT count(*) FROM tributary.run r WHERE r.run_job_id = j.job_id"
"           AND r.run_status = 'failed' AND r.run_started_at >= j.job_enabled_at"
"           AND r.run_ended_at > now() - make_interval(secs =>"
"               (o->>'restart-strategy.failure-rate.failure-rate-interval')::float8)),"
"       (SELECT count(*) FROM (SELECT bool_and(r.run_crashed) OVER (ORDER BY r.run_id DESC) AS crashed"
"                                FROM tributary.run r WHERE r.run_job_id = j.job_id"
"                                 AND r.run_started_at >= j.job_enabled_at) c WHERE c.crashed)"
"  FROM tributary.job j"
"  CROSS JOIN LATERAL tributary._effective_options(j.job_options) o"
"  LEFT JOIN LATERAL (SELECT * FROM tributary.run r WHERE r.run_job_id = j.job_id"
"                     ORDER BY r.run_id DESC LIMIT 1) lr ON true"
" WHERE j.job_state = 'running'"
" ORDER BY j.job_id";

/*
 * read_running_jobs: the jobs that should run, with what the restart
 * strategy needs.  Copied into cxt.
 */
static LauncherJob *
read_running_jobs(int *njobs, MemoryContext cxt)
{
	LauncherJob *jobs;

	/* not read-only: the runs this pass closed (crashes, reaped workers) must be seen */
	if (SPI_execute(jobs_sql, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read tributary.job");
	*njobs = (int) SPI_processed;
	jobs = MemoryContextAllocZero(cxt, sizeof(LauncherJob) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		LauncherJob *j = &jobs[i];
		bool		isnull;
		char	   *strategy;

		j->job_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		j->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		j->generation = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		strategy = SPI_getvalue(tup, desc, 4);
		strlcpy(j->strategy, strategy ? strategy : "none", sizeof(j->strategy));
		j->delay_s = DatumGetFloat8(SPI_getbinval(tup, desc, 5, &isnull));
		j->attempts = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
		j->max_failures = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		j->last_run_failed = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
		j->last_end = DatumGetTimestampTz(SPI_getbinval(tup, desc, 9, &isnull));
		if (isnull)
			j->last_end = 0;
		j->failures_since_start = DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
		j->failures_in_interval = DatumGetInt64(SPI_getbinval(tup, desc, 11, &isnull));
		j->crashes_in_a_row = DatumGetInt64(SPI_getbinval(tup, desc, 12, &isnull));
	}
	return jobs;
}

/*
 * restart_decision: when a job without a live worker may start.  Returns
 * 0 to start now, a future time to start later, or -1 to give up.
 */
static TimestampTz
restart_decision(LauncherJob *job)
{
	bool		give_up;

	if (!job->last_run_failed)
		return 0;
	if (strcmp(job->strategy, "fixed-delay") == 0)
		give_up = (job->attempts >= 0 && job->failures_since_start > job->attempts);
	else if (strcmp(job->strategy, "failure-rate") == 0)
		give_up = (job->failures_in_interval > job->max_failures);
	else
		give_up = true;
	if (give_up)
		return -1;
	return TimestampTzPlusMilliseconds(job->last_end, (int64) (job->delay_s * 1000.0));
}

/*
 * close_crashed_runs: at the launcher's first pass, runs still 'running'
 * whose job has no live worker were cut short by a crash of the server
 * (a launcher that restarts alone adopts the workers still alive and
 * their runs stay open).  Runs inside the pass's transaction.
 */
static void
close_crashed_runs(void)
{
	Datum	   *live = palloc(sizeof(Datum) * TributaryShmem->nslots);
	int			nlive = 0;
	Oid			argtype = INT4ARRAYOID;
	Datum		arg;

	LWLockAcquire(TributaryShmem->lock, LW_SHARED);
	for (int i = 0; i < TributaryShmem->nslots; i++)
		if (TributaryShmem->slots[i].in_use)
			live[nlive++] = Int32GetDatum(TributaryShmem->slots[i].job_id);
	LWLockRelease(TributaryShmem->lock);
	arg = PointerGetDatum(construct_array(live, nlive, INT4OID, 4, true, TYPALIGN_INT));
	if (SPI_execute_with_args("UPDATE tributary.run SET run_status = 'failed', run_ended_at = now(), "
							  "run_message = 'the run was cut short by a server crash', run_crashed = true "
							  "WHERE run_status = 'running' AND NOT run_job_id = ANY ($1)",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not close the runs of a crash");
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("pg_tributary launcher: " UINT64_FORMAT " job runs were cut short by a server crash",
						SPI_processed)));
}

/*
 * fail_crashing_job: a job whose worker was running at every one of the
 * last TRIBUTARY_MAX_CRASHES server crashes is failed, whatever its
 * restart strategy, with an errors row that says so.
 */
static void
fail_crashing_job(LauncherJob *job)
{
	Oid			argtypes[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	char	   *message = psprintf("the job's worker was running at %d server crashes in a row",
								   TRIBUTARY_MAX_CRASHES);

	spi_exec_int4("UPDATE tributary.job SET job_state = 'failed' "
				  "WHERE job_id = $1 AND job_state = 'running'", job->job_id, SPI_OK_UPDATE);
	args[0] = Int32GetDatum(job->job_id);
	args[1] = CStringGetTextDatum(message);
	if (SPI_execute_with_args("INSERT INTO tributary.error_log (err_job_id, err_run_id, err_sqlstate, "
							  "err_message, err_detail) "
							  "VALUES ($1, (SELECT max(run_id) FROM tributary.run WHERE run_job_id = $1), "
							  "'57P02', $2, 'A job that may crash the server is not started again, whatever its restart strategy. "
							  "Look for the cause in the server log (a signal, the out-of-memory killer), fix it, then run tributary.start_job().')",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the end of a crashing job");
	ereport(LOG,
			(errmsg("pg_tributary job %d failed: %s", job->job_id, message)));
}

/*
 * launcher_pass: one reconciliation of workers against the catalog.
 * Returns how long to sleep (ms) before the next timed pass, -1 for none.
 */
static long
launcher_pass(MemoryContext pass_cxt)
{
	long		sleep_ms = -1;
	LauncherJob *jobs;
	int			njobs = 0;
	bool		stopping = false;
	TributaryWaitingJob *waiting = MemoryContextAlloc(pass_cxt, sizeof(TributaryWaitingJob) * TRIBUTARY_MAX_WAITING);
	int			nwaiting = 0;
	char	   *why;
	bool		have_extension;
	TimestampTz now = GetCurrentTimestamp();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();

	SPI_execute("SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_tributary'", true, 1);
	have_extension = (SPI_processed == 1);
	if (!have_extension)
	{
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		return -1;				/* CREATE EXTENSION wakes us */
	}

	if (first_pass)
		close_crashed_runs();
	first_pass = false;
	reap_workers();
	jobs = read_running_jobs(&njobs, pass_cxt);

	for (int i = 0; i < njobs; i++)
	{
		LauncherJob *job = &jobs[i];
		TributaryWorkerSlot *slot;
		TimestampTz start_at;
		bool		old_generation = false;

		LWLockAcquire(TributaryShmem->lock, LW_SHARED);
		slot = tributary_slot_for_job(job->job_id);
		if (slot)
			old_generation = (slot->generation != job->generation);
		LWLockRelease(TributaryShmem->lock);

		if (slot)
		{
			if (old_generation)
			{
				stop_worker(slot - TributaryShmem->slots);	/* restart_job: a new one follows */
				stopping = true;
			}
			continue;
		}

		if (job->crashes_in_a_row >= TRIBUTARY_MAX_CRASHES)
		{
			fail_crashing_job(job);
			continue;
		}
		start_at = restart_decision(job);
		if (start_at < 0)
		{
			spi_exec_int4("UPDATE tributary.job SET job_state = 'failed' "
						  "WHERE job_id = $1 AND job_state = 'running'", job->job_id, SPI_OK_UPDATE);
			ereport(LOG,
					(errmsg("pg_tributary job %d failed and its restart strategy \"%s\" gives up",
							job->job_id, job->strategy),
					 errdetail("%lld runs failed since the job was started, %lld within the failure-rate interval.",
							   (long long) job->failures_since_start,
							   (long long) job->failures_in_interval)));
			continue;
		}
		if (start_at > now)
		{
			long		ms = TimestampDifferenceMilliseconds(now, start_at);

			if (sleep_ms < 0 || ms < sleep_ms)
				sleep_ms = Max(ms, 1);
			continue;
		}
		why = launch_worker(job);
		if (why != NULL)
		{
			/* out of workers: the job shows as waiting; retry later (an exit also wakes us) */
			if (nwaiting < TRIBUTARY_MAX_WAITING)
			{
				waiting[nwaiting].job_id = job->job_id;
				waiting[nwaiting].owner = job->owner;
				strlcpy(waiting[nwaiting].reason, why, sizeof(waiting[nwaiting].reason));
				nwaiting++;
			}
			if (sleep_ms < 0 || sleep_ms > 5000)
				sleep_ms = 5000;
		}
	}
	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	TributaryShmem->nwaiting = nwaiting;
	memcpy(TributaryShmem->waiting, waiting, sizeof(TributaryWaitingJob) * nwaiting);
	LWLockRelease(TributaryShmem->lock);
	if (nwaiting > 0 && !warned_waiting)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("pg_tributary: %d running jobs wait for a worker", nwaiting),
				 errdetail("%s", waiting[0].reason)));
	warned_waiting = (nwaiting > 0);

	/* stop workers of jobs that should not run */
	for (int i = 0; i < TributaryShmem->nslots; i++)
	{
		TributaryWorkerSlot *slot = &TributaryShmem->slots[i];
		bool		wanted = false;
		bool		in_use;
		int32		job_id;

		LWLockAcquire(TributaryShmem->lock, LW_SHARED);
		in_use = slot->in_use;
		job_id = slot->job_id;
		LWLockRelease(TributaryShmem->lock);
		if (!in_use)
			continue;
		for (int j = 0; j < njobs; j++)
			if (jobs[j].job_id == job_id)
				wanted = true;
		if (!wanted)
		{
			stop_worker(i);
			stopping = true;
		}
	}
	/* signal again until the workers asked to stop are gone */
	if (stopping && (sleep_ms < 0 || sleep_ms > 1000))
		sleep_ms = 1000;

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return sleep_ms;
}

/*
 * tributary_launcher_main: the launcher's entry point and loop.
 */
void
tributary_launcher_main(Datum main_arg)
{
	MemoryContext pass_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
	if (TributaryShmem->launcher_pid != 0 && TributaryShmem->launcher_pid != MyProcPid)
	{
		LWLockRelease(TributaryShmem->lock);
		elog(LOG, "pg_tributary launcher already running");
		proc_exit(0);
	}
	TributaryShmem->launcher_pid = MyProcPid;
	LWLockRelease(TributaryShmem->lock);
	before_shmem_exit(launcher_detach, (Datum) 0);

	worker_handles = MemoryContextAllocZero(TopMemoryContext,
											sizeof(BackgroundWorkerHandle *) * TributaryShmem->nslots);

	/*
	 * Workers left by a launcher that exited without a server restart keep
	 * running; we have no handles for them, so reap_workers watches their
	 * pids instead (they clear it when they exit) and the loop below
	 * re-checks them every second until they are gone.
	 */
	for (int i = 0; i < TributaryShmem->nslots; i++)
		if (TributaryShmem->slots[i].in_use)
			adopted_workers = true;

	BackgroundWorkerInitializeConnection(tributary_database, NULL, 0);
	/* every statement names its objects with their schema */
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);
	pgstat_report_appname("pg_tributary launcher");
	ereport(LOG, (errmsg("pg_tributary launcher started in database \"%s\"", tributary_database)));

	pass_cxt = AllocSetContextCreate(TopMemoryContext, "tributary launcher pass",
									 ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		sleep_ms;
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextReset(pass_cxt);
		sleep_ms = launcher_pass(pass_cxt);
		if (adopted_workers)
		{
			adopted_workers = false;
			for (int i = 0; i < TributaryShmem->nslots; i++)
				if (TributaryShmem->slots[i].in_use && worker_handles[i] == NULL)
					adopted_workers = true;
			if (adopted_workers && (sleep_ms < 0 || sleep_ms > 1000))
				sleep_ms = 1000;
		}

		rc = WaitLatch(MyLatch,
					   WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (sleep_ms >= 0 ? WL_TIMEOUT : 0),
					   sleep_ms, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
}
