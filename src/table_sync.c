/*-------------------------------------------------------------------------
 *
 * table_sync.c
 *		Copying a table of a job while the job streams (resync_table, or
 *		add_table, on a running full+cdc job whose tables are copied):
 *		the other tables never stop.
 *
 * The model is PostgreSQL's table synchronization, with the table's
 * changes kept on the target instead of read again from the source:
 *
 *	resync	resync_table (or add_table) set the table's jt_state to
 *			'resync'.  The streaming worker looks for such requests every
 *			second; from then on the table's changes are passed (the copy
 *			will hold them).  A table the stream does not have (added)
 *			makes the stream start again with it, from its checkpoint.
 *	plan	between two source transactions, with everything received so
 *			far committed locally, the worker opens a view of the source
 *			on a connection of its own and, in one local transaction,
 *			forgets any earlier copy of the table, empties its target,
 *			records its chunks (snapshot.c) and sets jt_state to 'sync'.
 *			Every change of the table the stream receives after that is
 *			kept in tributary.sync_change (sync_change.c), in the local
 *			transaction of its source transaction (so with the
 *			checkpoint: exactly once).
 *	copy	between stream transactions the worker copies one chunk at a
 *			time in that view, each committed with its progress row; in
 *			between it applies the stream as usual (other tables) for at
 *			least STEP_PAUSE_MS when the stream is busy.
 *	finish	when every chunk is in, one local transaction applies the kept
 *			changes in stream order, idempotently (the copy may hold the
 *			first of them), deletes them and sets jt_state to 'streaming';
 *			the table's later changes are applied as the others' are.
 *
 * Why it converges: the view is opened after every change the stream had
 * applied to the table before the plan was committed, so the view holds
 * them and emptying the target loses nothing (a source that tells its
 * view's exact position, MariaDB, is checked: plan_copy), and every change
 * after that is kept.  A copy plus the idempotent application of every later
 * change, each carrying the full row, ends equal to the source (DESIGN
 * §2, invariant 3).  After a crash or restart the stream resumes from its
 * checkpoint, keeping the table's changes again from there; the chunks
 * not copied yet are read in a new view, opened later, and the same
 * argument holds for them (as for MySQL snapshot helpers, whose views
 * differ).
 *
 * Schema changes of the table while it is copied: the job's ddl policy
 * acts as for any table, then the copy starts over (back to 'resync').
 * A job whose source carries out foreign key actions the apply repeats
 * (MySQL CASCADE / SET NULL, cascade.c) copies the table the old way:
 * the worker hands it to its next run (jt_state 'init', generation
 * bumped), which copies it before streaming again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "apply/apply.h"
#include "apply/relmap.h"
#include "pg_tributary.h"
#include "security.h"
#include "snapshot.h"
#include "table_sync.h"

/* how often the worker looks for resync requests */
#define LOOK_INTERVAL_MS	1000
/* a busy stream is applied at least this long between two chunks */
#define STEP_PAUSE_MS		200
/* a view behind the stream is opened again after VIEW_RETRY_MS, so many times */
#define VIEW_RETRY_MS		10
#define VIEW_TRIES			100

/* a table copied while the job streams */
typedef struct SyncTable
{
	TributaryTable *table;
	int64		next_seq;		/* sc_seq of the next kept change */
	StringInfoData last_rel;	/* the last relation kept, encoded, or empty */
	StringInfoData columns;		/* its columns' names, types and typmods */
} SyncTable;

struct TributaryTableSync
{
	TributaryJob *job;
	List	   *tables;			/* the stream's tables */
	TributaryApplyState *apply; /* the stream's apply state */
	MemoryContext cxt;			/* this state, the copy's job and connection */
	List	   *syncs;			/* SyncTable of the tables in 'sync' */
	List	   *wanted;			/* TributaryTable waiting for their copy to be planned */
	TributaryJob *copy_job;		/* the copy's own job and source connection */
	TributaryTable *viewing;	/* the table whose copy's view is open, or NULL */
	TimestampTz last_look;
	TimestampTz last_step;
	bool		added;			/* a table was added to the job (add_table) */
	/* the job table of the stream's last change (every change asks) */
	bool		last_valid;		/* cleared by every relation message */
	Oid			last_relid;
	TributaryTable *last_table;
};

