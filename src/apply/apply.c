/*-------------------------------------------------------------------------
 *
 * apply.c
 *		The apply engine: one source change at a time into its target
 *		table, at the executor level (no SQL text per row): rows are found
 *		through the target's primary key index, written with the executor's
 *		simple-relation functions, which maintain indexes, check
 *		constraints and fire triggers.
 *
 * Semantics:
 *	strict (the stream is past every snapshot read)
 *		INSERT	insert; a duplicate key is an error
 *		UPDATE	the row found by its old key is updated; a missing row is
 *				an error
 *		DELETE	the row found by its old key is deleted; a missing row is
 *				an error
 *	idempotent (catch-up: the snapshot may already hold the change)
 *		INSERT	upsert of the full new row
 *		UPDATE	as strict, but a missing row is inserted from the full new
 *				row image; an update that changes the key deletes the row
 *				of the old key if it is there and upserts the new row (the
 *				snapshot may already hold the row under its new key)
 *		DELETE	a missing row is a no-op
 * Every change carries full row images (REPLICA IDENTITY FULL), which is
 * what makes the idempotent forms exact.
 *
 * Within a local transaction a target's executor state (relation, indexes,
 * slots; target_state.c) stays open across changes, and strict inserts into a plain table
 * are buffered and written with table_multi_insert, 1000 at a time (into
 * a table another engine owns: by one statement through it, 5000 at a
 * time; write_engine.c); the
 * buffer is written before any lookup in that table and before the local
 * commit.  Targets with triggers get a fresh executor state per change,
 * so their triggers fire as for any single-row write.
 *
 * Values arrive as text, or in binary (send format) when the stream was
 * started with binary values, which the worker does only when every column
 * has the same built-in type on both sides; a binary value for a column
 * whose types differ (the source changed since) is an error.
 *
 * The job's "dml" option can ignore inserts, updates or deletes per table
 * (soft deletes).  Values arrive as text and go through the target
 * columns' input functions; an error context names the job, the tables,
 * the column and the source position.
 *
 * Relation mappings: a RELATION message from the source is matched by
 * schema and name to a job table; target columns map to source columns by
 * the table's column list (expressions and row filters are applied by
 * snapshots only, for now).  Target columns the source does not fill get
 * their defaults in new rows and keep their values in updated ones.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/resowner.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

#include "apply/apply.h"
#include "apply/apply_int.h"
#include "apply/copy_in.h"
#include "transform.h"
#include "security.h"

/* the per-commit counter update, planned once per process */
static SPIPlanPtr counters_plan = NULL;

/* what the error context callback reports */
typedef struct ApplyErrorArg
{
	TributaryApplyState *state;
	ApplyRel   *rel;
	const char *op;
	int			attnum;			/* target attribute being converted, or -1 */
} ApplyErrorArg;

/*
 * apply_error_context: name job, tables, column and source position.
 */
static void
apply_error_context(void *arg)
{
	ApplyErrorArg *a = (ApplyErrorArg *) arg;
	const char *column = NULL;

	if (a->rel == NULL || a->rel->table == NULL)
		return;
	/* the names the mapping was built with: no catalog access here */
	if (a->attnum >= 0 && a->rel->valid && a->attnum < a->rel->natts)
		column = a->rel->target_names[a->attnum];
	errcontext("pg_tributary job \"%s\": %s of source table [%s] into %s%s%s%s, source transaction at %s",
			   a->state->job->name, a->op, a->rel->source_name,
			   quote_qualified_identifier(a->rel->table->target_nsp, a->rel->table->target_rel),
			   column ? ", column \"" : "", column ? column : "", column ? "\"" : "",
			   tributary_position_out(a->state->job->source, a->state->position));
}

/*
 * tributary_apply_create: the apply state of a job.
 */
TributaryApplyState *
tributary_apply_create(TributaryJob *job, List *tables)
{
	TributaryApplyState *state = palloc0(sizeof(TributaryApplyState));
	HASHCTL		ctl;

	state->job = job;
	state->tables = tables;
	state->cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary apply mappings",
									   ALLOCSET_DEFAULT_SIZES);
	state->change_cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary apply change",
											  ALLOCSET_DEFAULT_SIZES);
	state->xact_cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary apply transaction",
											ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ApplyRel);
	ctl.hcxt = state->cxt;
	state->rels = hash_create("tributary apply relations", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	tributary_relmap_init(state);
	return state;
}

