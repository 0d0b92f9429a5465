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
 * interrupts.  Strict inserts (the stream's bulk) are buffered, as for a
 * plain table (target_state.c), and written ENGINE_INSERT_ROWS at a time
 * by one INSERT ... SELECT of arrays, which the engine routes and writes
 * to the shards of every worker in parallel.  An update
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
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
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

/*
 * buffered inserts fewer than this go one by one: an INSERT ... SELECT
 * through Citus costs about as much as a dozen single-row inserts (it
 * plans on the coordinator and opens a COPY per shard it reaches), and a
 * stream of small transactions flushes a few rows at a time
 */
#define ENGINE_MANY_MIN		16

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
	SPIPlanPtr	insert_many;	/* buffered inserts, one array per written
								 * attribute; NULL: a type has no array type */
} EnginePlans;

/* whether this process had Citus finish the transactions a crash left prepared */
static bool engine_recovered = false;

/* Citus's transaction functions, found in citus.so at first use */
static void (*citus_use_coordinated) (void) = NULL;
static void (*citus_use_2pc) (void) = NULL;

/*
 * engine_session_settings: one connection per Citus worker for this
 * process's writes (citus.max_adaptive_executor_pool_size = 1).  With
 * Citus's default, a COPY to a table's shards opens a connection per
 * shard on each worker, up to 16, and at every local commit all but one
 * are prepared, committed and closed, to be opened again by the next
 * batch: measured here, 2-4 times slower than one connection per worker
 * that writes its shards in turn (docs/distributed.md).  The workers
 * still write in parallel with each other.
 */
static void
engine_session_settings(void)
{
	const char *now = GetConfigOption("citus.max_adaptive_executor_pool_size", true, false);

	/*
	 * set in the transaction that writes (an abort takes the setting back
	 * with it), unless it holds already
	 */
	if (now != NULL && strcmp(now, "1") == 0)
		return;
	(void) set_config_option("citus.max_adaptive_executor_pool_size", "1", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SET, true, 0, false);
}

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
	engine_session_settings();
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
 * Citus's COPY destination (CreateCitusCopyDestReceiver, commands/multi_copy.h
 * of Citus 13): what Citus's own COPY and INSERT ... SELECT write rows
 * through.  Its arguments: the table, the names of the columns the rows
 * carry, the index of the distribution column among the table's
 * attributes (-1: none), an executor state, an intermediate-result prefix
 * (NULL: the table's shards), whether the rows are published to Citus's
 * CDC, whether query counters are kept.  Only called for a Citus whose
 * major version has this signature (engine_direct).
 */
typedef DestReceiver *(*CitusCreateCopyDest) (Oid relid, List *columns, int partition_index,
											  EState *estate, char *prefix, bool publish,
											  bool track_counters);

static CitusCreateCopyDest citus_create_copy_dest = NULL;
static int	engine_direct_known = -1;	/* -1: not looked at yet */

/*
 * engine_direct: whether rows can go to Citus's COPY destination straight
 * from the worker's slots (no statement planned per batch): the Citus
 * installed is of a major version whose CreateCitusCopyDestReceiver this
 * file knows (13).  Otherwise batches go through INSERT ... SELECT.
 * Looked at once per process, in a transaction.
 */
static bool
engine_direct(void)
{
	if (engine_direct_known < 0)
	{
		bool		pushed = !ActiveSnapshotSet();
		char	   *version = NULL;

		if (pushed)
			PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();
		if (SPI_execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'",
						true, 1) == SPI_OK_SELECT && SPI_processed == 1)
			version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		engine_direct_known = (version != NULL && strncmp(version, "13.", 3) == 0);
		SPI_finish();
		if (pushed)
			PopActiveSnapshot();
		if (engine_direct_known)
		{
			citus_create_copy_dest = (CitusCreateCopyDest)
				load_external_function("citus", "CreateCitusCopyDestReceiver", false, NULL);
			engine_direct_known = (citus_create_copy_dest != NULL);
		}
	}
	return engine_direct_known == 1;
}

/*
 * engine_dest_open: Citus's COPY destination for rel, started for rows of
 * rel's own descriptor (every attribute; dropped and generated ones are
 * not sent), in the current transaction made a two-phase one.
 */
