/*-------------------------------------------------------------------------
 *
 * apply_int.h
 *		What the apply engine's files share among themselves (apply.c,
 *		relmap.c, dirty.c, target_state.c, soft_delete.c); callers outside
 *		src/apply use apply.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_APPLY_INT_H
#define TRIBUTARY_APPLY_INT_H

#include "apply/relmap.h"
#include "executor/execdesc.h"
#include "nodes/execnodes.h"

/* how many inserts the multi-insert buffer holds */
#define MULTI_INSERT_ROWS	1000
/*
 * how many inserts it holds for a table another engine owns: each flush
 * is one statement the engine plans and spreads over its shards, with a
 * round trip to every worker it reaches
 */
#define ENGINE_INSERT_ROWS	5000

struct ApplyOpen;

/*
 * How a target's rows are found and written: straight into its heap and
 * indexes through the executor (target_state.c), or through the engine
 * that owns the table, by statements its planner routes (write_engine.c:
 * Citus tables, whose own heap on this node no query reads).  find looks
 * for the row ao->search designates and leaves it in ao->local.
 */
typedef struct TributaryWriteMethods
{
	const char *name;			/* the write path, as tributary.tables shows it */
	bool		(*find) (ApplyRel *ar, struct ApplyOpen *ao, bool old_image);
	void		(*insert) (ApplyRel *ar, struct ApplyOpen *ao, TupleTableSlot *slot);
	void		(*update) (ApplyRel *ar, struct ApplyOpen *ao, TupleTableSlot *local, TupleTableSlot *remote);
	void		(*delete) (ApplyRel *ar, struct ApplyOpen *ao, TupleTableSlot *local);
} TributaryWriteMethods;

extern const TributaryWriteMethods tributary_heap_write;
extern const TributaryWriteMethods tributary_engine_write;

/* a target's executor state, kept for the open local transaction */
typedef struct ApplyOpen
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	EPQState	epqstate;
	TupleTableSlot *remote;		/* the row from the source */
	TupleTableSlot *search;		/* the key to look for */
	TupleTableSlot *local;		/* the row found */
	AclMode		checked;		/* privileges of the owner checked in this transaction */
	const TributaryWriteMethods *write;	/* how its rows are found and written */
	bool		keep;			/* kept across changes (no triggers) */
	bool		multi;			/* strict inserts are buffered */
	TupleTableSlot **buffer;	/* buffered inserts */
	TupleDesc	buffer_desc;	/* theirs: the target's, not reference-counted */
	int			nbuffered;
	int			buffer_max;		/* written when it holds this many */
	ApplyRel   *ar;				/* the map entry it was opened for */
	ExprState **defaults;		/* initialized defaults of unmapped columns */
	/* a partitioned target (partition.c): its tuple routing */
	struct ModifyTableState *mtstate;
	struct PartitionTupleRouting *proute;
	List	   *routed;			/* partition.c's slots per partition */
} ApplyOpen;

/* apply.c */
extern Datum tributary_receive_value(FmgrInfo *fn, Oid ioparam, int32 typmod, TribValue *v);

/*
 * tributary_value_datum: a text or binary value of the change stream as a
 * Datum of io's type (in the current memory context).
 */
static inline Datum
tributary_value_datum(TribValueIO *io, TribValue *v)
{
	if (v->kind == TRIB_VALUE_TEXT)
		return InputFunctionCall(&io->in_fn, pnstrdup(v->data, v->len), io->ioparam, io->typmod);
	if (v->kind == TRIB_VALUE_BINARY && OidIsValid(io->recv_fn.fn_oid))
		return tributary_receive_value(&io->recv_fn, io->recv_ioparam, io->typmod, v);
	if (v->kind == TRIB_VALUE_BINARY && OidIsValid(io->src_recv_fn.fn_oid))
	{
		Datum		d = tributary_receive_value(&io->src_recv_fn, io->src_recv_ioparam, -1, v);

		return InputFunctionCall(&io->in_fn, OutputFunctionCall(&io->src_out_fn, d),
								 io->ioparam, io->typmod);
	}
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("unexpected value kind '%c' in the change stream", v->kind)));
	return (Datum) 0;			/* keep compiler quiet */
}

/* transform_stream.c */
extern void tributary_transform_prepare(ApplyRel *ar, Relation rel);
extern bool tributary_transform_change(TributaryApplyState *state, ApplyRel *ar, char *type,
									   TribTuple **oldtuple, TribTuple **newtuple);
extern bool tributary_transform_key_changed(ApplyRel *ar, TribTuple *oldtuple, TribTuple *newtuple);

/* target_state.c */
extern ApplyOpen *tributary_target_open(TributaryApplyState *state, ApplyRel *ar, AclMode needed);
extern void tributary_target_fill_defaults(ApplyRel *ar, ApplyOpen *ao, TupleTableSlot *slot);
extern void tributary_target_flush(ApplyOpen *ao);
extern void tributary_target_close(ApplyOpen *ao);

/* partition.c */
extern void tributary_routing_begin(ApplyOpen *ao);
extern void tributary_routing_end(ApplyOpen *ao);
extern ResultRelInfo *tributary_route(ApplyOpen *ao, TupleTableSlot *rootslot, TupleTableSlot **leaf);
extern bool tributary_route_find(ApplyOpen *ao, ResultRelInfo *part, TupleTableSlot *search,
								 TupleTableSlot **found);
extern void tributary_route_to_root(ResultRelInfo *part, TupleTableSlot *leafslot,
									TupleTableSlot *rootslot);
extern bool tributary_route_fits(ApplyOpen *ao, ResultRelInfo *part, TupleTableSlot *leafslot);

/* find_row.c */
extern Oid	tributary_deferrable_key(Relation rel);
extern bool tributary_find_row(ApplyRel *ar, ApplyOpen *ao, LockTupleMode lockmode, bool old_image);

/* dirty.c */
extern void tributary_record_dirty_row(TributaryApplyState *state, ApplyRel *ar, TribTuple *tuple,
									   ErrorData *edata);

/* write_engine.c */
extern bool tributary_engine_target(Oid relid);
extern void tributary_engine_truncate(const char *name);
extern void tributary_engine_forget(ApplyRel *ar);
extern void tributary_engine_reconnect(void);
extern bool tributary_engine_can_buffer(ApplyRel *ar, ApplyOpen *ao);
extern void tributary_engine_flush(ApplyOpen *ao);

/* soft_delete.c */
extern void tributary_soft_mark(ApplyRel *ar, TupleTableSlot *slot, TupleTableSlot *from,
								bool deleted, TimestampTz commit_ts);

#endif							/* TRIBUTARY_APPLY_INT_H */