/*
 * tributary_apply_relation: a RELATION message: the source side of the
 * relation's mapping changes (relmap.c); what is buffered for it is
 * written first.  Needs a transaction.
 */
void
tributary_apply_relation(TributaryApplyState *state, TribRelation *msg)
{
	ApplyRel   *ar = hash_search(state->rels, &msg->relid, HASH_FIND, NULL);

	if (ar != NULL && ar->open)
		tributary_apply_end_xact(state);
	if (ar != NULL && ar->rows > 0)
		tributary_apply_flush_counters(state);
	(void) tributary_relmap_update(state, msg);
}

/*
 * tributary_receive_value: a binary value through a receive function,
 * which must consume it whole.
 */
Datum
tributary_receive_value(FmgrInfo *fn, Oid ioparam, int32 typmod, TribValue *v)
{
	StringInfoData buf;
	Datum		d;

	/* receive functions want a NUL after the data (which may hold NULs) */
	buf.data = palloc(v->len + 1);
	memcpy(buf.data, v->data, v->len);
	buf.data[v->len] = '\0';
	buf.len = v->len;
	buf.maxlen = v->len + 1;
	buf.cursor = 0;
	d = ReceiveFunctionCall(fn, &buf, ioparam, typmod);
	if (buf.cursor != buf.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("incorrect binary data format in the change stream")));
	return d;
}

/*
 * fill_slot: a target row from a source row image.  Unmapped columns and
 * unchanged TOASTed values ('u') are taken from base (the row found on the
 * target) when given, else left NULL; *missing says whether a 'u' had no
 * base to come from.
 */
static void
fill_slot(ApplyRel *ar, ApplyErrorArg *errarg, TupleTableSlot *slot, TribTuple *tuple,
		  TupleTableSlot *base, bool *missing)
{
	ExecClearTuple(slot);
	if (base)
		slot_getallattrs(base);
	*missing = false;
	for (int i = 0; i < ar->natts; i++)
	{
		int			s = ar->attmap[i];
		TribValue  *v = (s >= 0 && s < tuple->natts) ? &tuple->values[s] : NULL;

		if (v == NULL || v->kind == TRIB_VALUE_UNCHANGED)
		{
			if (v != NULL && base == NULL)
				*missing = true;
			slot->tts_values[i] = base ? base->tts_values[i] : (Datum) 0;
			slot->tts_isnull[i] = base ? base->tts_isnull[i] : true;
			continue;
		}
		if (v->kind == TRIB_VALUE_NULL)
		{
			slot->tts_values[i] = (Datum) 0;
			slot->tts_isnull[i] = true;
			continue;
		}
		if (v->kind == TRIB_VALUE_DATUM)
		{
			/* computed by the table's transforms, of the column's type */
			slot->tts_values[i] = v->datum;
			slot->tts_isnull[i] = false;
			continue;
		}
		errarg->attnum = i;
		slot->tts_values[i] = tributary_value_datum(&ar->io[i], v);
		slot->tts_isnull[i] = false;
		errarg->attnum = -1;
	}
	ExecStoreVirtualTuple(slot);
}

/*
 * slots_identical: whether two rows of one table hold the same values,
 * byte for byte once detoasted (datum_image_eq: a value that merely looks
 * equal, such as 1.0 and 1.00, counts as different and the row is
 * written, which is always right).
 */
static bool
slots_identical(TupleTableSlot *a, TupleTableSlot *b)
{
	TupleDesc	desc = a->tts_tupleDescriptor;

	slot_getallattrs(a);
	slot_getallattrs(b);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (a->tts_isnull[i] != b->tts_isnull[i])
			return false;
		if (!a->tts_isnull[i] &&
			!datum_image_eq(a->tts_values[i], b->tts_values[i], att->attbyval, att->attlen))
			return false;
	}
	return true;
}

/*
 * key_description: "(k1, k2)=(v1, v2)" of a slot, for messages.
 */
