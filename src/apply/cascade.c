/*-------------------------------------------------------------------------
 *
 * cascade.c
 *		Referential actions the source carries out without logging them
 *		(MySQL InnoDB's ON DELETE / ON UPDATE CASCADE and SET NULL),
 *		carried out on the target after each change of a parent row.
 *
 * The connector names the foreign keys (TributaryRefAction, from the
 * source's definitions); those whose child and parent are both job tables
 * are kept here with their columns' target names.  After the apply
 * deleted a parent row, or updated one so that referenced columns
 * changed, every such foreign key acts as on the source: the child rows
 * whose columns equal the parent's old values are deleted (CASCADE on
 * delete), get the new values (CASCADE on update) or NULL (SET NULL).
 * The changed child rows act in turn on their own children, to InnoDB's
 * depth of 15.
 *
 * The statements are prepared once per foreign key and run through SPI as
 * the job's owner, with session_replication_role = replica like every
 * write of the apply: the owner's privileges are checked and the target's
 * own triggers and foreign keys do not fire.  Values are the parent's
 * target values, compared with the child's target columns by their types'
 * equality operators.
 *
 * A change logged with foreign key checks off (the rows event's
 * NO_FOREIGN_KEY_CHECKS flag) had no actions on the source and gets none.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "apply/apply.h"
#include "apply/apply_int.h"
#include "source/connector.h"

/* InnoDB's limit of nested foreign key actions */
#define CASCADE_MAX_DEPTH	15

/* a foreign key among job tables whose actions the apply carries out */
typedef struct ApplyCascade
{
	const char *name;			/* for messages */
	TributaryTable *parent;
	TributaryTable *child;
	int			ncols;
	char	  **parent_cols;	/* target column names */
	char	  **child_cols;
	char		on_delete;		/* 'c', 'n', 'a' */
	char		on_update;
	SPIPlanPtr	plan[2];		/* [0] delete action, [1] update action; by parent types */
	Oid		   *argtypes[2];
} ApplyCascade;

/* one row of a table, by its target tuple descriptor */
typedef struct CascadeRow
{
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;
} CascadeRow;

/*
 * find_table: the job table of source table nsp.rel, or NULL.
 */
static TributaryTable *
find_table(TributaryApplyState *state, const char *nsp, const char *rel)
{
	ListCell   *lc;

	foreach(lc, state->tables)
	{
		TributaryTable *t = lfirst(lc);

		if (strcmp(t->source_nsp, nsp) == 0 && strcmp(t->source_rel, rel) == 0)
			return t;
	}
	return NULL;
}

/*
 * target_column: the target column a source column is copied to; a
 * column that is not copied (or computed) cannot carry the action.
 */
static char *
target_column(TributaryTable *t, const char *source_col, const char *fk)
{
	for (int i = 0; i < t->ncolumns; i++)
		if (t->columns[i].source && strcmp(t->columns[i].source, source_col) == 0)
			return pstrdup(t->columns[i].target);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot apply foreign key %s of source table [%s.%s] on the target: column \"%s\" is not copied",
					fk, t->source_nsp, t->source_rel, source_col),
			 errdetail("The source changes rows through this foreign key without logging them, so the target must make the same changes."),
			 errhint("Copy the foreign key's columns to the target (tributary.add_table's columns argument).")));
	return NULL;					/* keep the compiler quiet */
}

/*
 * tributary_cascade_setup: keep the foreign keys (TributaryRefAction) whose
 * child and parent are both job tables; a foreign key whose parent is not
 * in the job is named in a warning (add_table warned too).
 */
void
tributary_cascade_setup(TributaryApplyState *state, List *actions)
{
	MemoryContext old = MemoryContextSwitchTo(state->cxt);
	ListCell   *lc;

	foreach(lc, actions)
	{
		TributaryRefAction *a = lfirst(lc);
		TributaryTable *child = find_table(state, a->child_nsp, a->child_rel);
		TributaryTable *parent = find_table(state, a->parent_nsp, a->parent_rel);
		ApplyCascade *c;
		ListCell   *lp;
		ListCell   *lch;
		int			i = 0;

		if (child == NULL)
			continue;
		if (parent == NULL)
		{
			ereport(WARNING,
					(errmsg("foreign key %s of source table [%s.%s] references [%s.%s], which job \"%s\" does not sync",
							a->name, a->child_nsp, a->child_rel, a->parent_nsp, a->parent_rel, state->job->name),
					 errdetail("The source changes rows of [%s.%s] through it without logging them; those changes do not reach the target.",
							   a->child_nsp, a->child_rel),
					 errhint("Add [%s.%s] to the job.", a->parent_nsp, a->parent_rel)));
			continue;
		}
		c = palloc0(sizeof(ApplyCascade));
		c->name = pstrdup(a->name);
		c->parent = parent;
		c->child = child;
		c->on_delete = a->on_delete;
		c->on_update = a->on_update;
		c->ncols = list_length(a->child_columns);
		c->parent_cols = palloc(sizeof(char *) * c->ncols);
		c->child_cols = palloc(sizeof(char *) * c->ncols);
		forboth(lch, a->child_columns, lp, a->parent_columns)
		{
			c->child_cols[i] = target_column(child, lfirst(lch), a->name);
			c->parent_cols[i] = target_column(parent, lfirst(lp), a->name);
			i++;
		}
		state->cascades = lappend(state->cascades, c);
	}
	MemoryContextSwitchTo(old);
}

