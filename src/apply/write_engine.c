/*-------------------------------------------------------------------------
 *
 * write_engine.c
 *		The engine write path: targets that another engine owns (Citus
 *		distributed, reference and citus-local tables) are written by
 *		statements that engine plans and routes, never into the table's
 *		own heap on this node, which no query of that engine reads.
 *
 * The stream finds, inserts, updates and deletes one row at a time with
 * prepared statements on the target's primary key (TributaryWriteMethods,
 * apply_int.h), run through SPI in the worker's local transaction: the
 * engine's distributed transaction commits the rows with the job's
 * checkpoint, or neither.  Outside a transaction block (a background
 * worker's transaction is not one) Citus commits a single-shard statement
 * on its worker at once, and a transaction that wrote to one worker in
 * one phase (the worker first, then the coordinator): a crash between the
 * two would leave rows without their checkpoint.  So every transaction
 * that writes through Citus is made a coordinated transaction committed
 * in two phases, as Citus's own COPY does (engine_2pc): the workers
 * prepare, the coordinator commits its transaction with Citus's records
 * of them and the checkpoint, and Citus's recovery finishes what a crash
 * interrupts.  An update
 * that changes the key is a delete and an insert, since the row may move
 * to another shard (Citus refuses to change a distribution column).  The
 * snapshot copies its COPY text rows in batches of INSERT ... SELECT FROM
 * ROWS FROM (unnest(), ...) of typed arrays, which the engine spreads over its shards.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "apply/apply_int.h"
#include "apply/copy_in.h"
#include "incremental.h"

/* rows per INSERT ... SELECT of a snapshot */
#define ENGINE_COPY_ROWS	10000

/* a target's prepared statements (kept plans, freed with the map) */
typedef struct EnginePlans
{
	int			nw;				/* written attributes (0-based): not dropped, not generated */
	int		   *w;
	int			nk;				/* key attributes */
	int		   *k;
	int			nset;			/* written attributes outside the key */
	int		   *set;
	SPIPlanPtr	find;
	SPIPlanPtr	insert;
	SPIPlanPtr	update;			/* NULL: every written attribute is in the key */
	SPIPlanPtr	delete;
} EnginePlans;

/* whether this process had Citus finish the transactions a crash left prepared */
static bool engine_recovered = false;

/* Citus's transaction functions, found in citus.so at first use */
static void (*citus_use_coordinated) (void) = NULL;
static void (*citus_use_2pc) (void) = NULL;

/*
 * engine_2pc: the current transaction's writes through Citus are part of
 * one coordinated transaction (remote transaction blocks, even for a
 * statement that reaches one shard: outside BEGIN ... END, which a
 * background worker's transaction is not, Citus would otherwise commit
 * such a statement on the worker at once), committed in two phases
 * whatever the number of workers they reach.  Both flags end with the
 * transaction.
 */
static void
engine_2pc(void)
{
	if (citus_use_2pc == NULL)
	{
		citus_use_coordinated = (void (*) (void)) load_external_function("citus", "UseCoordinatedTransaction",
																		 true, NULL);
		citus_use_2pc = (void (*) (void)) load_external_function("citus", "Use2PCForCoordinatedTransaction",
																 true, NULL);
	}
	citus_use_coordinated();
	citus_use_2pc();
	/*
	 * The local commit must be durable before Citus commits the prepared
	 * transactions (its commit callback runs right after the commit
	 * record is written): apply transactions commit with
	 * synchronous_commit = off (stream.c), and a crash before the WAL
	 * writer flushed their commit record would lose the checkpoint and
	 * Citus's records while the workers keep the rows.
	 */
	ForceSyncCommit();
}

/*
 * tributary_engine_target: whether another engine owns the table: a Citus
 * distributed, reference or citus-local table (pg_dist_partition names
 * it).  Runs in a transaction.
 */