static char *
key_description(Relation rel, Oid keyidx, TupleTableSlot *slot)
{
	Relation	idx = index_open(keyidx, AccessShareLock);
	StringInfoData names;
	StringInfoData values;

	initStringInfo(&names);
	initStringInfo(&values);
	slot_getallattrs(slot);
	for (int k = 0; k < idx->rd_index->indnkeyatts; k++)
	{
		AttrNumber	attno = idx->rd_index->indkey.values[k];
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
		Oid			outfn;
		bool		varlena;

		getTypeOutputInfo(att->atttypid, &outfn, &varlena);
		appendStringInfo(&names, "%s%s", k ? ", " : "", NameStr(att->attname));
		appendStringInfo(&values, "%s%s", k ? ", " : "",
						 slot->tts_isnull[attno - 1] ? "null" :
						 OidOutputFunctionCall(outfn, slot->tts_values[attno - 1]));
	}
	index_close(idx, AccessShareLock);
	return psprintf("(%s)=(%s)", names.data, values.data);
}

/*
 * dml_ignored: whether the job's dml option ignores this operation.
 */
static bool
dml_ignored(ApplyRel *ar, char type)
{
	switch (type)
	{
		case TRIB_CHANGE_INSERT:
			return ar->table->ignore_insert;
		case TRIB_CHANGE_UPDATE:
			return ar->table->ignore_update;
		case TRIB_CHANGE_DELETE:
			return ar->table->ignore_delete;
	}
	return false;
}

/*
 * key_changed: whether an update's old and new row images differ in a
 * source key column.
 */
static bool
key_changed(ApplyRel *ar, TribTuple *oldtuple, TribTuple *newtuple)
{
	if (ar->xf != NULL)
		return tributary_transform_key_changed(ar, oldtuple, newtuple);
	for (int s = 0; s < ar->nsource && s < oldtuple->natts && s < newtuple->natts; s++)
	{
		TribValue  *a = &oldtuple->values[s];
		TribValue  *b = &newtuple->values[s];

		if (!ar->source_is_key[s])
			continue;
		if (a->kind != b->kind || a->len != b->len ||
			(a->len > 0 && memcmp(a->data, b->data, a->len) != 0))
			return true;
	}
	return false;
}

/*
 * missing_row: the error for a row a strict update or delete does not find.
 */
static void
pg_attribute_noreturn()
missing_row(ApplyRel *ar, ApplyOpen *ao, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("row %s to %s is missing from target table %s",
					key_description(ao->rel, ar->keyidx, ao->search), what,
					quote_qualified_identifier(ar->table->target_nsp, ar->table->target_rel)),
			 errdetail("The target no longer matches the source."),
			 errhint("Re-copy the table with tributary.restart_job(job, false).")));
}

/*
 * routed_write: write the new row of a partitioned target (ao->remote, in
 * its row type) into the partition it belongs to: in place of the row
 * found in partition part (local), or, when it belongs elsewhere now or
 * nothing was found, by deleting that row and inserting the new one.
 */
static void
routed_write(ApplyOpen *ao, ResultRelInfo *part, TupleTableSlot *local)
{
	TupleTableSlot *leafnew;
	ResultRelInfo *newpart = tributary_route(ao, ao->remote, &leafnew);

	if (local != NULL && newpart == part)
	{
		EvalPlanQualSetSlot(&ao->epqstate, leafnew);
		ExecSimpleRelationUpdate(part, ao->estate, &ao->epqstate, local, leafnew);
		return;
	}
	if (local != NULL)
	{
		EvalPlanQualSetSlot(&ao->epqstate, local);
		ExecSimpleRelationDelete(part, ao->estate, &ao->epqstate, local);
	}
	ExecSimpleRelationInsert(newpart, ao->estate, leafnew);
}

/*
 * apply_routed: one change of a partitioned target, through its partitions
 * (partition.c), as apply_one's switch does for other targets.  The row
 * found is kept in ao->local in the partitioned table's row type, so that
 * columns the change does not fill keep their values and foreign key
 * actions see it.
 */