/* the state of this process's stream, for tributary_table_sync_close */
static TributaryTableSync *current_sync = NULL;

/*
 * remember_relation: the relation kept last for s (encoded).
 */
static void
remember_relation(SyncTable *s, const char *data, int len)
{
	resetStringInfo(&s->last_rel);
	appendBinaryStringInfo(&s->last_rel, data, len);
	tributary_sync_relation_columns(&s->columns, tributary_sync_decode_relation(data, len));
}

/*
 * sync_of: the SyncTable of table t, or NULL.
 */
static SyncTable *
sync_of(TributaryTableSync *ts, TributaryTable *t)
{
	ListCell   *lc;

	foreach(lc, ts->syncs)
		if (((SyncTable *) lfirst(lc))->table == t)
			return (SyncTable *) lfirst(lc);
	return NULL;
}

/*
 * table_by_id: the stream's table of a jt_id, or NULL.
 */
static TributaryTable *
table_by_id(TributaryTableSync *ts, int32 jt_id)
{
	ListCell   *lc;

	foreach(lc, ts->tables)
		if (((TributaryTable *) lfirst(lc))->id == jt_id)
			return (TributaryTable *) lfirst(lc);
	return NULL;
}

/*
 * start_keeping: table t is in 'sync': from now on its changes are kept,
 * numbered after those kept before (seq) and compared with the last
 * relation kept (last_rel, may be NULL).
 */
static void
start_keeping(TributaryTableSync *ts, TributaryTable *t, int64 seq, bytea *last_rel)
{
	MemoryContext old = MemoryContextSwitchTo(ts->cxt);
	SyncTable  *s = sync_of(ts, t);

	if (s == NULL)
	{
		s = palloc0(sizeof(SyncTable));
		s->table = t;
		initStringInfo(&s->last_rel);
		initStringInfo(&s->columns);
		ts->syncs = lappend(ts->syncs, s);
	}
	s->next_seq = seq;
	resetStringInfo(&s->last_rel);
	resetStringInfo(&s->columns);
	if (last_rel)
		remember_relation(s, VARDATA_ANY(last_rel), VARSIZE_ANY_EXHDR(last_rel));
	ts->wanted = list_delete_ptr(ts->wanted, t);
	t->resyncing = false;
	t->buffering = true;
	MemoryContextSwitchTo(old);
}

/*
 * stop_keeping: t is to be copied (again) from the start: its changes are
 * passed until its copy is planned, and a view open for it is closed at
 * the next step.
 */
static void
stop_keeping(TributaryTableSync *ts, TributaryTable *t)
{
	SyncTable  *s = sync_of(ts, t);

	if (s != NULL)
		ts->syncs = list_delete_ptr(ts->syncs, s);
	if (!list_member_ptr(ts->wanted, t))
	{
		MemoryContext old = MemoryContextSwitchTo(ts->cxt);

		ts->wanted = lappend(ts->wanted, t);
		MemoryContextSwitchTo(old);
	}
	t->buffering = false;
	t->resyncing = true;
}

/*
 * tributary_table_sync_create: the state of a stream's tables copied
 * while it streams, in the caller's memory context.  Tables in 'sync'
 * keep their changes from now on, tables in 'resync' pass them until
 * their copy is planned.  Runs between transactions, before the stream
 * starts.
 */