bool
tributary_engine_target(Oid relid)
{
	Oid			argtype = OIDOID;
	Datum		arg = ObjectIdGetDatum(relid);
	bool		owned;
	bool		pushed;

	if (!OidIsValid(get_extension_oid("citus", true)) ||
		!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return false;
	pushed = !ActiveSnapshotSet();
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1",
							  1, &argtype, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_dist_partition");
	owned = (SPI_processed > 0);
	SPI_finish();
	/*
	 * The first time this process writes through Citus: transactions a
	 * crash left prepared on the workers are finished now, by Citus's
	 * records (as its maintenance daemon does every minute), so that the
	 * rows the job's checkpoint covers are visible before it goes on.
	 */
	if (owned && !engine_recovered)
	{
		int			(*recover) (void) = (int (*) (void)) load_external_function("citus", "RecoverTwoPhaseCommits",
																			  true, NULL);
		int			n = recover();

		engine_recovered = true;
		if (n > 0)
			ereport(LOG,
					(errmsg("pg_tributary finished %d transactions a crash left prepared on Citus workers", n)));
	}
	if (pushed)
		PopActiveSnapshot();
	return owned;
}

/*
 * tributary_engine_truncate: empty a table another engine owns (name
 * quoted and qualified).  Citus carries a TRUNCATE to the shards by a
 * trigger on the table, which the worker's session_replication_role
 * (replica) does not fire: the statement runs with the role origin.
 */
void
tributary_engine_truncate(const char *name)
{
	int			nestlevel = NewGUCNestLevel();
	bool		pushed = !ActiveSnapshotSet();

	(void) set_config_option("session_replication_role", "origin", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	engine_2pc();
	SPI_connect();
	if (SPI_execute(psprintf("TRUNCATE %s", name), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not truncate %s", name);
	SPI_finish();
	if (pushed)
		PopActiveSnapshot();
	AtEOXact_GUC(true, nestlevel);
}

/*
 * tributary_engine_forget: free a map entry's prepared statements (the
 * target changed, or the entry goes).
 */
void
tributary_engine_forget(ApplyRel *ar)
{
	EnginePlans *p = ar->engine_plans;

	if (p == NULL)
		return;
	if (p->find)
		SPI_freeplan(p->find);
	if (p->insert)
		SPI_freeplan(p->insert);
	if (p->update)
		SPI_freeplan(p->update);
	if (p->delete)
		SPI_freeplan(p->delete);
	ar->engine_plans = NULL;
}

/*
 * qualified_operator: "OPERATOR(schema.name)" of an operator.
 */
static char *
qualified_operator(Oid opno)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;
	char	   *result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}

/*
 * key_condition: "k1 = $n AND k2 = $n+1 ..." with each key column's own
 * btree equality operator, schema-qualified.
 */
static void
key_condition(StringInfo sql, Relation rel, Relation idx, EnginePlans *p, int first)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < p->nk; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, p->k[i]);
		Oid			eq = get_opfamily_member(idx->rd_opfamily[i], att->atttypid, att->atttypid,
											 BTEqualStrategyNumber);

		if (!OidIsValid(eq))
			elog(ERROR, "no equality operator for key column \"%s\"", NameStr(att->attname));
		appendStringInfo(sql, "%s%s %s $%d", i ? " AND " : "",
						 quote_identifier(NameStr(att->attname)), qualified_operator(eq), first + i);
	}
}

/*
 * prepare: plan and keep a statement with the types of the attributes
 * listed (a: n lists of attribute indexes).
 */
