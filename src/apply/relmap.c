/*-------------------------------------------------------------------------
 *
 * relmap.c
 *		The apply engine's map of source relations to target tables: for
 *		each source relation of the stream, its job table, its source
 *		columns and, built from the target table, the attribute map, the
 *		types' input and receive functions, the key index and the defaults
 *		of unmapped columns.
 *
 * As PostgreSQL's logical/relation.c does, the target side is built when
 * the target is first opened and rebuilt whenever it was invalidated: a
 * relcache callback clears the entry's valid flag when its target table
 * changes (ALTER TABLE, DROP, TRUNCATE of another relfilenode...), and
 * tributary_relmap_open, which every write goes through, locks the target
 * first (which processes pending invalidations) and rebuilds before use.
 * A cached conversion is never applied to a column whose type changed; a
 * mapped column that disappeared from the target or the source is an
 * error, never a silent drop.  Each entry's arrays live in a memory
 * context of their own, reset when they are rebuilt, so remapping does not
 * grow the worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/relcache.h"

#include "apply/apply_int.h"
#include "apply/relmap.h"

/* the apply state whose map the relcache callback invalidates */
static TributaryApplyState *relmap_state = NULL;
static bool relmap_callback_registered = false;

/*
 * relmap_invalidate: relcache callback: an entry whose target is the
 * relation (or every entry, for InvalidOid) must be rebuilt before use.
 */
static void
relmap_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	ApplyRel   *ar;

	if (relmap_state == NULL || relmap_state->rels == NULL)
		return;
	hash_seq_init(&status, relmap_state->rels);
	while ((ar = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || ar->target_relid == relid)
			ar->valid = false;
}

/*
 * tributary_relmap_init: this process's map belongs to state (one apply
 * state per worker); registers the invalidation callback once.
 */
void
tributary_relmap_init(TributaryApplyState *state)
{
	relmap_state = state;
	if (!relmap_callback_registered)
	{
		CacheRegisterRelcacheCallback(relmap_invalidate, (Datum) 0);
		relmap_callback_registered = true;
	}
}

/*
 * tributary_relmap_reset: forget the map (its apply state is about to be
 * freed), with the statements its entries keep outside it
 * (write_engine.c); the callback stays registered and finds nothing to
 * invalidate.
 */
void
tributary_relmap_reset(void)
{
	if (relmap_state != NULL && relmap_state->rels != NULL)
	{
		HASH_SEQ_STATUS status;
		ApplyRel   *ar;

		hash_seq_init(&status, relmap_state->rels);
		while ((ar = hash_seq_search(&status)) != NULL)
			tributary_engine_forget(ar);
	}
	relmap_state = NULL;
}

/*
 * find_table: the job table of a source relation, or NULL.
 */
static TributaryTable *
find_table(TributaryApplyState *state, const char *nsp, const char *rel, Oid relid)
{
	ListCell   *lc;

	foreach(lc, state->tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);

		/*
		 * a table to be copied again: its changes are in the next copy;
		 * another relation under the name than the one the job copied
		 * (PostgreSQL: its OID, ddl.c) is not the job's
		 */
		if (strcmp(t->source_nsp, nsp) == 0 && strcmp(t->source_rel, rel) == 0)
		{
			if (t->resyncing)
				return NULL;
			if (t->source_oid != NULL && strcmp(t->source_oid, "0") != 0 &&
				strcmp(t->source_oid, psprintf("%u", relid)) != 0)
				return NULL;
			return t;
		}
	}
	return NULL;
}

/*
 * tributary_relmap_update: the source side of a relation from its
 * RELATION message (sent before its first change and whenever the source
 * table changed); the target side is rebuilt at the next use.  Returns the
 * entry.
 */