TributaryTableSync *
tributary_table_sync_create(TributaryJob *job, List *tables, TributaryApplyState *apply)
{
	TributaryTableSync *ts = palloc0(sizeof(TributaryTableSync));
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(job->id);
	TributaryUserSave us;

	ts->job = job;
	ts->tables = tables;
	ts->apply = apply;
	ts->cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary table sync",
									ALLOCSET_SMALL_SIZES);
	ts->last_look = GetCurrentTimestamp();
	current_sync = ts;

	us = tributary_catalog_xact_begin();
	if (SPI_execute_with_args("SELECT t.jt_id, t.jt_state, "
							  "       (SELECT max(c.sc_seq) FROM tributary.sync_change c WHERE c.sc_jt_id = t.jt_id), "
							  "       (SELECT c.sc_data FROM tributary.sync_change c "
							  "         WHERE c.sc_jt_id = t.jt_id AND c.sc_kind = 'R' ORDER BY c.sc_seq DESC LIMIT 1) "
							  "  FROM tributary.job_table t "
							  " WHERE t.jt_job_id = $1 AND t.jt_state IN ('resync', 'sync')",
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the tables copied while the job streams");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		TributaryTable *t = table_by_id(ts, DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull)));
		char	   *state = SPI_getvalue(tup, desc, 2);
		Datum		seq = SPI_getbinval(tup, desc, 3, &isnull);
		int64		next = isnull ? 1 : DatumGetInt64(seq) + 1;
		Datum		rel = SPI_getbinval(tup, desc, 4, &isnull);

		if (t == NULL)
			continue;
		if (strcmp(state, "sync") == 0)
			start_keeping(ts, t, next, isnull ? NULL : DatumGetByteaPP(rel));
		else
			stop_keeping(ts, t);
	}
	tributary_catalog_xact_end(us);
	MemoryContextSwitchTo(GetMemoryChunkContext(ts));
	return ts;
}

/*
 * keep_change: keep the next change of s's table (see sync_change.c).
 */
static void
keep_change(TributaryTableSync *ts, SyncTable *s, char kind, StringInfo data)
{
	tributary_sync_keep(ts->apply, s->table->id, s->next_seq, kind, data);
	s->next_seq++;
}

/*
 * tributary_table_sync_change: a row change of the stream, inside its
 * local transaction.  Returns true when it is not to be applied now: its
 * table is being copied (the change is kept) or waits for its copy (the
 * change is passed: the copy will hold it).
 */
bool
tributary_table_sync_change(TributaryTableSync *ts, char op, Oid relid,
							TribTuple *oldtuple, TribTuple *newtuple)
{
	TributaryTable *t;
	SyncTable  *s;
	StringInfoData buf;

	/* consecutive changes are mostly of one relation: look it up once */
	if (!ts->last_valid || ts->last_relid != relid)
	{
		ts->last_table = tributary_apply_table(ts->apply, relid);
		ts->last_relid = relid;
		ts->last_valid = true;
	}
	t = ts->last_table;
	if (t == NULL || (!t->resyncing && !t->buffering))
		return false;
	if (t->resyncing || (s = sync_of(ts, t)) == NULL)
		return true;
	initStringInfo(&buf);
	pq_sendint32(&buf, relid);
	tributary_sync_encode_tuple(&buf, op == TRIB_CHANGE_INSERT ? NULL : oldtuple);
	tributary_sync_encode_tuple(&buf, op == TRIB_CHANGE_DELETE ? NULL : newtuple);
	keep_change(ts, s, op, &buf);
	pfree(buf.data);
	return true;
}

/*
 * tributary_table_sync_truncate: a TRUNCATE of the stream, inside its
 * local transaction: the relations of tables being copied are kept (or
 * passed), the others' targets are emptied.
 */
void
tributary_table_sync_truncate(TributaryTableSync *ts, int nrelids, Oid *relids)
{
	Oid		   *left = palloc(sizeof(Oid) * Max(nrelids, 1));
	int			n = 0;

	for (int i = 0; i < nrelids; i++)
	{
		TributaryTable *t = tributary_apply_table(ts->apply, relids[i]);
		SyncTable  *s;

		if (t != NULL && t->buffering && (s = sync_of(ts, t)) != NULL)
		{
			StringInfoData buf;

			initStringInfo(&buf);
			pq_sendint32(&buf, relids[i]);
			keep_change(ts, s, 'T', &buf);
			pfree(buf.data);
		}
		else if (t == NULL || !t->resyncing)
			left[n++] = relids[i];
	}
	tributary_apply_truncate(ts->apply, n, left);
}

