/*-------------------------------------------------------------------------
 *
 * wait.c
 *		tributary.wait_for_sync: wait until a job has caught up.
 *
 * The caller sleeps on the condition variable that workers broadcast on
 * whenever their state or progress changes, re-reading the job's catalog
 * state at least once a second (the launcher's decisions, such as giving
 * up on a failed job, are catalog changes).
 *
 * A 'full' job is in sync once it finished.  A cdc or full+cdc job is in
 * sync once its worker reports everything up to the source position read
 * when the call began as applied (committed locally), and has looked
 * since at what the log does not tell: the leaves of its partitioned
 * tables (part_watch.c) and tables created that a rule it follows matches
 * (follow.c).  An incremental job is in sync once a poll cycle over every
 * table that began after the call has ended (incremental.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pg_tributary.h"
#include "source/connector.h"

/*
 * job_catalog_state: the job's id and desired state, its last error, and
 * whether a table of it is being copied while it streams (its changes
 * wait for the copy: not applied yet).
 */
static bool
job_catalog_state(const char *job_name, int32 *job_id, char **state, char **mode, char **last_error,
				  char **source_name, int32 *generation, bool *copying)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(job_name);
	MemoryContext cxt = CurrentMemoryContext;
	bool		found = false;

	SPI_connect();
	if (SPI_execute_with_args("SELECT j.job_id, j.job_state, "
							  "(SELECT e.err_message FROM tributary.error_log e "
							  " WHERE e.err_job_id = j.job_id ORDER BY e.err_id DESC LIMIT 1), j.job_mode, "
							  "(SELECT s.source_name FROM tributary.source s WHERE s.source_id = j.job_source_id), "
							  "j.job_generation, EXISTS (SELECT 1 FROM tributary.job_table t "
							  " WHERE t.jt_job_id = j.job_id AND t.jt_state IN ('resync', 'sync')) "
							  "FROM tributary.job j WHERE j.job_name = $1",
							  1, &argtype, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read tributary.job");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *s;
		MemoryContext old;

		found = true;
		*job_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		old = MemoryContextSwitchTo(cxt);
		*state = pstrdup(SPI_getvalue(tup, desc, 2));
		s = SPI_getvalue(tup, desc, 3);
		*last_error = s ? pstrdup(s) : NULL;
		*mode = pstrdup(SPI_getvalue(tup, desc, 4));
		*source_name = pstrdup(SPI_getvalue(tup, desc, 5));
		*generation = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		*copying = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return found;
}

/*
 * source_position: the source's current position, read over a short-lived
 * connection (closed with the call's memory on an error).
 */
static XLogRecPtr
source_position(const char *source_name)
{
	TributarySource *src = tributary_source_load(source_name);
	XLogRecPtr	lsn = InvalidXLogRecPtr;

	tributary_source_connect(src, "pg_tributary wait_for_sync");
	lsn = tributary_current_position(src);
	tributary_source_disconnect(src);
	return lsn;
}

PG_FUNCTION_INFO_V1(tributary_wait_for_sync);

/*
 * tributary_wait_for_sync: see the file header.  Returns false when the
 * timeout passes first; raises an error when the job failed or is stopped.
 */
Datum
tributary_wait_for_sync(PG_FUNCTION_ARGS)
{
	char	   *job_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Interval   *timeout = PG_GETARG_INTERVAL_P(1);
	TimestampTz deadline;
	TimestampTz began = GetCurrentTimestamp();
	bool		result = false;
	XLogRecPtr	target = InvalidXLogRecPtr;

	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(GetCurrentTimestamp()),
													   IntervalPGetDatum(timeout)));
	if (TributaryShmem == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_tributary is not loaded through shared_preload_libraries"),
				 errhint("Add pg_tributary to shared_preload_libraries in postgresql.conf and restart the server.")));

	for (;;)
	{
		int32		job_id;
		char	   *state;
		char	   *mode;
		char	   *last_error;
		char	   *source_name;
		int32		generation;
		bool		copying;
		bool		connected = false;
		bool		polling;
		pid_t		worker_pid = 0;
		long		remaining;

		CHECK_FOR_INTERRUPTS();
		if (!job_catalog_state(job_name, &job_id, &state, &mode, &last_error, &source_name, &generation,
							   &copying))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("job \"%s\" does not exist", job_name)));
		if (strcmp(state, "finished") == 0)
		{
			result = true;
			break;
		}
		if (strcmp(state, "failed") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("job \"%s\" failed", job_name),
					 last_error ? errdetail("Last error: %s", last_error) : 0,
					 errhint("See tributary.errors; restart the job with tributary.start_job().")));
		if (strcmp(state, "stopped") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("job \"%s\" is not running", job_name),
					 errhint("Start it with tributary.start_job().")));

		polling = (strcmp(mode, "incremental") == 0);
		if (target == InvalidXLogRecPtr && strcmp(mode, "full") != 0 && !polling)
			target = source_position(source_name);

		LWLockAcquire(TributaryShmem->lock, LW_EXCLUSIVE);
		{
			TributaryWorkerSlot *slot = tributary_slot_for_job(job_id);

			/* ask the worker for the source's position now, not at its next heartbeat */
			if (slot != NULL && slot->pid != 0 && (target != InvalidXLogRecPtr || polling))
			{
				slot->sync_requested = true;
				slot->sync_since = Max(slot->sync_since, began);
				worker_pid = slot->pid;
			}

			/* a full job is in sync when it finished, see above */
			connected = (strcmp(mode, "full") != 0 &&
						 slot != NULL && slot->state == TWS_RUNNING && slot->pid != 0 &&
						 slot->generation == generation && !copying &&
						 (polling || (target != InvalidXLogRecPtr && slot->applied_lsn >= target)) &&
						 slot->parts_seen >= began);
		}
		LWLockRelease(TributaryShmem->lock);
		if (worker_pid != 0 && !connected)
			kill(worker_pid, SIGUSR1);
		if (connected)
		{
			result = true;
			break;
		}

		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		ConditionVariableTimedSleep(&TributaryShmem->progress_cv, Min(remaining, 1000),
									PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	PG_RETURN_BOOL(result);
}