ApplyRel *
tributary_relmap_update(TributaryApplyState *state, TribRelation *msg)
{
	bool		found;
	ApplyRel   *ar = hash_search(state->rels, &msg->relid, HASH_ENTER, &found);
	TributaryTable *t = find_table(state, msg->nspname, msg->relname, msg->relid);
	MemoryContext old;

	if (!found)
	{
		memset(((char *) ar) + sizeof(Oid), 0, sizeof(ApplyRel) - sizeof(Oid));
		ar->source_cxt = AllocSetContextCreate(state->cxt, "tributary relation source",
											   ALLOCSET_SMALL_SIZES);
		ar->map_cxt = AllocSetContextCreate(state->cxt, "tributary relation map",
											ALLOCSET_SMALL_SIZES);
	}
	MemoryContextReset(ar->source_cxt);
	ar->table = t;
	ar->valid = false;
	old = MemoryContextSwitchTo(ar->source_cxt);
	ar->source_name = psprintf("%s.%s", msg->nspname, msg->relname);
	ar->nsource = msg->natts;
	ar->source_names = palloc(sizeof(char *) * Max(msg->natts, 1));
	ar->source_types = palloc(sizeof(Oid) * Max(msg->natts, 1));
	ar->source_typmods = palloc(sizeof(int32) * Max(msg->natts, 1));
	ar->source_is_key = palloc0(sizeof(bool) * Max(msg->natts, 1));
	for (int i = 0; i < msg->natts; i++)
	{
		ListCell   *lc;

		ar->source_names[i] = pstrdup(msg->attrs[i].name);
		ar->source_types[i] = msg->attrs[i].typoid;
		ar->source_typmods[i] = msg->attrs[i].typmod;
		if (t == NULL)
			continue;
		foreach(lc, t->key_columns)
			if (strcmp(msg->attrs[i].name, (char *) lfirst(lc)) == 0)
				ar->source_is_key[i] = true;
	}
	MemoryContextSwitchTo(old);
	return ar;
}

/*
 * tributary_relmap_rebind: table t, whose changes were passed while it
 * waited for a copy (resyncing), is the job's again: entries of its
 * source relation made meanwhile map to it (their key columns marked),
 * and their target side is rebuilt at the next use.
 */
void
tributary_relmap_rebind(TributaryApplyState *state, TributaryTable *t)
{
	HASH_SEQ_STATUS status;
	ApplyRel   *ar;

	hash_seq_init(&status, state->rels);
	while ((ar = hash_seq_search(&status)) != NULL)
	{
		if (ar->table != NULL || ar->source_name == NULL)
			continue;
		if (find_table(state, t->source_nsp, t->source_rel, ar->source_relid) != t ||
			strcmp(ar->source_name, psprintf("%s.%s", t->source_nsp, t->source_rel)) != 0)
			continue;
		ar->table = t;
		ar->valid = false;
		for (int i = 0; i < ar->nsource; i++)
		{
			ListCell   *lc;

			foreach(lc, t->key_columns)
				if (strcmp(ar->source_names[i], (char *) lfirst(lc)) == 0)
					ar->source_is_key[i] = true;
		}
	}
}

/*
 * build_target: the target side of an entry, from the target table (open
 * and locked).
 */