static SPIPlanPtr
prepare(const char *sql, TupleDesc desc, int n1, int *a1, int n2, int *a2)
{
	Oid		   *types = palloc(sizeof(Oid) * Max(n1 + n2, 1));
	SPIPlanPtr	plan;

	for (int i = 0; i < n1; i++)
		types[i] = TupleDescAttr(desc, a1[i])->atttypid;
	for (int i = 0; i < n2; i++)
		types[n1 + i] = TupleDescAttr(desc, a2[i])->atttypid;
	plan = SPI_prepare(sql, n1 + n2, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare %s: %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of %s", sql);
	return plan;
}

/*
 * engine_plans: the entry's statements, prepared at their first use.
 */
static EnginePlans *
engine_plans(ApplyRel *ar, ApplyOpen *ao)
{
	Relation	rel = ao->rel;
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *name = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												  RelationGetRelationName(rel));
	MemoryContext old;
	EnginePlans *p;
	Relation	idx;
	StringInfoData cols;
	StringInfoData sql;

	if (ar->engine_plans != NULL)
		return ar->engine_plans;
	old = MemoryContextSwitchTo(ar->map_cxt);
	p = palloc0(sizeof(EnginePlans));
	p->w = palloc(sizeof(int) * Max(desc->natts, 1));
	p->set = palloc(sizeof(int) * Max(desc->natts, 1));
	idx = index_open(ar->keyidx, AccessShareLock);
	p->nk = idx->rd_index->indnkeyatts;
	p->k = palloc(sizeof(int) * Max(p->nk, 1));
	for (int i = 0; i < p->nk; i++)
		p->k[i] = idx->rd_index->indkey.values[i] - 1;
	initStringInfo(&cols);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		key = false;

		if (att->attisdropped || att->attgenerated)
			continue;
		appendStringInfo(&cols, "%s%s", p->nw ? ", " : "", quote_identifier(NameStr(att->attname)));
		p->w[p->nw++] = i;
		for (int k = 0; k < p->nk; k++)
			key |= (p->k[k] == i);
		if (!key)
			p->set[p->nset++] = i;
	}
	MemoryContextSwitchTo(old);

	SPI_connect();
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s FROM %s WHERE ", cols.data, name);
	key_condition(&sql, rel, idx, p, 1);
	p->find = prepare(sql.data, desc, p->nk, p->k, 0, NULL);

	resetStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (%s) VALUES (", name, cols.data);
	for (int i = 0; i < p->nw; i++)
		appendStringInfo(&sql, "%s$%d", i ? ", " : "", i + 1);
	appendStringInfoChar(&sql, ')');
	p->insert = prepare(sql.data, desc, p->nw, p->w, 0, NULL);

	if (p->nset > 0)
	{
		resetStringInfo(&sql);
		appendStringInfo(&sql, "UPDATE %s SET ", name);
		for (int i = 0; i < p->nset; i++)
			appendStringInfo(&sql, "%s%s = $%d", i ? ", " : "",
							 quote_identifier(NameStr(TupleDescAttr(desc, p->set[i])->attname)), i + 1);
		appendStringInfoString(&sql, " WHERE ");
		key_condition(&sql, rel, idx, p, p->nset + 1);
		p->update = prepare(sql.data, desc, p->nset, p->set, p->nk, p->k);
	}

	resetStringInfo(&sql);
	appendStringInfo(&sql, "DELETE FROM %s WHERE ", name);
	key_condition(&sql, rel, idx, p, 1);
	p->delete = prepare(sql.data, desc, p->nk, p->k, 0, NULL);
	SPI_finish();
	index_close(idx, AccessShareLock);
	ar->engine_plans = p;
	return p;
}

/*
 * slot_args: the values of the listed attributes of slot as statement
 * arguments (two lists, one after the other).
 */
static void
slot_args(TupleTableSlot *slot, int n1, int *a1, TupleTableSlot *slot2, int n2, int *a2,
		  Datum *values, char *nulls)
{
	slot_getallattrs(slot);
	for (int i = 0; i < n1; i++)
	{
		values[i] = slot->tts_values[a1[i]];
		nulls[i] = slot->tts_isnull[a1[i]] ? 'n' : ' ';
	}
	if (slot2 == NULL)
		return;
	slot_getallattrs(slot2);
	for (int i = 0; i < n2; i++)
	{
		values[n1 + i] = slot2->tts_values[a2[i]];
		nulls[n1 + i] = slot2->tts_isnull[a2[i]] ? 'n' : ' ';
	}
}

/*
 * run: execute a kept statement; returns the rows it processed.
 */