static DestReceiver *
engine_dest_open(Relation rel, EState *estate)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			argtype = OIDOID;
	Datum		arg = ObjectIdGetDatum(RelationGetRelid(rel));
	List	   *columns = NIL;
	int			partition_index = -1;
	DestReceiver *dest;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && att->attgenerated != ATTRIBUTE_GENERATED_STORED)
			columns = lappend(columns, pstrdup(NameStr(att->attname)));
	}
	SPI_connect();
	if (SPI_execute_with_args("SELECT pg_catalog.column_to_column_name(logicalrelid, partkey)"
							  " FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1 AND partkey IS NOT NULL",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_dist_partition");
	if (SPI_processed == 1)
	{
		char	   *column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		AttrNumber	attno = column ? get_attnum(RelationGetRelid(rel), column) : InvalidAttrNumber;

		if (attno == InvalidAttrNumber)
			elog(ERROR, "no distribution column \"%s\" in %s", column ? column : "",
				 RelationGetRelationName(rel));
		partition_index = attno - 1;
	}
	SPI_finish();
	engine_2pc();
	dest = citus_create_copy_dest(RelationGetRelid(rel), columns, partition_index, estate, NULL,
								  true, false);
	dest->rStartup(dest, CMD_INSERT, desc);
	return dest;
}

/*
 * tributary_engine_can_copy: whether a snapshot into rel can go through
 * Citus's COPY destination (tributary_engine_copy_from), in binary as in
 * text: Citus of a known version, a table that is not partitioned.
 */
bool
tributary_engine_can_copy(Relation rel)
{
	return rel->rd_rel->relkind == RELKIND_RELATION && engine_direct();
}

/*
 * tributary_engine_copy_from: the rows cstate reads (began on rel) into
 * rel's shards through Citus's COPY destination, as Citus's own COPY
 * does: parsed once, routed by the distribution column, streamed to a
 * COPY per shard.  Returns the rows copied.
 */
uint64
tributary_engine_copy_from(Relation rel, CopyFromState cstate)
{
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)),
													&TTSOpsVirtual);
	/* Citus's own executor state: it resets its per-tuple memory at will */
	EState	   *dest_estate = CreateExecutorState();
	DestReceiver *dest = engine_dest_open(rel, dest_estate);
	uint64		rows = 0;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		ResetPerTupleExprContext(estate);
		ExecClearTuple(slot);
		{
			/* the row's values live until the next row, as in CopyFrom */
			MemoryContext oldcxt = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
			bool		found = NextCopyFrom(cstate, econtext, slot->tts_values, slot->tts_isnull);

			MemoryContextSwitchTo(oldcxt);
			if (!found)
				break;
		}
		ExecStoreVirtualTuple(slot);
		dest->receiveSlot(slot, dest);
		rows++;
	}
	dest->rShutdown(dest);
	dest->rDestroy(dest);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(dest_estate);
	FreeExecutorState(estate);
	return rows;
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
 * tributary_engine_reconnect: the worker connects again (after an error
 * it retries, a Citus worker's crash among them): the next write through
 * Citus first finishes what that crash left prepared, rather than wait
 * for Citus's maintenance daemon while the prepared transactions hold
 * their shards' locks.
 */
void
tributary_engine_reconnect(void)
{
	engine_recovered = false;
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
	if (p->insert_many)
		SPI_freeplan(p->insert_many);
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
 * prepare_insert_many: the statement that inserts a buffer of rows:
 * INSERT ... SELECT FROM ROWS FROM (unnest($1), ...) of one array per
 * written attribute, which the engine plans once and spreads over its
 * shards at each execution.  NULL when an attribute's type has no array
 * type (its inserts then go one by one).
 */
static SPIPlanPtr
prepare_insert_many(const char *name, const char *cols, TupleDesc desc, EnginePlans *p)
{
	Oid		   *types = palloc(sizeof(Oid) * Max(p->nw, 1));
	StringInfoData sql;
	SPIPlanPtr	plan;

	for (int i = 0; i < p->nw; i++)
	{
		types[i] = get_array_type(TupleDescAttr(desc, p->w[i])->atttypid);
		if (!OidIsValid(types[i]))
			return NULL;
	}
	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (%s) SELECT * FROM ROWS FROM (", name, cols);
	for (int i = 0; i < p->nw; i++)
		appendStringInfo(&sql, "%spg_catalog.unnest($%d)", i ? ", " : "", i + 1);
	appendStringInfoChar(&sql, ')');
	plan = SPI_prepare(sql.data, p->nw, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare %s: %s", sql.data, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of %s", sql.data);
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
	p->insert_many = prepare_insert_many(name, cols.data, desc, p);
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

/*
 * tributary_engine_can_buffer: whether the target's strict inserts can be
 * buffered and written many at a time (tributary_engine_flush): through
 * Citus's COPY destination, or else every written attribute's type has an
 * array type (arrays of arrays do not exist).
 */
bool
tributary_engine_can_buffer(ApplyRel *ar, ApplyOpen *ao)
{
	return engine_direct() || engine_plans(ar, ao)->insert_many != NULL;
}

/*
 * flush_insert_select: the buffered rows by one INSERT ... SELECT of one
 * array per written attribute (a Citus whose COPY destination this file
 * does not know).  Returns the rows inserted.
 */
static uint64
flush_insert_select(ApplyOpen *ao)
{
	EnginePlans *p = engine_plans(ao->ar, ao);
	TupleDesc	desc = RelationGetDescr(ao->rel);
	MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(ao->estate));
	Datum	   *args = palloc(sizeof(Datum) * Max(p->nw, 1));
	Datum	   *values = palloc(sizeof(Datum) * ao->nbuffered);
	bool	   *nulls = palloc(sizeof(bool) * ao->nbuffered);
	int			dims[1] = {ao->nbuffered};
	int			lbs[1] = {1};
	uint64		n;

	for (int r = 0; r < ao->nbuffered; r++)
		slot_getallattrs(ao->buffer[r]);
	for (int i = 0; i < p->nw; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, p->w[i]);

		for (int r = 0; r < ao->nbuffered; r++)
		{
			values[r] = ao->buffer[r]->tts_values[p->w[i]];
			nulls[r] = ao->buffer[r]->tts_isnull[p->w[i]];
		}
		args[i] = PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, att->atttypid,
													 att->attlen, att->attbyval, att->attalign));
	}
	engine_2pc();
	SPI_connect();
	n = run(p->insert_many, args, NULL, SPI_OK_INSERT, 0);
	SPI_finish();
	MemoryContextSwitchTo(old);
	return n;
}