static void
apply_routed(TributaryApplyState *state, ApplyRel *ar, ApplyOpen *ao, ApplyErrorArg *errarg,
			 char type, TribTuple *oldtuple, TribTuple *newtuple)
{
	ResultRelInfo *part = NULL;
	TupleTableSlot *leafsearch;
	TupleTableSlot *local = NULL;
	bool		found = false;
	bool		missing;

	if (type != TRIB_CHANGE_INSERT || state->idempotent)
	{
		fill_slot(ar, errarg, ao->search, (oldtuple && type != TRIB_CHANGE_INSERT) ? oldtuple : newtuple,
				  NULL, &missing);
		part = tributary_route(ao, ao->search, &leafsearch);
		found = tributary_route_find(ao, part, leafsearch, &local);
		if (found)
			tributary_route_to_root(part, local, ao->local);
	}
	if (type == TRIB_CHANGE_UPDATE && state->idempotent && oldtuple != NULL &&
		key_changed(ar, oldtuple, newtuple))
	{
		/* the row moves: drop the old key, then upsert the new row */
		if (found)
		{
			EvalPlanQualSetSlot(&ao->epqstate, local);
			ExecSimpleRelationDelete(part, ao->estate, &ao->epqstate, local);
		}
		fill_slot(ar, errarg, ao->search, newtuple, NULL, &missing);
		part = tributary_route(ao, ao->search, &leafsearch);
		found = tributary_route_find(ao, part, leafsearch, &local);
		if (found)
			tributary_route_to_root(part, local, ao->local);
	}

	switch (type)
	{
		case TRIB_CHANGE_INSERT:
		case TRIB_CHANGE_UPDATE:
			if (!found && type == TRIB_CHANGE_UPDATE && !state->idempotent)
				missing_row(ar, ao, "update");
			fill_slot(ar, errarg, ao->remote, newtuple, found ? ao->local : NULL, &missing);
			if (!found)
				tributary_target_fill_defaults(ar, ao, ao->remote);
			routed_write(ao, part, found ? local : NULL);
			break;
		case TRIB_CHANGE_DELETE:
			if (found)
			{
				EvalPlanQualSetSlot(&ao->epqstate, local);
				ExecSimpleRelationDelete(part, ao->estate, &ao->epqstate, local);
			}
			else if (!state->idempotent)
				missing_row(ar, ao, "delete");
			break;
	}
	if (found && type != TRIB_CHANGE_INSERT && state->cascades != NIL &&
		tributary_cascade_parent(state, ar->table))
	{
		CommandCounterIncrement();
		tributary_cascade_apply(state, ar->table, ao->local,
								type == TRIB_CHANGE_UPDATE ? ao->remote : NULL);
	}
}

/*
 * apply_one: apply one INSERT, UPDATE or DELETE.  Runs in the caller's
 * local transaction (or subtransaction).
 */