static uint64
run(SPIPlanPtr plan, Datum *values, char *nulls, int expect, long limit)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, limit);

	if (rc != expect)
		elog(ERROR, "a statement of the engine write path returned %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * engine_find: the row ao->search's key designates, into ao->local.
 */
static bool
engine_find(ApplyRel *ar, ApplyOpen *ao, bool old_image)
{
	EnginePlans *p = engine_plans(ar, ao);
	TupleTableSlot *local = ao->local;
	MemoryContext cxt = CurrentMemoryContext;
	Datum	   *values = palloc(sizeof(Datum) * Max(p->nk, 1));
	char	   *nulls = palloc(sizeof(char) * Max(p->nk, 1));
	bool		found;

	slot_args(ao->search, p->nk, p->k, NULL, 0, NULL, values, nulls);
	SPI_connect();
	found = (run(p->find, values, nulls, SPI_OK_SELECT, 2) > 0);
	if (found)
	{
		TupleDesc	desc = local->tts_tupleDescriptor;
		HeapTuple	tup = SPI_tuptable->vals[0];

		ExecClearTuple(local);
		for (int i = 0; i < desc->natts; i++)
		{
			local->tts_values[i] = (Datum) 0;
			local->tts_isnull[i] = true;
		}
		MemoryContextSwitchTo(cxt);
		for (int i = 0; i < p->nw; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, p->w[i]);
			bool		isnull;
			Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, i + 1, &isnull);

			local->tts_isnull[p->w[i]] = isnull;
			if (!isnull)
				local->tts_values[p->w[i]] = datumCopy(d, att->attbyval, att->attlen);
		}
		ExecStoreVirtualTuple(local);
	}
	SPI_finish();
	MemoryContextSwitchTo(cxt);
	return found;
}

/*
 * engine_insert: insert slot's row.  A duplicate key is the engine's error.
 */
static void
engine_insert(ApplyRel *ar, ApplyOpen *ao, TupleTableSlot *slot)
{
	EnginePlans *p = engine_plans(ar, ao);
	Datum	   *values = palloc(sizeof(Datum) * Max(p->nw, 1));
	char	   *nulls = palloc(sizeof(char) * Max(p->nw, 1));

	slot_args(slot, p->nw, p->w, NULL, 0, NULL, values, nulls);
	engine_2pc();
	SPI_connect();
	(void) run(p->insert, values, nulls, SPI_OK_INSERT, 0);
	SPI_finish();
}

/*
 * engine_delete: delete the row local (found before).
 */
static void
engine_delete(ApplyRel *ar, ApplyOpen *ao, TupleTableSlot *local)
{
	EnginePlans *p = engine_plans(ar, ao);
	Datum	   *values = palloc(sizeof(Datum) * Max(p->nk, 1));
	char	   *nulls = palloc(sizeof(char) * Max(p->nk, 1));
	uint64		n;

	slot_args(local, p->nk, p->k, NULL, 0, NULL, values, nulls);
	engine_2pc();
	SPI_connect();
	n = run(p->delete, values, nulls, SPI_OK_DELETE, 0);
	SPI_finish();
	if (n != 1)
		elog(ERROR, "the row found in the target was gone when it was deleted");
}

/*
 * engine_update: replace the row local (found before) by remote: in
 * place, or, when the key changes, as a delete and an insert (the row may
 * belong to another shard now).
 */
