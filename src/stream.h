/*-------------------------------------------------------------------------
 *
 * stream.h
 *		The change-capture phase of a job (see stream.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_STREAM_H
#define TRIBUTARY_STREAM_H

#include "access/xlogdefs.h"
#include "catalog.h"

/*
 * progress report: everything up to "applied" is applied (committed
 * locally), the source is at "received"; rows applied since the last
 * report, commit time of the last source transaction, phase.
 */
typedef void (*TributaryStreamProgress) (XLogRecPtr applied, XLogRecPtr received, int64 rows,
										 TimestampTz commit_ts, const char *phase);

/* whether someone waits for the source's current position (wait_for_sync) */
typedef bool (*TributaryStreamSyncCheck) (void);

extern bool tributary_stream_run(TributaryJob *job, List *tables, const char *slot,
								 XLogRecPtr start_lsn, const char *start_text, XLogRecPtr catchup_until,
								 bool always_idempotent, bool binary, int checkpoint_ms, int num_retained,
								 TributaryStreamProgress progress,
								 TributaryStreamSyncCheck sync_check);

#endif							/* TRIBUTARY_STREAM_H */