static void
apply_one(TributaryApplyState *state, char type, Oid relid,
		  TribTuple *oldtuple, TribTuple *newtuple)
{
	ApplyRel   *ar;
	ApplyOpen  *ao;
	MemoryContext old;
	EState	   *estate;
	bool		found;
	bool		missing;
	bool		cascades;
	bool		unchanged = false;
	bool		soft;
	TupleTableSlot *cascade_old = NULL;
	ApplyErrorArg errarg;
	ErrorContextCallback errcb;
	AclMode		needed;

	/* no row is being evaluated (an error may have left one described) */
	tributary_transform_set_meta(NULL);
	ar = hash_search(state->rels, &relid, HASH_FIND, NULL);
	if (ar == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("change for source relation %u before its RELATION message", relid)));
	if (ar->table == NULL || dml_ignored(ar, type))
		return;

	errarg.state = state;
	errarg.rel = ar;
	errarg.op = type == TRIB_CHANGE_INSERT ? "INSERT" : type == TRIB_CHANGE_UPDATE ? "UPDATE" : "DELETE";
	errarg.attnum = -1;
	errcb.callback = apply_error_context;
	errcb.arg = &errarg;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	/*
	 * as TargetPrivilegesCheck: an idempotent write may also insert, update
	 * or delete; with soft deletes an insert may update a deleted row and a
	 * delete updates
	 */
	soft = (ar->table->delete_mark != NULL);
	if (ar->table->filter != NULL && type == TRIB_CHANGE_UPDATE)
		needed = ACL_INSERT | ACL_UPDATE | ACL_DELETE;	/* a row may start or stop passing */
	else if (type == TRIB_CHANGE_INSERT)
		needed = ACL_INSERT | (state->idempotent || soft ? ACL_UPDATE : 0);
	else if (type == TRIB_CHANGE_UPDATE)
		needed = ACL_UPDATE | (state->idempotent ? ACL_INSERT | ACL_DELETE : 0);
	else
		needed = soft ? ACL_UPDATE : ACL_DELETE;
	ao = tributary_target_open(state, ar, needed);
	estate = ao->estate;

	/*
	 * a table with a filter or expression columns: the change of its
	 * target rows, which may be another operation or none
	 */
	if (ar->xf != NULL)
	{
		old = MemoryContextSwitchTo(state->change_cxt);
		if (!tributary_transform_change(state, ar, &type, &oldtuple, &newtuple) ||
			dml_ignored(ar, type))
		{
			MemoryContextSwitchTo(old);
			if (!ao->keep)
				tributary_target_close(ao);
			MemoryContextReset(state->change_cxt);
			error_context_stack = errcb.previous;
			return;
		}
		MemoryContextSwitchTo(old);
		errarg.op = type == TRIB_CHANGE_INSERT ? "INSERT" : type == TRIB_CHANGE_UPDATE ? "UPDATE" : "DELETE";
	}

	/*
	 * a strict insert into a plain table (or a table another engine owns)
	 * goes to the multi-insert buffer
	 */
	if (type == TRIB_CHANGE_INSERT && !state->idempotent && !soft && ao->multi)
	{
		TupleTableSlot *slot;
		/* only CHECK constraints may run queries; skip the snapshot otherwise */
		bool		snap = (ao->rel->rd_att->constr && ao->rel->rd_att->constr->num_check > 0);

		if (snap)
			PushActiveSnapshot(GetTransactionSnapshot());

		if (ao->buffer[ao->nbuffered] == NULL)
		{
			old = MemoryContextSwitchTo(state->xact_cxt);
			/*
			 * on a copy of the descriptor that is not reference-counted:
			 * thousands of slots pinning the relation's own would each
			 * be remembered by the resource owner, all under one hash
			 */
			ao->buffer[ao->nbuffered] = ExecAllocTableSlot(&estate->es_tupleTable, ao->buffer_desc,
														   table_slot_callbacks(ao->rel));
			MemoryContextSwitchTo(old);
		}
		slot = ao->buffer[ao->nbuffered];
		old = MemoryContextSwitchTo(state->change_cxt);
		fill_slot(ar, &errarg, ao->remote, newtuple, NULL, &missing);
		tributary_target_fill_defaults(ar, ao, ao->remote);
		MemoryContextSwitchTo(old);
		/* the buffered slot owns a copy of the row */
		ExecCopySlot(slot, ao->remote);
		if (ao->rel->rd_att->constr)
			ExecConstraints(ao->rri, slot, estate);
		ao->nbuffered++;
		if (snap)
			PopActiveSnapshot();
		if (ao->nbuffered == ao->buffer_max)
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			tributary_target_flush(ao);
			PopActiveSnapshot();
		}
		MemoryContextReset(state->change_cxt);
		error_context_stack = errcb.previous;
		ar->rows++;
		state->changes++;
		return;
	}

	/* anything else looks rows up: buffered inserts must be in the table */
	PushActiveSnapshot(GetTransactionSnapshot());
	tributary_target_flush(ao);
	estate->es_output_cid = GetCurrentCommandId(true);
	old = MemoryContextSwitchTo(state->change_cxt);

	/*
	 * The row to look for: the old image, else the new one.  A strict
	 * insert needs no lookup: the primary key index rejects a duplicate.
	 */
	if (ao->proute)
		found = false;			/* apply_routed looks in the partitions */
	else if (type == TRIB_CHANGE_INSERT && !state->idempotent && !soft)
		found = false;
	else
	{
		fill_slot(ar, &errarg, ao->search, (oldtuple && type != TRIB_CHANGE_INSERT) ? oldtuple : newtuple,
				  NULL, &missing);
		found = ao->write->find(ar, ao, oldtuple != NULL && type != TRIB_CHANGE_INSERT);
	}

	/* a parent row of foreign keys whose actions the source did not log */
	cascades = (found && type != TRIB_CHANGE_INSERT && state->cascades != NIL &&
				tributary_cascade_parent(state, ar->table));
	if (cascades && type == TRIB_CHANGE_UPDATE)
	{
		cascade_old = MakeSingleTupleTableSlot(RelationGetDescr(ao->rel), &TTSOpsVirtual);
		ExecCopySlot(cascade_old, ao->local);
	}
	else if (cascades)
		cascade_old = ao->local;

	switch (ao->proute ? 'R' : type)
	{
		case 'R':
			apply_routed(state, ar, ao, &errarg, type, oldtuple, newtuple);
			break;
		case TRIB_CHANGE_INSERT:
			if (found)
			{
				/*
				 * idempotent, or a key deleted softly and inserted again: the
				 * row is there; columns the source does not fill keep their
				 * values, but for the mark of a soft delete
				 */
				fill_slot(ar, &errarg, ao->remote, newtuple, ao->local, &missing);
				if (soft)
					tributary_soft_mark(ar, ao->remote, NULL, false, 0);
				/* the same row again (a catch-up, a poll reading ties again) is not written */
				unchanged = slots_identical(ao->remote, ao->local);
				if (!unchanged)
					ao->write->update(ar, ao, ao->local, ao->remote);
			}
			else
			{
				fill_slot(ar, &errarg, ao->remote, newtuple, NULL, &missing);
				tributary_target_fill_defaults(ar, ao, ao->remote);
				if (soft)
					tributary_soft_mark(ar, ao->remote, NULL, false, 0);
				ao->write->insert(ar, ao, ao->remote);	/* a duplicate raises */
			}
			break;
		case TRIB_CHANGE_UPDATE:
			if (state->idempotent && oldtuple != NULL && key_changed(ar, oldtuple, newtuple))
			{
				/* the row moves: drop the old key, then upsert the new row */
				if (found)
					ao->write->delete(ar, ao, ao->local);
				ExecClearTuple(ao->local);
				fill_slot(ar, &errarg, ao->search, newtuple, NULL, &missing);
				found = ao->write->find(ar, ao, false);
			}
			if (found)
			{
				fill_slot(ar, &errarg, ao->remote, newtuple, ao->local, &missing);
				ao->write->update(ar, ao, ao->local, ao->remote);
			}
			else if (state->idempotent)
			{
				fill_slot(ar, &errarg, ao->remote, newtuple, NULL, &missing);
				if (missing)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("cannot insert row %s: the change lacks an unchanged TOASTed value",
									key_description(ao->rel, ar->keyidx, ao->search)),
							 errhint("Set REPLICA IDENTITY FULL on the source table.")));
				tributary_target_fill_defaults(ar, ao, ao->remote);
				ao->write->insert(ar, ao, ao->remote);
			}
			else
				missing_row(ar, ao, "update");
			break;
		case TRIB_CHANGE_DELETE:
			if (found && soft)
			{
				/* the row stays, marked deleted at the source's commit time */
				tributary_soft_mark(ar, ao->remote, ao->local, true, state->commit_ts);
				ao->write->update(ar, ao, ao->local, ao->remote);
			}
			else if (found)
				ao->write->delete(ar, ao, ao->local);
			else if (!state->idempotent)
				missing_row(ar, ao, "delete");
			break;
	}

	if (cascade_old)
	{
		CommandCounterIncrement();
		tributary_cascade_apply(state, ar->table, cascade_old,
								type == TRIB_CHANGE_UPDATE ? ao->remote : NULL);
		if (cascade_old != ao->local)
			ExecDropSingleTupleTableSlot(cascade_old);
	}
	ExecClearTuple(ao->local);
	ResetPerTupleExprContext(estate);
	if (!ao->keep)
		tributary_target_close(ao);		/* fires AFTER triggers: needs the snapshot */
	PopActiveSnapshot();
	CommandCounterIncrement();

	error_context_stack = errcb.previous;
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_cxt);
	if (!unchanged)
	{
		ar->rows++;
		state->changes++;
	}
}