/*
 * restart_copy: a schema change of table t while it was copied: the copy
 * starts over (back to 'resync', in the local transaction of the change).
 */
static void
restart_copy(TributaryTableSync *ts, TributaryTable *t, const char *why)
{
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(t->id);
	TributaryUserSave us = tributary_catalog_enter();

	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute_with_args("UPDATE tributary.job_table SET jt_state = 'resync' "
							  "WHERE jt_id = $1 AND jt_state = 'sync'",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record that a copy starts over");
	SPI_finish();
	PopActiveSnapshot();
	tributary_catalog_leave(us);
	stop_keeping(ts, t);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" copies source table [%s.%s] again from the start: %s",
					ts->job->name, t->source_nsp, t->source_rel, why)));
}

/*
 * tributary_table_sync_relation: a relation definition of the stream,
 * inside its local transaction, after the ddl policy has seen it.  For a
 * table being copied it is kept (once per definition); a definition whose
 * columns differ from the last one kept restarts the copy.  keep false:
 * in a source transaction the job applied before (passed), only the
 * lookup of the last change's table is forgotten.
 */
void
tributary_table_sync_relation(TributaryTableSync *ts, TribRelation *rel, bool keep)
{
	TributaryTable *t = tributary_apply_table(ts->apply, rel->relid);
	SyncTable  *s;
	StringInfoData buf;
	StringInfoData columns;

	/* a relation may map to another table from now on */
	ts->last_valid = false;
	if (!keep)
		return;
	if (t == NULL || !t->buffering || (s = sync_of(ts, t)) == NULL)
		return;
	initStringInfo(&buf);
	tributary_sync_encode_relation(&buf, rel);
	if (s->last_rel.len == buf.len && memcmp(s->last_rel.data, buf.data, buf.len) == 0)
		return;					/* kept already (MySQL: before every rows event) */
	initStringInfo(&columns);
	tributary_sync_relation_columns(&columns, rel);
	if (s->columns.len > 0 && (ts->job->source->connector->caps & TRIB_CAP_RELATION_DDL) &&
		(columns.len != s->columns.len || memcmp(columns.data, s->columns.data, columns.len) != 0))
	{
		restart_copy(ts, t, "its columns changed");
		return;
	}
	keep_change(ts, s, 'R', &buf);
	remember_relation(s, buf.data, buf.len);
}

/*
 * keep_current_relation: the stream's definition of t's source relation
 * (from the apply's map: a PostgreSQL stream sends it once), kept as the
 * first change of its copy, in a transaction of its own.
 */
static void
keep_current_relation(TributaryTableSync *ts, TributaryTable *t)
{
	HASH_SEQ_STATUS status;
	ApplyRel   *ar;
	SyncTable  *s = sync_of(ts, t);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	hash_seq_init(&status, ts->apply->rels);
	while ((ar = hash_seq_search(&status)) != NULL)
	{
		TribRelation rel;
		StringInfoData buf;

		if (ar->table != t)
			continue;
		rel.relid = ar->source_relid;
		rel.nspname = t->source_nsp;
		rel.relname = t->source_rel;
		rel.replident = 'f';
		rel.natts = ar->nsource;
		rel.attrs = palloc0(sizeof(TribAttribute) * Max(ar->nsource, 1));
		for (int i = 0; i < ar->nsource; i++)
		{
			rel.attrs[i].name = ar->source_names[i];
			rel.attrs[i].typoid = ar->source_types[i];
			rel.attrs[i].typmod = ar->source_typmods[i];
			rel.attrs[i].flags = ar->source_is_key[i] ? TRIB_ATTR_KEY : 0;
		}
		initStringInfo(&buf);
		tributary_sync_encode_relation(&buf, &rel);
		keep_change(ts, s, 'R', &buf);
		remember_relation(s, buf.data, buf.len);
	}
	CommitTransactionCommand();
}

