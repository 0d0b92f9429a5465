/*-------------------------------------------------------------------------
 *
 * apply.h
 *		The apply engine: source changes into target tables (see apply.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_APPLY_H
#define TRIBUTARY_APPLY_H

#include "access/xlogdefs.h"
#include "catalog.h"
#include "change.h"
#include "utils/hsearch.h"

typedef struct TributaryApplyState
{
	TributaryJob *job;
	List	   *tables;			/* TributaryTable */
	HTAB	   *rels;			/* source relation id -> mapping */
	MemoryContext cxt;			/* mappings live here */
	MemoryContext change_cxt;	/* reset after every change */
	MemoryContext xact_cxt;		/* executor states of the open local transaction */
	List	   *open_rels;		/* mappings whose executor state is open */
	bool		idempotent;		/* catch-up: upserts, deletes of missing rows are no-ops */
	/*
	 * transactions that begin up to here are applied idempotently too: a
	 * table copied while the job streams has a view that may hold them
	 * (table_sync.c)
	 */
	XLogRecPtr	idempotent_until;
	XLogRecPtr	position;		/* commit position of the source transaction */
	TimestampTz commit_ts;
	int64		changes;		/* changes applied since the last local commit */
	List	   *cascades;		/* foreign keys whose actions the apply carries out (cascade.c) */
	bool		no_ref_actions; /* the current change had no foreign key actions on the source */
} TributaryApplyState;

extern TributaryApplyState *tributary_apply_create(TributaryJob *job, List *tables);
extern void tributary_apply_relation(TributaryApplyState *state, TribRelation *rel);
extern void tributary_apply_change(TributaryApplyState *state, char type, Oid relid,
								   TribTuple *oldtuple, TribTuple *newtuple);
extern void tributary_apply_truncate(TributaryApplyState *state, int nrelids, Oid *relids);
extern TributaryTable *tributary_apply_table(TributaryApplyState *state, Oid relid);
extern const char *tributary_apply_source_name(TributaryApplyState *state, Oid relid);
extern void tributary_apply_flush_counters(TributaryApplyState *state);
extern void tributary_apply_end_xact(TributaryApplyState *state);
extern void tributary_apply_abort_xact(TributaryApplyState *state);
extern void tributary_apply_forget(void);

/* soft_delete.c */
extern void tributary_soft_truncate(TributaryApplyState *state, TributaryTable *t);

/* cascade.c */
struct TupleTableSlot;
extern void tributary_cascade_setup(TributaryApplyState *state, List *actions);
extern bool tributary_cascade_parent(TributaryApplyState *state, TributaryTable *t);
extern void tributary_cascade_apply(TributaryApplyState *state, TributaryTable *t,
									struct TupleTableSlot *oldslot, struct TupleTableSlot *newslot);

#endif							/* TRIBUTARY_APPLY_H */