static void
build_target(ApplyRel *ar, Relation rel)
{
	TributaryTable *t = ar->table;
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *target = quote_qualified_identifier(t->target_nsp, t->target_rel);
	MemoryContext old;

	/* every mapped target column is still there */
	for (int c = 0; c < t->ncolumns; c++)
	{
		bool		present = false;

		for (int i = 0; i < desc->natts && !present; i++)
			present = (!TupleDescAttr(desc, i)->attisdropped &&
					   strcmp(NameStr(TupleDescAttr(desc, i)->attname), t->columns[c].target) == 0);
		if (!present)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target table %s has no column \"%s\" any more", target, t->columns[c].target),
					 t->columns[c].source ?
					 errdetail("Source column \"%s\" of [%s] is mapped to it.", t->columns[c].source,
							   ar->source_name) :
					 errdetail("Expression %s computes it.", t->columns[c].expr),
					 errhint("Add the column back to the target table, then start the job again.")));
	}

	tributary_engine_forget(ar);
	MemoryContextReset(ar->map_cxt);
	old = MemoryContextSwitchTo(ar->map_cxt);
	ar->target_relid = RelationGetRelid(rel);
	ar->engine = tributary_engine_target(ar->target_relid);
	ar->natts = desc->natts;
	ar->attmap = palloc(sizeof(int) * Max(desc->natts, 1));
	ar->target_names = palloc0(sizeof(char *) * Max(desc->natts, 1));
	ar->io = palloc0(sizeof(TribValueIO) * Max(desc->natts, 1));
	ar->defaults = palloc0(sizeof(Expr *) * Max(desc->natts, 1));
	ar->has_defaults = false;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *source = NULL;
		int			column = -1;
		int			sidx = -1;

		ar->attmap[i] = -1;
		ar->target_names[i] = pstrdup(NameStr(att->attname));
		if (att->attisdropped || att->attgenerated)
			continue;
		for (int c = 0; c < t->ncolumns; c++)
			if (strcmp(t->columns[c].target, NameStr(att->attname)) == 0)
			{
				column = c;
				source = t->columns[c].source;
			}
		if (column >= 0 && source == NULL)
		{
			/* an expression column: the transforms compute its values */
			ar->attmap[i] = column;
			continue;
		}
		if (source == NULL)
		{
			/* new rows get the target's default in columns the source does not fill */
			Node	   *def = build_column_default(rel, i + 1);

			if (def != NULL)
			{
				ar->defaults[i] = expression_planner((Expr *) def);
				ar->has_defaults = true;
			}
			continue;
		}
		for (int s = 0; s < ar->nsource; s++)
			if (strcmp(ar->source_names[s], source) == 0)
				sidx = s;
		/* the rows of a table with transforms come as its target columns (transform_stream.c) */
		ar->attmap[i] = (t->transformed && sidx >= 0) ? column : sidx;
		if (ar->attmap[i] < 0 && !t->all_columns)
		{
			/*
			 * the source dropped (or renamed) the column and the job's ddl
			 * policy let that pass (ignore, alert): the target keeps the
			 * column, which the source no longer fills
			 */
			Node	   *def = build_column_default(rel, i + 1);

			if (def != NULL)
			{
				ar->defaults[i] = expression_planner((Expr *) def);
				ar->has_defaults = true;
			}
			continue;
		}
		if (ar->attmap[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("source table [%s] has no column \"%s\" any more", ar->source_name, source),
					 errdetail("Target column \"%s\" of %s is mapped to it.", NameStr(att->attname), target),
					 errhint("Map the column anew (drop and add the table) or restore the source column.")));
		tributary_value_io_init(&ar->io[i], att->atttypid, att->atttypmod,
								ar->source_types[sidx], ar->map_cxt);
	}
	/* soft deletes: the column deletes mark, which the source does not fill */
	ar->mark_attno = -1;
	if (t->delete_mark)
	{
		for (int i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(desc, i)->attname), t->delete_mark) == 0)
				ar->mark_attno = i;
		if (ar->mark_attno < 0 || ar->attmap[ar->mark_attno] >= 0 ||
			TupleDescAttr(desc, ar->mark_attno)->attgenerated ||
			!(TupleDescAttr(desc, ar->mark_attno)->atttypid == TIMESTAMPTZOID ||
			  TupleDescAttr(desc, ar->mark_attno)->atttypid == TIMESTAMPOID ||
			  TupleDescAttr(desc, ar->mark_attno)->atttypid == BOOLOID))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target table %s has no column \"%s\" to mark deleted rows in", target, t->delete_mark),
					 errdetail("The job option dml marks deleted rows in that column instead of deleting them; it must be a timestamptz, timestamp or boolean column that no source column is mapped to."),
					 errhint("Add the column to the target table (ALTER TABLE %s ADD COLUMN %s timestamptz), then start the job again.",
							 target, quote_identifier(t->delete_mark))));
		ar->mark_type = TupleDescAttr(desc, ar->mark_attno)->atttypid;
	}
	ar->keyidx = RelationGetPrimaryKeyIndex(rel);
	ar->key_deferrable = false;
	if (!OidIsValid(ar->keyidx))
	{
		/* the relcache leaves a DEFERRABLE primary key out */
		ar->keyidx = tributary_deferrable_key(rel);
		ar->key_deferrable = OidIsValid(ar->keyidx);
	}
	if (!OidIsValid(ar->keyidx))
		ar->keyidx = RelationGetReplicaIndex(rel);
	MemoryContextSwitchTo(old);
	if (!OidIsValid(ar->keyidx))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("target table %s has no primary key", target),
				 errhint("Add the source's primary key to the target table.")));
	/* a filter or expression columns: compiled for this map */
	ar->xf = NULL;
	if (t->transformed)
		tributary_transform_prepare(ar, rel);
}