/*
 * tributary_apply_change: apply one INSERT, UPDATE or DELETE.  With
 * dirty_data = skip the change runs in a subtransaction: a data error
 * (SQLSTATE classes 22 and 23: conversion, constraint) rolls it back and
 * keeps the row in tributary.dirty_rows; other errors fail the job.
 */
void
tributary_apply_change(TributaryApplyState *state, char type, Oid relid,
					   TribTuple *oldtuple, TribTuple *newtuple)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ApplyRel   *ar;

	if (!state->job->dirty_skip)
	{
		apply_one(state, type, relid, oldtuple, newtuple);
		return;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		apply_one(state, type, relid, oldtuple, newtuple);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			category;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
		if (category != ERRCODE_DATA_EXCEPTION && category != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		ar = hash_search(state->rels, &relid, HASH_FIND, NULL);
		tributary_record_dirty_row(state, ar, newtuple ? newtuple : oldtuple, edata);
	}
	PG_END_TRY();
}

/*
 * tributary_apply_truncate: truncate the targets of the truncated source
 * relations that belong to the job.
 */
void
tributary_apply_truncate(TributaryApplyState *state, int nrelids, Oid *relids)
{
	StringInfoData sql;
	int			n = 0;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "TRUNCATE ");
	for (int i = 0; i < nrelids; i++)
	{
		ApplyRel   *ar = hash_search(state->rels, &relids[i], HASH_FIND, NULL);

		Oid			relid;

		if (ar == NULL || ar->table == NULL || ar->table->ignore_delete)
			continue;
		if (ar->table->delete_mark)
		{
			tributary_soft_truncate(state, ar->table);
			continue;
		}
		if (ar->table->source_column)
		{
			/* a merged target: only this source's rows (merge.c) */
			tributary_apply_end_xact(state);
			tributary_merge_delete_source_rows(ar->table, NULL, InvalidOid, 0);
			state->changes++;
			continue;
		}
		relid = RangeVarGetRelid(makeRangeVar(ar->table->target_nsp, ar->table->target_rel, -1),
								 AccessExclusiveLock, true);
		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("target table %s does not exist",
							quote_qualified_identifier(ar->table->target_nsp, ar->table->target_rel))));
		tributary_target_check(relid, GetUserId(), ACL_TRUNCATE, state->job->name);
		if (tributary_engine_target(relid))
		{
			/* a table another engine owns: through it, on its own (write_engine.c) */
			tributary_apply_end_xact(state);
			tributary_engine_truncate(quote_qualified_identifier(ar->table->target_nsp, ar->table->target_rel));
			state->changes++;
			continue;
		}
		/* ONLY, but a partitioned target is emptied with its partitions */
		appendStringInfo(&sql, "%s%s%s", n++ ? ", " : "",
						 get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
						 quote_qualified_identifier(ar->table->target_nsp, ar->table->target_rel));
	}
	if (n == 0)
		return;
	tributary_apply_end_xact(state);	/* TRUNCATE needs the targets released */
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute(sql.data, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not run %s", sql.data);
	SPI_finish();
	PopActiveSnapshot();
	state->changes++;
}

