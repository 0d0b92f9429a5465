/*-------------------------------------------------------------------------
 *
 * target_state.c
 *		A target's executor state for the open local transaction: opened
 *		once per transaction for targets without triggers (per change with
 *		them), the owner's privileges checked once per kind of write, the
 *		defaults of unmapped columns, and strict inserts buffered and
 *		written with table_multi_insert.  apply.c decides what to write;
 *		this file holds the state it writes through.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "apply/apply.h"
#include "apply/apply_int.h"
#include "security.h"

/*
 * heap_find, heap_insert, heap_update, heap_delete: the heap write path:
 * the executor's own routines on the target's heap and indexes, as
 * PostgreSQL's apply worker writes (constraints, triggers, index entries).
 */
static bool
heap_find(ApplyRel *ar, ApplyOpen *ao, bool old_image)
{
	return tributary_find_row(ar, ao, LockTupleExclusive, old_image);
}

static void
heap_insert(ApplyRel *ar, ApplyOpen *ao, TupleTableSlot *slot)
{
	ExecSimpleRelationInsert(ao->rri, ao->estate, slot);
}

static void
heap_update(ApplyRel *ar, ApplyOpen *ao, TupleTableSlot *local, TupleTableSlot *remote)
{
	EvalPlanQualSetSlot(&ao->epqstate, remote);
	ExecSimpleRelationUpdate(ao->rri, ao->estate, &ao->epqstate, local, remote);
}

static void
heap_delete(ApplyRel *ar, ApplyOpen *ao, TupleTableSlot *local)
{
	EvalPlanQualSetSlot(&ao->epqstate, local);
	ExecSimpleRelationDelete(ao->rri, ao->estate, &ao->epqstate, local);
}

const TributaryWriteMethods tributary_heap_write = {
	"heap", heap_find, heap_insert, heap_update, heap_delete
};

/*
 * row_triggers: whether rel has triggers an insert, update or delete
 * fires (a TRUNCATE trigger does not matter to the stream's rows).
 */
static bool
row_triggers(Relation rel)
{
	TriggerDesc *td = rel->trigdesc;

	if (td == NULL)
		return false;
	return td->trig_insert_before_row || td->trig_insert_after_row || td->trig_insert_instead_row ||
		td->trig_insert_before_statement || td->trig_insert_after_statement ||
		td->trig_update_before_row || td->trig_update_after_row || td->trig_update_instead_row ||
		td->trig_update_before_statement || td->trig_update_after_statement ||
		td->trig_delete_before_row || td->trig_delete_after_row || td->trig_delete_instead_row ||
		td->trig_delete_before_statement || td->trig_delete_after_statement ||
		td->trig_insert_new_table || td->trig_update_old_table || td->trig_update_new_table ||
		td->trig_delete_old_table;
}

/*
 * tributary_target_open: the executor state of a target for the open local
 * transaction.  For targets without triggers it is kept across changes
 * (and closed by tributary_apply_end_xact); with triggers it is set up per
 * change, so that AFTER triggers fire at each change as for any write.
 */
ApplyOpen *
tributary_target_open(TributaryApplyState *state, ApplyRel *ar, AclMode needed)
{
	ApplyOpen  *ao = ar->open;
	MemoryContext old;
	RangeTblEntry *rte;
	Relation	rel;

	if (ao != NULL)
	{
		/* the owner's privileges, once per local transaction and kind of write */
		if ((ao->checked & needed) != needed)
		{
			tributary_target_check(ar->target_relid, GetUserId(), needed, state->job->name);
			ao->checked |= needed;
		}
		ao->estate->es_output_cid = GetCurrentCommandId(true);
		return ao;
	}

	old = MemoryContextSwitchTo(state->xact_cxt);
	rel = tributary_relmap_open(state, ar, RowExclusiveLock);
	tributary_target_check(RelationGetRelid(rel), GetUserId(), needed, state->job->name);
	ao = palloc0(sizeof(ApplyOpen));
	ao->rel = rel;
	ao->checked = needed;
	ao->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = ar->target_relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(ao->estate, list_make1(rte));
	ao->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(ao->rri, rel, 1, NULL, 0);
	ao->estate->es_opened_result_relations = list_make1(ao->rri);
	ao->estate->es_output_cid = GetCurrentCommandId(true);
	AfterTriggerBeginQuery();
	EvalPlanQualInit(&ao->epqstate, ao->estate, NULL, NIL, -1);
	ExecOpenIndices(ao->rri, false);
	ao->remote = ExecInitExtraTupleSlot(ao->estate, RelationGetDescr(rel), &TTSOpsVirtual);
	ao->search = ExecInitExtraTupleSlot(ao->estate, RelationGetDescr(rel), &TTSOpsVirtual);
	/* a table another engine owns is written through it (write_engine.c) */
	ao->write = ar->engine ? &tributary_engine_write : &tributary_heap_write;
	ao->local = ar->engine ? ExecInitExtraTupleSlot(ao->estate, RelationGetDescr(rel), &TTSOpsVirtual)
		: table_slot_create(rel, &ao->estate->es_tupleTable);
	/*
	 * with dirty_data = skip every change runs alone in a subtransaction;
	 * the statements through another engine fire what triggers it runs
	 * (Citus's own TRUNCATE trigger on every table it owns, for one)
	 */
	ao->keep = ((ar->engine || !row_triggers(rel)) && !state->job->dirty_skip);
	ao->ar = ar;
	ao->multi = ao->keep && rel->rd_rel->relkind == RELKIND_RELATION &&
		!(rel->rd_att->constr && rel->rd_att->constr->has_generated_stored) &&
		(!ar->engine || (!row_triggers(rel) && tributary_engine_can_buffer(ar, ao)));
	ao->buffer_max = ar->engine ? ENGINE_INSERT_ROWS : MULTI_INSERT_ROWS;
	if (ao->multi)
	{
		ao->buffer = palloc0(sizeof(TupleTableSlot *) * ao->buffer_max);
		ao->buffer_desc = CreateTupleDescCopy(RelationGetDescr(rel));
	}
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE && !ar->engine)
		tributary_routing_begin(ao);
	if (ar->has_defaults)
	{
		ao->defaults = palloc0(sizeof(ExprState *) * ar->natts);
		for (int i = 0; i < ar->natts; i++)
			if (ar->defaults[i])
				ao->defaults[i] = ExecInitExpr(ar->defaults[i], NULL);
	}
	if (ao->keep)
	{
		ar->open = ao;
		state->open_rels = lappend(state->open_rels, ar);
	}
	MemoryContextSwitchTo(old);
	return ao;
}