/*
 * flush_direct: the buffered rows through Citus's COPY destination, with
 * an executor state and memory of their own (Citus resets the executor
 * state's per-tuple memory as it sends each row).
 */
static void
flush_direct(ApplyOpen *ao)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary engine flush",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EState	   *estate = CreateExecutorState();
	DestReceiver *dest = engine_dest_open(ao->rel, estate);

	for (int r = 0; r < ao->nbuffered; r++)
		dest->receiveSlot(ao->buffer[r], dest);
	dest->rShutdown(dest);
	dest->rDestroy(dest);
	FreeExecutorState(estate);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * tributary_engine_flush: write the target's buffered inserts through the
 * engine, which routes each row to its shard and writes the shards of
 * different workers in parallel: Citus's COPY destination (as its own
 * COPY), else one INSERT ... SELECT.  A stream of inserts costs a round
 * trip per buffer and worker, not per row (but for a few rows, which go
 * one by one).  A duplicate key is the engine's error, as for a single
 * insert.
 */
void
tributary_engine_flush(ApplyOpen *ao)
{
	uint64		n = ao->nbuffered;

	if (ao->nbuffered < ENGINE_MANY_MIN)
	{
		for (int r = 0; r < ao->nbuffered; r++)
			engine_insert(ao->ar, ao, ao->buffer[r]);
	}
	else if (engine_direct())
		flush_direct(ao);
	else
		n = flush_insert_select(ao);
	if (n != (uint64) ao->nbuffered)
		elog(ERROR, "the engine inserted " UINT64_FORMAT " of %d buffered rows", n, ao->nbuffered);
	for (int r = 0; r < ao->nbuffered; r++)
		ExecClearTuple(ao->buffer[r]);
	ResetPerTupleExprContext(ao->estate);
	ao->nbuffered = 0;
	CommandCounterIncrement();
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