/*
 * tributary_value_io_init: how values of a column of the given type (and
 * typmod) are read when the source names source_type for it (see
 * TribValueIO); lookups are kept in cxt.
 */
void
tributary_value_io_init(TribValueIO *io, Oid type, int32 typmod, Oid source_type, MemoryContext cxt)
{
	Oid			fn;

	memset(io, 0, sizeof(TribValueIO));
	getTypeInputInfo(type, &fn, &io->ioparam);
	fmgr_info_cxt(fn, &io->in_fn, cxt);
	io->typmod = typmod;
	/* binary values are read only for the same built-in type on both sides */
	if (source_type == type && type < FirstNormalObjectId)
	{
		getTypeBinaryInputInfo(type, &fn, &io->recv_ioparam);
		fmgr_info_cxt(fn, &io->recv_fn, cxt);
	}
	else if (OidIsValid(source_type) && source_type < FirstNormalObjectId)
	{
		bool		varlena;

		getTypeBinaryInputInfo(source_type, &fn, &io->src_recv_ioparam);
		fmgr_info_cxt(fn, &io->src_recv_fn, cxt);
		getTypeOutputInfo(source_type, &fn, &varlena);
		fmgr_info_cxt(fn, &io->src_out_fn, cxt);
	}
}

/*
 * tributary_target_relid: the OID of a job table's target, looked up by
 * name and locked in lockmode; a user error when it is gone (dropped, or
 * renamed while the job was stopped).
 */
Oid
tributary_target_relid(TributaryTable *t, LOCKMODE lockmode)
{
	Oid			relid;

	relid = RangeVarGetRelid(makeRangeVar(t->target_nsp, t->target_rel, -1), lockmode, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("target table %s does not exist",
						quote_qualified_identifier(t->target_nsp, t->target_rel)),
				 errhint("Create it again, or restart the job with tributary.restart_job(job, false).")));
	return relid;
}

/*
 * tributary_relmap_open: the entry's target table, opened with lockmode,
 * and the entry's target side valid for it: when the target changed since
 * it was built (or was never built), it is found again by name and
 * rebuilt.  Taking the lock processes pending invalidations, so what the
 * entry holds matches the relation returned.
 */
Relation
tributary_relmap_open(TributaryApplyState *state, ApplyRel *ar, LOCKMODE lockmode)
{
	TributaryTable *t = ar->table;
	Relation	rel;
	Oid			relid;

	Assert(t != NULL);
	if (ar->valid)
	{
		rel = try_table_open(ar->target_relid, lockmode);
		if (rel != NULL && ar->valid)
			return rel;
		if (rel != NULL)
			table_close(rel, NoLock);	/* keep the lock: it is the same table's */
	}
	relid = tributary_target_relid(t, lockmode);
	rel = table_open(relid, NoLock);
	build_target(ar, rel);
	ar->valid = true;
	return rel;
}
