/*-------------------------------------------------------------------------
 *
 * snapshot.h
 *		Copying a job's tables chunk by chunk (see snapshot.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_SNAPSHOT_H
#define TRIBUTARY_SNAPSHOT_H

#include "access/xlogdefs.h"
#include "catalog.h"

/* called after every committed chunk with the rows it copied */
typedef void (*TributarySnapshotProgress) (int64 rows);

/* called with the source position of a new view, before any chunk is read in it */
typedef void (*TributarySnapshotView) (XLogRecPtr position);

extern void tributary_snapshot_run(TributaryJob *job, List *tables,
								   const char *final_state, const char *exported_snapshot,
								   TributarySnapshotView on_view,
								   TributarySnapshotProgress progress);
extern void tributary_snapshot_record_view(TributaryJob *job, XLogRecPtr position);
extern void tributary_snapshot_plan_online(TributaryJob *job, TributaryTable *t, List *tables);
extern bool tributary_snapshot_copy_one(TributaryJob *job, TributaryTable *t,
										TributarySnapshotProgress progress);
extern int	tributary_snapshot_copy_chunks(TributaryJob *job, List *tables,
										   TributarySnapshotProgress progress);

/* bgworker/snapshot_helper.c */
extern void tributary_snapshot_helpers_start(TributaryJob *job, int n, const char *view);
extern void tributary_snapshot_helpers_wait(void);
extern PGDLLEXPORT void tributary_snapshot_helper_main(Datum main_arg);

#endif							/* TRIBUTARY_SNAPSHOT_H */