static void
engine_update(ApplyRel *ar, ApplyOpen *ao, TupleTableSlot *local, TupleTableSlot *remote)
{
	EnginePlans *p = engine_plans(ar, ao);
	TupleDesc	desc = local->tts_tupleDescriptor;
	Datum	   *values = palloc(sizeof(Datum) * Max(p->nset + p->nk, 1));
	char	   *nulls = palloc(sizeof(char) * Max(p->nset + p->nk, 1));
	uint64		n;

	slot_getallattrs(local);
	slot_getallattrs(remote);
	for (int i = 0; i < p->nk; i++)
	{
		int			a = p->k[i];
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (local->tts_isnull[a] != remote->tts_isnull[a] ||
			(!local->tts_isnull[a] &&
			 !datum_image_eq(local->tts_values[a], remote->tts_values[a], att->attbyval, att->attlen)))
		{
			engine_delete(ar, ao, local);
			engine_insert(ar, ao, remote);
			return;
		}
	}
	if (p->update == NULL)
		return;
	slot_args(remote, p->nset, p->set, local, p->nk, p->k, values, nulls);
	engine_2pc();
	SPI_connect();
	n = run(p->update, values, nulls, SPI_OK_UPDATE, 0);
	SPI_finish();
	if (n != 1)
		elog(ERROR, "the row found in the target was gone when it was updated");
}

const TributaryWriteMethods tributary_engine_write = {
	"engine", engine_find, engine_insert, engine_update, engine_delete
};

/* a snapshot's batch of rows, column by column */
typedef struct EngineBatch
{
	int			ncols;
	int			nrows;
	Datum	  **values;			/* [column][row] */
	bool	  **nulls;
	FmgrInfo   *in_fns;
	Oid		   *ioparams;
	int32	   *typmods;
	Oid		   *elemtypes;
	int16	   *typlens;
	bool	   *byvals;
	char	   *aligns;
	Oid		   *arraytypes;
	char	   *sql;
	MemoryContext rows_cxt;		/* the batch's values, reset after each */
} EngineBatch;

/*
 * batch_flush: insert the batch's rows with one statement.
 */
