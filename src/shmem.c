/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		Shared-memory state of pg_tributary: one slot per job worker, the
 *		launcher's pid, and the condition variable wait_for_sync sleeps on.
 *		Also the SQL functions that read it (tributary._worker_status) and
 *		that wake the launcher when a transaction commits.
 *
 * The launcher is woken with SIGUSR1, whose default handler in a background
 * worker sets its latch.  Catalog changes wake it only at commit (through a
 * transaction callback) so that it never sees a change that is rolled back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pg_tributary.h"

TributaryShmemStruct *TributaryShmem = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static bool wakeup_at_commit = false;
static bool xact_callback_registered = false;

/*
 * tributary_shmem_size: bytes needed for the state and its worker slots.
 */
static Size
tributary_shmem_size(void)
{
	return add_size(offsetof(TributaryShmemStruct, slots),
					mul_size(tributary_max_workers, sizeof(TributaryWorkerSlot)));
}

/*
 * tributary_shmem_request_hook: reserve our memory and LWLock tranche.
 */
static void
tributary_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(tributary_shmem_size());
	RequestNamedLWLockTranche("pg_tributary", 1);
}

/*
 * tributary_shmem_startup_hook: create or attach to the state.
 */
static void
tributary_shmem_startup_hook(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	TributaryShmem = ShmemInitStruct("pg_tributary", tributary_shmem_size(), &found);
	if (!found)
	{
		memset(TributaryShmem, 0, tributary_shmem_size());
		TributaryShmem->lock = &(GetNamedLWLockTranche("pg_tributary"))->lock;
		ConditionVariableInit(&TributaryShmem->progress_cv);
		TributaryShmem->nslots = tributary_max_workers;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * tributary_shmem_request: install the hooks (called from _PG_init).
 */
void
tributary_shmem_request(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = tributary_shmem_request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = tributary_shmem_startup_hook;
}

/*
 * tributary_slot_for_job: the in-use slot of a job, or NULL.  Caller holds
 * the lock.
 */
TributaryWorkerSlot *
tributary_slot_for_job(int32 job_id)
{
	for (int i = 0; i < TributaryShmem->nslots; i++)
	{
		TributaryWorkerSlot *slot = &TributaryShmem->slots[i];

		if (slot->in_use && slot->job_id == job_id)
			return slot;
	}
	return NULL;
}

/*
 * tributary_wakeup_launcher_now: set the launcher's latch, if it runs.
 */
void
tributary_wakeup_launcher_now(void)
{
	pid_t		pid;

	if (TributaryShmem == NULL)
		return;
	LWLockAcquire(TributaryShmem->lock, LW_SHARED);
	pid = TributaryShmem->launcher_pid;
	LWLockRelease(TributaryShmem->lock);
	if (pid != 0)
		kill(pid, SIGUSR1);
}

/*
 * tributary_xact_callback: wake the launcher once the transaction that
 * changed the catalog has committed.
 */
static void
tributary_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wakeup_at_commit)
				tributary_wakeup_launcher_now();
			wakeup_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wakeup_at_commit = false;
			break;
		default:
			break;
	}
}

PG_FUNCTION_INFO_V1(tributary_wakeup_launcher);

/*
 * tributary_wakeup_launcher: SQL-callable; wake the launcher when the
 * current transaction commits.  Used by the catalog triggers.
 */
Datum
tributary_wakeup_launcher(PG_FUNCTION_ARGS)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(tributary_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wakeup_at_commit = true;
	PG_RETURN_VOID();
}

static const char *const state_names[] = {"starting", "running", "stopping"};

PG_FUNCTION_INFO_V1(tributary_worker_status);

/*
 * tributary_worker_status: one row per running job worker whose job the
 * caller owns (as a member of the owner role, or as a superuser), copied
 * out of shared memory under the lock.  Returns no rows when the library
 * was not preloaded.
 */
Datum
tributary_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TributaryWorkerSlot *copy;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (TributaryShmem == NULL)
		return (Datum) 0;

	copy = palloc(sizeof(TributaryWorkerSlot) * TributaryShmem->nslots);
	LWLockAcquire(TributaryShmem->lock, LW_SHARED);
	for (int i = 0; i < TributaryShmem->nslots; i++)
		if (TributaryShmem->slots[i].in_use)
			copy[n++] = TributaryShmem->slots[i];
	LWLockRelease(TributaryShmem->lock);

	/* a job's errors may quote row data: only its owner and superusers see them */
	for (int i = 0; i < n;)
	{
		if (has_privs_of_role(GetUserId(), copy[i].owner))
			i++;
		else
			copy[i] = copy[--n];
	}

	/* running jobs that wait for a worker: state waiting, and why */
	{
		TributaryWaitingJob *waiting = palloc(sizeof(TributaryWaitingJob) * TRIBUTARY_MAX_WAITING);
		int			nwaiting;

		LWLockAcquire(TributaryShmem->lock, LW_SHARED);
		nwaiting = TributaryShmem->nwaiting;
		memcpy(waiting, TributaryShmem->waiting, sizeof(TributaryWaitingJob) * nwaiting);
		LWLockRelease(TributaryShmem->lock);
		for (int i = 0; i < nwaiting; i++)
		{
			Datum		values[12] = {0};
			bool		nulls[12];

			if (!has_privs_of_role(GetUserId(), waiting[i].owner))
				continue;
			memset(nulls, true, sizeof(nulls));
			values[0] = Int32GetDatum(waiting[i].job_id);
			nulls[0] = false;
			values[2] = CStringGetTextDatum("waiting");
			nulls[2] = false;
			values[10] = Int64GetDatum(0);
			nulls[10] = false;
			values[11] = CStringGetTextDatum(waiting[i].reason);
			nulls[11] = false;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}

	for (int i = 0; i < n; i++)
	{
		TributaryWorkerSlot *s = &copy[i];
		Datum		values[12];
		bool		nulls[12] = {0};

		values[0] = Int32GetDatum(s->job_id);
		values[1] = Int32GetDatum(s->pid);
		nulls[1] = (s->pid == 0);
		values[2] = CStringGetTextDatum(state_names[s->state]);
		values[3] = CStringGetTextDatum(s->phase);
		nulls[3] = (s->phase[0] == '\0');
		values[4] = TimestampTzGetDatum(s->started_at);
		nulls[4] = (s->started_at == 0);
		values[5] = Int64GetDatum(s->run_id);
		nulls[5] = (s->run_id == 0);
		values[6] = CStringGetTextDatum(s->applied_position);
		nulls[6] = (s->applied_position[0] == '\0');
		values[7] = CStringGetTextDatum(s->source_position);
		nulls[7] = (s->source_position[0] == '\0');
		values[8] = Int64GetDatum(s->lag_bytes);
		nulls[8] = (s->lag_bytes < 0);
		values[9] = Float8GetDatum(s->lag_seconds);
		nulls[9] = (s->lag_seconds < 0);
		values[10] = Int64GetDatum(s->rows_applied);
		values[11] = CStringGetTextDatum(s->last_error);
		nulls[11] = (s->last_error[0] == '\0');
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