/*
 * tributary_target_fill_defaults: the target's defaults for the columns of a new row that
 * the source does not fill (as an INSERT naming only the mapped columns
 * would get).
 */
void
tributary_target_fill_defaults(ApplyRel *ar, ApplyOpen *ao, TupleTableSlot *slot)
{
	ExprContext *econtext;

	if (ao->defaults == NULL)
		return;
	econtext = GetPerTupleExprContext(ao->estate);
	for (int i = 0; i < ar->natts; i++)
		if (ao->defaults[i])
			slot->tts_values[i] = ExecEvalExpr(ao->defaults[i], econtext, &slot->tts_isnull[i]);
}

/*
 * tributary_target_flush: write the buffered inserts of a target with
 * table_multi_insert and index them (a table another engine owns: with
 * one statement through it).  Needed before any lookup in the target and
 * before the local commit.
 */
void
tributary_target_flush(ApplyOpen *ao)
{
	MemoryContext old;

	if (ao->nbuffered == 0)
		return;
	if (ao->write == &tributary_engine_write)
	{
		tributary_engine_flush(ao);
		return;
	}
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(ao->estate));
	table_multi_insert(ao->rel, ao->buffer, ao->nbuffered, ao->estate->es_output_cid, 0, NULL);
	for (int i = 0; i < ao->nbuffered; i++)
	{
		List	   *conflicts = NIL;

		if (ao->rri->ri_NumIndices > 0)
			conflicts = ExecInsertIndexTuples(ao->rri, ao->buffer[i], ao->estate,
											  false, false, NULL, NIL);
		list_free(conflicts);
		ExecClearTuple(ao->buffer[i]);
	}
	MemoryContextSwitchTo(old);
	ResetPerTupleExprContext(ao->estate);
	ao->nbuffered = 0;
	CommandCounterIncrement();
}

/*
 * tributary_target_close: flush and release a target's executor state.
 */
void
tributary_target_close(ApplyOpen *ao)
{
	PushActiveSnapshot(GetTransactionSnapshot());
	tributary_target_flush(ao);
	PopActiveSnapshot();
	tributary_routing_end(ao);
	ExecCloseIndices(ao->rri);
	EvalPlanQualEnd(&ao->epqstate);
	AfterTriggerEndQuery(ao->estate);
	ExecResetTupleTable(ao->estate->es_tupleTable, false);
	FreeExecutorState(ao->estate);
	table_close(ao->rel, NoLock);
}

/*
 * tributary_apply_end_xact: before the local commit, write what is
 * buffered and release the targets kept open.
 */
void
tributary_apply_end_xact(TributaryApplyState *state)
{
	ListCell   *lc;

	foreach(lc, state->open_rels)
	{
		ApplyRel   *ar = (ApplyRel *) lfirst(lc);

		tributary_target_close(ar->open);
		ar->open = NULL;
	}
	list_free(state->open_rels);
	state->open_rels = NIL;
	MemoryContextReset(state->xact_cxt);
}

/*
 * tributary_apply_forget: the apply state of this process is about to be
 * freed (its memory context goes at a reconnect): nothing may point into
 * it any more.
 */
void
tributary_apply_forget(void)
{
	tributary_relmap_reset();
	tributary_engine_reconnect();
}

/*
 * tributary_apply_abort_xact: forget the targets kept open (the aborted
 * transaction released them).
 */
void
tributary_apply_abort_xact(TributaryApplyState *state)
{
	ListCell   *lc;

	foreach(lc, state->open_rels)
		((ApplyRel *) lfirst(lc))->open = NULL;
	state->open_rels = NIL;
	MemoryContextReset(state->xact_cxt);
}