static uint64
batch_flush(EngineBatch *b)
{
	Datum	   *args;
	int			dims[1];
	int			lbs[1] = {1};
	MemoryContext old;
	uint64		n;

	if (b->nrows == 0)
		return 0;
	old = MemoryContextSwitchTo(b->rows_cxt);
	args = palloc(sizeof(Datum) * b->ncols);
	dims[0] = b->nrows;
	for (int c = 0; c < b->ncols; c++)
		args[c] = PointerGetDatum(construct_md_array(b->values[c], b->nulls[c], 1, dims, lbs,
													 b->elemtypes[c], b->typlens[c], b->byvals[c],
													 b->aligns[c]));
	engine_2pc();
	SPI_connect();
	if (SPI_execute_with_args(b->sql, b->ncols, b->arraytypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert a batch of snapshot rows");
	n = SPI_processed;
	SPI_finish();
	MemoryContextSwitchTo(old);
	MemoryContextReset(b->rows_cxt);
	b->nrows = 0;
	return n;
}

/*
 * batch_row: one COPY text row (without its newline) into the batch.
 */
static void
batch_row(EngineBatch *b, TributaryTable *t, char *line, int len, TribTuple *tuple, const char *table)
{
	MemoryContext old = MemoryContextSwitchTo(b->rows_cxt);

	tributary_copy_text_row(line, len, tuple, table);
	for (int c = 0; c < b->ncols; c++)
	{
		TribValue  *v = &tuple->values[c];

		b->nulls[c][b->nrows] = (v->kind == TRIB_VALUE_NULL);
		b->values[c][b->nrows] = b->nulls[c][b->nrows] ? (Datum) 0 :
			InputFunctionCall(&b->in_fns[c], pnstrdup(v->data, v->len), b->ioparams[c], b->typmods[c]);
	}
	MemoryContextSwitchTo(old);
	b->nrows++;
}

/*
 * tributary_engine_copy: the engine path of tributary_copy_into: the COPY
 * text rows reader hands out (t's columns, in order) inserted into rel in
 * batches of INSERT ... SELECT FROM unnest().  Returns the rows inserted.
 */
uint64
tributary_engine_copy(TributaryTable *t, Relation rel, TributaryCopyReader reader, void *arg)
{
	TupleDesc	desc = RelationGetDescr(rel);
	EngineBatch b;
	StringInfoData sql;
	StringInfoData pending;
	TribTuple	tuple;
	char	   *table = psprintf("%s.%s", t->source_nsp, t->source_rel);
	uint64		rows = 0;
	int			pos = 0;

	memset(&b, 0, sizeof(b));
	b.ncols = t->ncolumns;
	b.values = palloc(sizeof(Datum *) * Max(b.ncols, 1));
	b.nulls = palloc(sizeof(bool *) * Max(b.ncols, 1));
	b.in_fns = palloc0(sizeof(FmgrInfo) * Max(b.ncols, 1));
	b.ioparams = palloc(sizeof(Oid) * Max(b.ncols, 1));
	b.typmods = palloc(sizeof(int32) * Max(b.ncols, 1));
	b.elemtypes = palloc(sizeof(Oid) * Max(b.ncols, 1));
	b.typlens = palloc(sizeof(int16) * Max(b.ncols, 1));
	b.byvals = palloc(sizeof(bool) * Max(b.ncols, 1));
	b.aligns = palloc(sizeof(char) * Max(b.ncols, 1));
	b.arraytypes = palloc(sizeof(Oid) * Max(b.ncols, 1));
	b.rows_cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary engine copy batch",
									   ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (",
					 quote_qualified_identifier(t->target_nsp, t->target_rel));
	for (int c = 0; c < b.ncols; c++)
	{
		AttrNumber	attno = get_attnum(RelationGetRelid(rel), t->columns[c].target);
		Form_pg_attribute att;
		Oid			infn;

		if (attno == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target table %s has no column \"%s\"",
							quote_qualified_identifier(t->target_nsp, t->target_rel), t->columns[c].target)));
		att = TupleDescAttr(desc, attno - 1);
		b.values[c] = palloc(sizeof(Datum) * ENGINE_COPY_ROWS);
		b.nulls[c] = palloc(sizeof(bool) * ENGINE_COPY_ROWS);
		getTypeInputInfo(att->atttypid, &infn, &b.ioparams[c]);
		fmgr_info(infn, &b.in_fns[c]);
		b.typmods[c] = att->atttypmod;
		b.elemtypes[c] = att->atttypid;
		get_typlenbyvalalign(att->atttypid, &b.typlens[c], &b.byvals[c], &b.aligns[c]);
		b.arraytypes[c] = get_array_type(att->atttypid);
		if (!OidIsValid(b.arraytypes[c]))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of %s has type %s, which has no array type to copy it through",
							t->columns[c].target, quote_qualified_identifier(t->target_nsp, t->target_rel),
							format_type_be(att->atttypid))));
		appendStringInfo(&sql, "%s%s", c ? ", " : "", quote_identifier(t->columns[c].target));
	}
	appendStringInfoString(&sql, ") SELECT * FROM ROWS FROM (");
	for (int c = 0; c < b.ncols; c++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", c ? ", " : "", c + 1);
	appendStringInfoChar(&sql, ')');
	b.sql = sql.data;
	tuple.natts = b.ncols;
	tuple.values = palloc0(sizeof(TribValue) * Max(b.ncols, 1));

	/* whole rows out of the reader's blocks */
	initStringInfo(&pending);
	for (;;)
	{
		char	   *block;
		int			n = reader(arg, &block);
		char	   *nl;

		if (n >= 0)
			appendBinaryStringInfo(&pending, block, n);
		while ((nl = memchr(pending.data + pos, '\n', pending.len - pos)) != NULL)
		{
			batch_row(&b, t, pending.data + pos, nl - (pending.data + pos), &tuple, table);
			pos = nl + 1 - pending.data;
			if (b.nrows == ENGINE_COPY_ROWS)
				rows += batch_flush(&b);
		}
		if (n < 0)
		{
			if (pending.len > pos)
				batch_row(&b, t, pending.data + pos, pending.len - pos, &tuple, table);
			break;
		}
		/* keep the unfinished row only */
		memmove(pending.data, pending.data + pos, pending.len - pos);
		pending.len -= pos;
		pending.data[pending.len] = '\0';
		pos = 0;
	}
	rows += batch_flush(&b);
	MemoryContextDelete(b.rows_cxt);
	return rows;
}
