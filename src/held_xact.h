/*-------------------------------------------------------------------------
 *
 * held_xact.h
 *		The store of prepared source transactions (held_xact.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_HELD_XACT_H
#define TRIBUTARY_HELD_XACT_H

#include "nodes/pg_list.h"

extern void tributary_held_put(int32 job_id, const char *xid, int32 seq, const char *data,
							   uint32 len);
extern List *tributary_held_get(int32 job_id, const char *xid, int32 after, int max,
								bool *prepared);
extern void tributary_held_drop(int32 job_id, const char *xid);

#endif							/* TRIBUTARY_HELD_XACT_H */