/*
 * tributary_cascade_parent: whether a job table is the parent of a
 * foreign key the apply carries out.
 */
bool
tributary_cascade_parent(TributaryApplyState *state, TributaryTable *t)
{
	ListCell   *lc;

	foreach(lc, state->cascades)
		if (((ApplyCascade *) lfirst(lc))->parent == t)
			return true;
	return false;
}

/*
 * attnum_of: the index in desc of a column, by name.
 */
static int
attnum_of(TupleDesc desc, const char *name, TributaryTable *t)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("target table %s has no column \"%s\"",
					quote_qualified_identifier(t->target_nsp, t->target_rel), name)));
	return -1;					/* keep the compiler quiet */
}

/*
 * prepare_action: the statement of a foreign key's action (upd: on
 * update), planned once: $1..$n are the parent's old values, $n+1..$2n
 * its new ones (CASCADE on update); it returns the changed child rows.
 */
static SPIPlanPtr
prepare_action(TributaryApplyState *state, ApplyCascade *c, bool upd, TupleDesc pdesc)
{
	char		action = upd ? c->on_update : c->on_delete;
	int			nargs = (upd && action == 'c') ? 2 * c->ncols : c->ncols;
	Oid		   *argtypes = MemoryContextAlloc(state->cxt, sizeof(Oid) * nargs);
	StringInfoData sql;
	SPIPlanPtr	plan;

	initStringInfo(&sql);
	if (action == 'c' && !upd)
		appendStringInfo(&sql, "DELETE FROM %s WHERE ",
						 quote_qualified_identifier(c->child->target_nsp, c->child->target_rel));
	else
	{
		appendStringInfo(&sql, "UPDATE %s SET ",
						 quote_qualified_identifier(c->child->target_nsp, c->child->target_rel));
		for (int i = 0; i < c->ncols; i++)
		{
			if (action == 'c')
				appendStringInfo(&sql, "%s%s = $%d", i ? ", " : "", quote_identifier(c->child_cols[i]),
								 c->ncols + i + 1);
			else
				appendStringInfo(&sql, "%s%s = NULL", i ? ", " : "", quote_identifier(c->child_cols[i]));
		}
		appendStringInfoString(&sql, " WHERE ");
	}
	for (int i = 0; i < c->ncols; i++)
	{
		Oid			typ = TupleDescAttr(pdesc, attnum_of(pdesc, c->parent_cols[i], c->parent))->atttypid;

		argtypes[i] = typ;
		if (nargs > c->ncols)
			argtypes[c->ncols + i] = typ;
		appendStringInfo(&sql, "%s%s = $%d", i ? " AND " : "", quote_identifier(c->child_cols[i]), i + 1);
	}
	appendStringInfoString(&sql, " RETURNING *");
	plan = SPI_prepare(sql.data, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "could not prepare the action of foreign key %s: %s", c->name,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the action of foreign key %s", c->name);
	c->argtypes[upd ? 1 : 0] = argtypes;
	pfree(sql.data);
	return plan;
}

static void cascade_row(TributaryApplyState *state, TributaryTable *t, CascadeRow *oldrow,
						CascadeRow *newrow, int depth);

/*
 * run_action: one foreign key's action for one parent row; the child rows
 * it changed act on their own children.
 */
static void
run_action(TributaryApplyState *state, ApplyCascade *c, CascadeRow *oldrow, CascadeRow *newrow,
		   int depth)
{
	bool		upd = (newrow != NULL);
	char		action = upd ? c->on_update : c->on_delete;
	int			nargs = (upd && action == 'c') ? 2 * c->ncols : c->ncols;
	Datum	   *args = palloc(sizeof(Datum) * nargs);
	char	   *nulls = palloc(nargs + 1);
	bool		changed = !upd;
	MemoryContext cxt = CurrentMemoryContext;
	TupleDesc	cdesc = NULL;
	HeapTuple  *rows = NULL;
	uint64		nrows = 0;
	int		   *cidx;

	if (action == 'a')
		return;
	for (int i = 0; i < c->ncols; i++)
	{
		int			a = attnum_of(oldrow->desc, c->parent_cols[i], c->parent);
		Form_pg_attribute att = TupleDescAttr(oldrow->desc, a);

		/* a NULL parent value matches no child row */
		if (oldrow->nulls[a])
			return;
		args[i] = oldrow->values[a];
		nulls[i] = ' ';
		if (upd)
		{
			if (newrow->nulls[a] ||
				!datumIsEqual(oldrow->values[a], newrow->values[a], att->attbyval, att->attlen))
				changed = true;
			if (nargs > c->ncols)
			{
				args[c->ncols + i] = newrow->values[a];
				nulls[c->ncols + i] = newrow->nulls[a] ? 'n' : ' ';
			}
		}
	}
	nulls[nargs] = '\0';
	if (!changed)
		return;
	if (depth >= CASCADE_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("foreign key %s nests actions deeper than %d levels", c->name, CASCADE_MAX_DEPTH),
				 errdetail("The source refuses such changes too; the target no longer matches it.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (c->plan[upd ? 1 : 0] == NULL)
		c->plan[upd ? 1 : 0] = prepare_action(state, c, upd, oldrow->desc);
	if (SPI_execute_plan(c->plan[upd ? 1 : 0], args, nulls, false, 0) < 0)
		elog(ERROR, "could not run the action of foreign key %s", c->name);
	/* the changed child rows, copied out of SPI for their own actions */
	if (SPI_processed > 0 && tributary_cascade_parent(state, c->child))
	{
		MemoryContext spi = MemoryContextSwitchTo(cxt);

		nrows = SPI_processed;
		cdesc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
		rows = palloc(sizeof(HeapTuple) * nrows);
		for (uint64 i = 0; i < nrows; i++)
			rows[i] = heap_copytuple(SPI_tuptable->vals[i]);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	if (nrows == 0)
		return;

	cidx = palloc(sizeof(int) * c->ncols);
	for (int i = 0; i < c->ncols; i++)
		cidx[i] = attnum_of(cdesc, c->child_cols[i], c->child);
	for (uint64 r = 0; r < nrows; r++)
	{
		CascadeRow	cold;
		CascadeRow	cnew;

		CHECK_FOR_INTERRUPTS();
		cnew.desc = cold.desc = cdesc;
		cnew.values = palloc(sizeof(Datum) * cdesc->natts);
		cnew.nulls = palloc(sizeof(bool) * cdesc->natts);
		heap_deform_tuple(rows[r], cdesc, cnew.values, cnew.nulls);
		if (action == 'c' && !upd)
		{
			/* deleted: the row as it was */
			cascade_row(state, c->child, &cnew, NULL, depth + 1);
			continue;
		}
		/* updated: before, the key columns held the parent's old values */
		cold.values = palloc(sizeof(Datum) * cdesc->natts);
		cold.nulls = palloc(sizeof(bool) * cdesc->natts);
		memcpy(cold.values, cnew.values, sizeof(Datum) * cdesc->natts);
		memcpy(cold.nulls, cnew.nulls, sizeof(bool) * cdesc->natts);
		for (int i = 0; i < c->ncols; i++)
		{
			cold.values[cidx[i]] = args[i];
			cold.nulls[cidx[i]] = false;
		}
		cascade_row(state, c->child, &cold, &cnew, depth + 1);
	}
}

/*
 * cascade_row: the actions of every foreign key whose parent is t, for
 * one row of t deleted (newrow NULL) or updated.
 */
static void
cascade_row(TributaryApplyState *state, TributaryTable *t, CascadeRow *oldrow, CascadeRow *newrow,
			int depth)
{
	ListCell   *lc;

	foreach(lc, state->cascades)
	{
		ApplyCascade *c = lfirst(lc);

		if (c->parent == t)
			run_action(state, c, oldrow, newrow, depth);
	}
}

/*
 * tributary_cascade_apply: after the apply deleted (newslot NULL) or
 * updated a row of a parent table, the foreign keys' actions.  Inserts
 * the apply buffered go into their tables first, so that the actions see
 * them.
 */
void
tributary_cascade_apply(TributaryApplyState *state, TributaryTable *t, TupleTableSlot *oldslot,
						TupleTableSlot *newslot)
{
	CascadeRow	oldrow;
	CascadeRow	newrow;
	ListCell   *lc;

	if (state->no_ref_actions)
		return;
	foreach(lc, state->open_rels)
	{
		ApplyRel   *ar = lfirst(lc);

		if (ar->open && ar->open->nbuffered > 0)
			tributary_target_flush(ar->open);
	}
	slot_getallattrs(oldslot);
	oldrow.desc = oldslot->tts_tupleDescriptor;
	oldrow.values = oldslot->tts_values;
	oldrow.nulls = oldslot->tts_isnull;
	if (newslot)
	{
		slot_getallattrs(newslot);
		newrow.desc = newslot->tts_tupleDescriptor;
		newrow.values = newslot->tts_values;
		newrow.nulls = newslot->tts_isnull;
	}
	cascade_row(state, t, &oldrow, newslot ? &newrow : NULL, 0);
}