/*
 * tributary_apply_source_name: "schema.table" of the job table a source
 * relation of the stream maps to, or NULL when it is not one.
 */
const char *
tributary_apply_source_name(TributaryApplyState *state, Oid relid)
{
	ApplyRel   *ar = hash_search(state->rels, &relid, HASH_FIND, NULL);

	if (ar == NULL || ar->table == NULL)
		return NULL;
	return psprintf("%s.%s", ar->table->source_nsp, ar->table->source_rel);
}

/*
 * tributary_apply_table: the job table a source relation of the stream
 * maps to, or NULL (table_sync.c keeps the changes of some).
 */
TributaryTable *
tributary_apply_table(TributaryApplyState *state, Oid relid)
{
	ApplyRel   *ar = hash_search(state->rels, &relid, HASH_FIND, NULL);

	return ar ? ar->table : NULL;
}

/*
 * tributary_apply_flush_counters: add the rows applied per table to
 * tributary.job_table (in the caller's local transaction).
 */
void
tributary_apply_flush_counters(TributaryApplyState *state)
{
	HASH_SEQ_STATUS status;
	ApplyRel   *ar;
	bool		connected = false;
	TributaryUserSave us;

	hash_seq_init(&status, state->rels);
	while ((ar = hash_seq_search(&status)) != NULL)
	{
		Oid			argtypes[2] = {INT4OID, INT8OID};
		Datum		args[2];

		if (ar->table == NULL || ar->rows == 0)
			continue;
		if (!connected)
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			us = tributary_catalog_enter();
			SPI_connect();
			connected = true;
		}
		args[0] = Int32GetDatum(ar->table->id);
		args[1] = Int64GetDatum(ar->rows);
		if (counters_plan == NULL)
		{
			counters_plan = SPI_prepare("UPDATE tributary.job_table SET jt_rows_applied = jt_rows_applied + $2 "
										"WHERE jt_id = $1", 2, argtypes);
			if (counters_plan == NULL || SPI_keepplan(counters_plan) != 0)
				elog(ERROR, "could not prepare the counters statement");
		}
		if (SPI_execute_plan(counters_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update tributary.job_table");
		ar->rows = 0;
	}
	if (connected)
	{
		SPI_finish();
		tributary_catalog_leave(us);
		PopActiveSnapshot();
	}
}
