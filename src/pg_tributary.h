/*-------------------------------------------------------------------------
 *
 * pg_tributary.h
 *		Declarations shared by the target-side modules of pg_tributary:
 *		GUCs, shared-memory worker state, launcher and worker entry points.
 *
 * The decoder (src/decoder/) does not include this file: it is built into
 * its own library that runs on the source server.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_TRIBUTARY_H
#define PG_TRIBUTARY_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/pmsignal.h"

/* GUCs */
extern char *tributary_database;
extern int	tributary_max_workers;

/* true when the library was loaded through shared_preload_libraries */
extern bool tributary_preloaded;

/* what a job worker is doing, as the jobs view shows it */
typedef enum TributaryWorkerState
{
	TWS_STARTING = 0,
	TWS_RUNNING,
	TWS_STOPPING
} TributaryWorkerState;

/* how a worker ended, set by the worker just before it exits */
typedef enum TributaryExitKind
{
	TEK_NONE = 0,				/* still running, or died without saying */
	TEK_STOPPED,
	TEK_FAILED,
	TEK_FINISHED
} TributaryExitKind;

#define TRIBUTARY_POSITION_LEN	64
#define TRIBUTARY_ERROR_LEN		512

/*
 * One slot per job worker.  The launcher fills in the identity fields
 * before it starts the worker; the worker owns the progress fields.  All
 * fields are read and written under TributaryShmem->lock.
 */
typedef struct TributaryWorkerSlot
{
	bool		in_use;
	int32		job_id;
	int32		generation;		/* job_generation the worker was started for */
	Oid			dboid;
	Oid			owner;
	pid_t		pid;
	bool		stop_requested; /* the launcher asked it to stop */
	bool		sync_requested; /* wait_for_sync wants a fresh source position */
	TimestampTz sync_since;		/* when the latest wait_for_sync call began */
	TributaryWorkerState state;
	TributaryExitKind exit_kind;
	char		phase[16];		/* snapshot, catchup, streaming or "" */
	TimestampTz started_at;
	int64		run_id;
	XLogRecPtr	applied_lsn;	/* everything up to here is applied */
	char		applied_position[TRIBUTARY_POSITION_LEN];
	char		source_position[TRIBUTARY_POSITION_LEN];
	int64		lag_bytes;		/* -1 = unknown */
	double		lag_seconds;	/* < 0 = unknown */
	int64		rows_applied;
	/*
	 * when the last look at what the log does not tell began that found
	 * nothing to act on (partitions attached or detached: part_watch.c;
	 * tables a followed rule matches: follow.c): wait_for_sync needs one
	 * begun after its own start
	 */
	TimestampTz parts_seen;
	char		last_error[TRIBUTARY_ERROR_LEN];
} TributaryWorkerSlot;

/* a running job the launcher could not give a worker, and why */
#define TRIBUTARY_MAX_WAITING	64
typedef struct TributaryWaitingJob
{
	int32		job_id;
	Oid			owner;
	char		reason[160];
} TributaryWaitingJob;

typedef struct TributaryShmemStruct
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	/* written by the launcher at every pass */
	int			nwaiting;
	TributaryWaitingJob waiting[TRIBUTARY_MAX_WAITING];
	/* broadcast whenever a worker's state or progress changes */
	ConditionVariable progress_cv;
	int			nslots;
	TributaryWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} TributaryShmemStruct;

extern TributaryShmemStruct *TributaryShmem;

/*
 * tributary_exit_if_orphaned: leave at once when the postmaster has died,
 * as WL_EXIT_ON_PM_DEATH does for waits.  Every loop that can run without
 * waiting on a latch (COPY data, a stream that always has data, chunk
 * loops) calls it, so that no worker keeps writing after a crash of the
 * postmaster and blocks its restart.
 */
static inline void
tributary_exit_if_orphaned(void)
{
	if (!PostmasterIsAlive())
		proc_exit(1);
}

/* drop_guard.c */
extern void tributary_drop_guard_install(void);

/* shmem.c */
extern void tributary_shmem_request(void);
extern void tributary_shmem_init(void);
extern TributaryWorkerSlot *tributary_slot_for_job(int32 job_id);
extern void tributary_wakeup_launcher_now(void);

/* launcher.c / worker.c */
struct BackgroundWorker;
extern void tributary_register_launcher(void);
extern void tributary_bgw_init(struct BackgroundWorker *bgw, const char *function, const char *type,
							   int restart_time);
extern PGDLLEXPORT void tributary_launcher_main(Datum main_arg);
extern PGDLLEXPORT void tributary_worker_main(Datum main_arg);
extern void tributary_worker_parts_seen(TimestampTz seen);
extern TimestampTz tributary_worker_sync_since(void);
extern void tributary_worker_become_owner(Oid owner, int32 job_id);

#endif							/* PG_TRIBUTARY_H */