/*
 * tributary_table_sync_ddl: a DDL statement of the stream on table
 * ("schema.table"), handled by the ddl policy in this local transaction:
 * a table being copied starts its copy over.
 */
void
tributary_table_sync_ddl(TributaryTableSync *ts, const char *table, const char *kind)
{
	ListCell   *lc;

	foreach(lc, ts->tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);

		if (t->buffering && strcmp(table, psprintf("%s.%s", t->source_nsp, t->source_rel)) == 0)
		{
			restart_copy(ts, t, psprintf("a schema change (%s)", kind));
			return;
		}
	}
}

/*
 * look_for_requests: tables resync_table asked to copy again since the
 * stream began (jt_state 'resync') pass their changes from now on; one
 * the stream does not have was added to the job (add_table): the stream
 * starts again with it.
 */
static void
look_for_requests(TributaryTableSync *ts)
{
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(ts->job->id);
	TributaryUserSave us = tributary_catalog_xact_begin();

	if (SPI_execute_with_args("SELECT jt_id FROM tributary.job_table "
							  "WHERE jt_job_id = $1 AND jt_state = 'resync'",
							  1, &argtype, &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not look for tables to copy again");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		TributaryTable *t = table_by_id(ts, DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
																		 SPI_tuptable->tupdesc, 1, &isnull)));

		if (t == NULL)
			ts->added = true;
		else if (!list_member_ptr(ts->wanted, t))
		{
			stop_keeping(ts, t);
			ereport(LOG,
					(errmsg("pg_tributary job \"%s\" copies source table [%s.%s] again while it streams",
							ts->job->name, t->source_nsp, t->source_rel)));
		}
	}
	tributary_catalog_xact_end(us);
	ts->last_look = GetCurrentTimestamp();
}

/*
 * close_view: end the copy's view, if one is open.
 */
static void
close_view(TributaryTableSync *ts)
{
	if (ts->viewing == NULL)
		return;
	ts->viewing = NULL;
	ts->copy_job->source->connector->snapshot->end(ts->copy_job->source);
}

/*
 * open_view: open a view of the source for t's copy on the copy's own
 * connection (made at its first use).
 */
static void
open_view(TributaryTableSync *ts, TributaryTable *t)
{
	TributarySource *src;

	close_view(ts);
	if (ts->copy_job == NULL)
	{
		MemoryContext old = CurrentMemoryContext;

		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		/* the copy's job and connection live as long as this state */
		MemoryContextSwitchTo(ts->cxt);
		ts->copy_job = tributary_job_load(ts->job->id);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(ts->cxt);
		if (ts->copy_job == NULL || ts->copy_job->source == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("job was dropped")));
		ts->copy_job->source->job = ts->job->source->job;
		tributary_source_connect(ts->copy_job->source,
								 psprintf("pg_tributary job %s copy", ts->job->name));
		MemoryContextSwitchTo(old);
	}
	src = ts->copy_job->source;
	src->connector->snapshot->begin(src);
	ts->viewing = t;
}

/*
 * hand_to_next_run: t cannot be copied while the job streams: its next
 * run copies it before streaming (jt_state 'init', the generation bumped:
 * the launcher replaces this worker).  Its changes are passed meanwhile.
 */
static void
hand_to_next_run(TributaryTableSync *ts, TributaryTable *t, const char *why)
{
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(t->id);
	TributaryUserSave us = tributary_catalog_xact_begin();

	if (SPI_execute_with_args("SELECT tributary._copy_table_again($1, false)",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not hand a table to the job's next run");
	tributary_catalog_xact_end(us);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" copies source table [%s.%s] in its next run: %s",
					ts->job->name, t->source_nsp, t->source_rel, why)));
	ts->wanted = list_delete_ptr(ts->wanted, t);
	t->buffering = false;
	t->resyncing = true;
	tributary_wakeup_launcher_now();
}

/*
 * plan_copy: open the view of t's copy and plan it (snapshot.c); t's
 * changes are kept from now on.  Runs with no local transaction open and
 * the stream between source transactions, having passed every
 * transaction up to "passed": the view must hold them all (every change
 * the stream applied to t is in it, so emptying the target loses none).
 * A source that tells its view's exact position (MariaDB) is asked, and a
 * view that misses a transaction whose commit in the storage engine is
 * still under way is opened again a moment later; where the source does
 * not tell, the view, opened after the stream received those
 * transactions, is taken to hold them.
 */
static void
plan_copy(TributaryTableSync *ts, TributaryTable *t, XLogRecPtr passed)
{
	int			tries = 0;

	if (ts->apply->cascades != NIL)
	{
		hand_to_next_run(ts, t, "the source carries out foreign key actions among the job's tables");
		return;
	}
	for (;;)
	{
		TributarySource *src;
		XLogRecPtr	at;

		open_view(ts, t);
		src = ts->copy_job->source;
		if (src->connector->snapshot->view_position == NULL ||
			(at = src->connector->snapshot->view_position(src)) == InvalidXLogRecPtr ||
			at >= passed)
			break;
		close_view(ts);
		if (++tries == VIEW_TRIES)
		{
			ereport(LOG,
					(errmsg("pg_tributary job \"%s\" puts off the copy of source table [%s.%s]: its view is behind the stream",
							ts->job->name, t->source_nsp, t->source_rel)));
			return;				/* the next step tries again */
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, VIEW_RETRY_MS,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	/*
	 * The view may hold transactions the stream has not reached yet; the
	 * copy may even be finished before it does.  Until the stream passes
	 * the view (its exact position, or the source's end of log now, which
	 * every transaction in the view precedes), its transactions are
	 * applied idempotently, in this run and, through the job's catch-up
	 * bound, in the next ones.
	 */
	{
		TributarySource *src = ts->copy_job->source;
		XLogRecPtr	bound = InvalidXLogRecPtr;

		if (src->connector->snapshot->view_position != NULL)
			bound = src->connector->snapshot->view_position(src);
		if (bound == InvalidXLogRecPtr)
			bound = tributary_current_position(src);
		if (bound > ts->apply->idempotent_until)
		{
			tributary_snapshot_record_view(ts->job, bound);
			ts->apply->idempotent_until = bound;
		}
	}
	tributary_snapshot_plan_online(ts->copy_job, t, ts->tables);
	start_keeping(ts, t, 1, NULL);
	tributary_relmap_rebind(ts->apply, t);
	keep_current_relation(ts, t);
}

/*
 * finish_copy: every chunk of t is in: apply the changes kept for it,
 * forget them and let it stream, in one local transaction.
 */
static void
finish_copy(TributaryTableSync *ts, TributaryTable *t)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(t->id);
	uint64		streaming;
	TributaryUserSave us;

	close_view(ts);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, psprintf("applying the changes kept for %s.%s",
												   t->source_nsp, t->source_rel));
	tributary_sync_apply_kept(ts->apply, t);
	PushActiveSnapshot(GetTransactionSnapshot());
	us = tributary_catalog_enter();
	SPI_connect();
	if (SPI_execute_with_args("DELETE FROM tributary.sync_change WHERE sc_jt_id = $1",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("UPDATE tributary.job_table SET jt_state = 'streaming' "
							  "WHERE jt_id = $1 AND jt_state = 'sync'",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the end of a copy");
	streaming = SPI_processed;
	SPI_finish();
	tributary_catalog_leave(us);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(cxt);
	if (streaming == 1)
	{
		SyncTable  *s = sync_of(ts, t);

		ts->syncs = list_delete_ptr(ts->syncs, s);
		t->buffering = false;
		t->resyncing = false;
		ereport(LOG,
				(errmsg("pg_tributary job \"%s\" copied source table [%s.%s] while streaming; it streams now",
						ts->job->name, t->source_nsp, t->source_rel)));
	}
	else
		stop_keeping(ts, t);	/* asked for again meanwhile */
}

/*
 * tributary_table_sync_due: whether a step is due: a look for requests
 * every LOOK_INTERVAL_MS, and, while a table waits for or is in its copy,
 * a step whenever the stream is idle, else every STEP_PAUSE_MS.
 */
bool
tributary_table_sync_due(TributaryTableSync *ts, bool idle)
{
	TimestampTz now = GetCurrentTimestamp();

	if (TimestampDifferenceExceeds(ts->last_look, now, LOOK_INTERVAL_MS))
		return true;
	return (ts->wanted != NIL || ts->syncs != NIL) &&
		(idle || TimestampDifferenceExceeds(ts->last_step, now, STEP_PAUSE_MS));
}

/*
 * tributary_table_sync_step: one step, with no local transaction open and
 * the stream between source transactions, having passed every one up to
 * "passed": look for requests when due, then plan the copy of a table
 * that waits for one, or copy the next chunk of the table being copied,
 * or finish its copy.  Returns what is left (TABLE_SYNC_RELOAD: a table
 * was added to the job, the stream must start again).
 */
TributaryTableSyncLeft
tributary_table_sync_step(TributaryTableSync *ts, XLogRecPtr passed)
{
	MemoryContext cxt = CurrentMemoryContext;
	TributaryTable *t;

	Assert(!IsTransactionState());
	if (TimestampDifferenceExceeds(ts->last_look, GetCurrentTimestamp(), LOOK_INTERVAL_MS))
		look_for_requests(ts);
	MemoryContextSwitchTo(cxt);
	if (ts->added)
	{
		close_view(ts);
		return TABLE_SYNC_RELOAD;
	}
	ts->last_step = GetCurrentTimestamp();
	/* a table given to the job's next run meanwhile (ddl.c) is not copied here */
	while (ts->syncs != NIL && ((SyncTable *) linitial(ts->syncs))->table->resyncing)
		ts->syncs = list_delete_first(ts->syncs);
	if (ts->viewing != NULL && !ts->viewing->buffering)
		close_view(ts);

	if (ts->wanted != NIL)
	{
		/* a table waiting for its copy is planned first */
		t = (TributaryTable *) linitial(ts->wanted);
		plan_copy(ts, t, passed);
	}
	else if (ts->syncs != NIL)
	{
		t = ((SyncTable *) linitial(ts->syncs))->table;
		if (ts->viewing != t)
			open_view(ts, t);
		if (!tributary_snapshot_copy_one(ts->copy_job, t, NULL))
			finish_copy(ts, t);
	}
	MemoryContextSwitchTo(cxt);
	return (ts->wanted != NIL || ts->syncs != NIL) ? TABLE_SYNC_MORE : TABLE_SYNC_DONE;
}

/*
 * tributary_table_sync_copies: whether table ("schema.table") waits for
 * or is in a copy while the job streams (a followed table's CREATE TABLE,
 * met again after it was added, is before its copy's view).
 */
bool
tributary_table_sync_copies(TributaryTableSync *ts, const char *table)
{
	ListCell   *lc;

	foreach(lc, ts->tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);

		if ((list_member_ptr(ts->wanted, t) || t->buffering) &&
			strcmp(table, psprintf("%s.%s", t->source_nsp, t->source_rel)) == 0)
			return true;
	}
	return false;
}

/*
 * tributary_table_sync_close: close the copy's connection (the stream
 * ends, or its attempt failed).
 */
void
tributary_table_sync_close(void)
{
	TributaryTableSync *ts = current_sync;

	current_sync = NULL;
	if (ts == NULL || ts->copy_job == NULL)
		return;
	ts->viewing = NULL;
	tributary_source_disconnect(ts->copy_job->source);
	ts->copy_job = NULL;
}
