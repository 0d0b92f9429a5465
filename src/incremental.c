/*-------------------------------------------------------------------------
 *
 * incremental.c
 *		Job mode incremental: query-based polling of each table by an
 *		ascending column, for sources whose logs cannot be read.
 *
 * Every table of the job names an incremental column (add_table's
 * incremental_column, or the job option of that name): a column whose
 * value grows with every insert and update (updated_at, an id).  The
 * worker reads each table in the order of (incremental column, primary
 * key), a page of poll_batch_rows rows at a time, and upserts the rows
 * into the target; the poll key of the page's last row is committed in
 * the same local transaction as the rows (jt_incremental_last), so a
 * restart resumes exactly after what was applied.
 *
 * Ties.  A cycle's first page of a table reads again every row whose
 * incremental column equals the last value applied (">="): rows committed
 * late with that same value (two updates in one second of a timestamp
 * column) are not lost.  Later pages of the cycle continue strictly after
 * the page before, so a value shared by more rows than a page holds still
 * makes progress.  Rows read again unchanged are not written again (the
 * apply engine skips an upsert of an identical row).
 *
 * Each page is read in one consistent view of the source (the snapshot
 * methods' begin and end): its upper bound and its rows agree.
 *
 * What polling cannot see: deleted rows, rows whose incremental column
 * did not grow (or went back), and rows a transaction commits after a
 * poll passed its value.  docs/incremental.md says so, and check_source.
 *
 * A table in state 'init' (new, or resync_table) is read from its first
 * row into an emptied target: the target is emptied in the transaction of
 * the first page.
 *
 * wait_for_sync: a cycle over every table that began after the call
 * satisfies it (tributary_worker_parts_seen).  Each cycle first adds the
 * tables a followed add_tables rule matches (follow.c); the launcher then
 * replaces the worker, whose next run polls them too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "apply/apply.h"
#include "apply/copy_in.h"
#include "follow.h"
#include "incremental.h"
#include "pg_tributary.h"
#include "security.h"
#include "source/keyset.h"

/* a table being polled */
typedef struct PollTable
{
	TributaryTable *table;		/* the job's */
	/* a copy keyed by (incremental column, primary key): keyset queries read it */
	TributaryTable *keyed;
	TribRelation rel;			/* the copied columns, as the apply engine reads them */
	char	   *last;			/* poll key of the last row applied, or NULL */
	bool		init;			/* copy from the first row into an emptied target */
	char	   *context;		/* "source table [s.t] into t" for error contexts */
} PollTable;

/* what the error context names */
typedef struct PollErrorArg
{
	TributaryJob *job;
	PollTable  *pt;
} PollErrorArg;

/*
 * poll_error_context: name the job and the table being polled.
 */
static void
poll_error_context(void *arg)
{
	PollErrorArg *e = (PollErrorArg *) arg;

	if (e->pt)
		errcontext("pg_tributary job \"%s\": incremental poll of %s", e->job->name, e->pt->context);
}

/*
 * poll_table_make: the polling state of one job table.
 */
static PollTable *
poll_table_make(TributaryTable *t)
{
	PollTable  *pt = palloc0(sizeof(PollTable));
	ListCell   *lc;

	if (t->incremental_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source table [%s.%s] of job \"%s\" has no incremental column",
						t->source_nsp, t->source_rel, t->job_name),
				 errhint("Remove the table and add it again with incremental_column.")));
	pt->table = t;
	pt->keyed = palloc(sizeof(TributaryTable));
	*pt->keyed = *t;
	/* the keyed copy's own process-local state: the connector caches on it */
	pt->keyed->source_from = NULL;
	/* negative: the MySQL connector caches per-table key types by id */
	pt->keyed->id = -t->id;
	pt->keyed->key_columns = list_make1(t->incremental_column);
	foreach(lc, t->key_columns)
		if (strcmp((char *) lfirst(lc), t->incremental_column) != 0)
			pt->keyed->key_columns = lappend(pt->keyed->key_columns, lfirst(lc));

	pt->rel.relid = (Oid) t->id;
	pt->rel.nspname = t->source_nsp;
	pt->rel.relname = t->source_rel;
	pt->rel.replident = 'f';
	pt->rel.natts = t->nread;
	pt->rel.attrs = palloc0(sizeof(TribAttribute) * Max(t->nread, 1));
	for (int i = 0; i < t->nread; i++)
	{
		pt->rel.attrs[i].name = t->read[i].name;
		pt->rel.attrs[i].typoid = InvalidOid;	/* values come as text */
		pt->rel.attrs[i].typmod = -1;
		foreach(lc, t->key_columns)
			if (strcmp((char *) lfirst(lc), t->read[i].name) == 0)
				pt->rel.attrs[i].flags |= TRIB_ATTR_KEY;
	}
	pt->last = t->incremental_last;
	pt->init = (strcmp(t->state, "init") == 0 || strcmp(t->state, "snapshot") == 0);
	pt->context = psprintf("source table [%s.%s] into %s", t->source_nsp, t->source_rel,
						   quote_qualified_identifier(t->target_nsp, t->target_rel));
	return pt;
}

/*
 * tributary_copy_text_row: split one COPY text row (without its newline)
 * into natts values, in place; \N is NULL.  A row with another number of
 * fields is an error: the source sent what the job did not ask for.
 */
void
tributary_copy_text_row(char *line, int len, TribTuple *tuple, const char *table)
{
	int			field = 0;
	int			start = 0;

	for (int i = 0; i <= len; i++)
	{
		TribValue  *v;

		if (i < len && line[i] != '\t')
			continue;
		if (field >= tuple->natts)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("a row read from source table [%s] has more than %d columns", table, tuple->natts)));
		v = &tuple->values[field++];
		if (i - start == 2 && line[start] == '\\' && line[start + 1] == 'N')
		{
			v->kind = TRIB_VALUE_NULL;
			v->len = 0;
			v->data = NULL;
		}
		else
		{
			v->kind = TRIB_VALUE_TEXT;
			v->data = line + start;
			v->len = tributary_copy_unescape(line + start, i - start);
		}
		start = i + 1;
	}
	if (field != tuple->natts)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("a row read from source table [%s] has %d columns, expected %d",
						table, field, tuple->natts)));
}

/*
 * poll_apply_rows: upsert the rows the connector hands out (COPY text,
 * whole or partial rows per block) into the target.  Returns how many.
 */
static int64
poll_apply_rows(TributarySource *src, TributaryApplyState *apply, PollTable *pt)
{
	StringInfoData pending;
	TribTuple	tuple;
	int64		rows = 0;
	char	   *buf;
	int			len;

	initStringInfo(&pending);
	tuple.natts = pt->rel.natts;
	tuple.values = palloc0(sizeof(TribValue) * Max(tuple.natts, 1));
	while ((len = src->connector->snapshot->copy_read(src, &buf)) >= 0)
	{
		int			start = 0;

		appendBinaryStringInfo(&pending, buf, len);
		for (int i = 0; i < pending.len; i++)
		{
			if (pending.data[i] != '\n')
				continue;
			tributary_copy_text_row(pending.data + start, i - start, &tuple, pt->context);
			tributary_apply_change(apply, TRIB_CHANGE_INSERT, pt->rel.relid, NULL, &tuple);
			rows++;
			start = i + 1;
		}
		/* keep a partial row for the next block */
		memmove(pending.data, pending.data + start, pending.len - start);
		pending.len -= start;
		pending.data[pending.len] = '\0';
		CHECK_FOR_INTERRUPTS();
	}
	if (pending.len > 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("the rows read from source table [%s.%s] end in the middle of a row",
						pt->table->source_nsp, pt->table->source_rel)));
	pfree(pending.data);
	return rows;
}

/*
 * poll_commit: record the page's last poll key (and, for a table read from
 * its first row, its new state) with the page's rows, and commit.
 */
static void
poll_commit(TributaryApplyState *apply, PollTable *pt, const char *upper)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', upper ? ' ' : 'n'};
	TributaryUserSave us;

	tributary_apply_end_xact(apply);
	PushActiveSnapshot(GetTransactionSnapshot());
	tributary_apply_flush_counters(apply);
	args[0] = Int32GetDatum(pt->table->id);
	args[1] = upper ? CStringGetTextDatum(upper) : (Datum) 0;
	us = tributary_catalog_enter();
	SPI_connect();
	if (SPI_execute_with_args("UPDATE tributary.job_table SET jt_incremental_last = coalesce($2, jt_incremental_last), "
							  "jt_state = 'streaming' WHERE jt_id = $1",
							  2, types, args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the incremental position");
	SPI_finish();
	tributary_catalog_leave(us);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
}

/*
 * poll_page: read and apply one page of a table: the rows "where" selects
 * up to the poll_rows-th in poll key order, in one view of the source.
 * Returns how many rows the page held; *upper is its last poll key (NULL:
 * none).
 */
static int64
poll_page(TributaryJob *job, TributaryApplyState *apply, PollTable *pt, const char *where,
		  char **upper)
{
	TributarySource *src = job->source;
	const TributaryPollMethods *poll = src->connector->poll;
	const TributaryKeysetDialect *d = poll->keyset;
	int64		rows = 0;

	src->connector->snapshot->begin(src);
	*upper = poll->bound_query(src, pt->keyed,
							   tributary_keyset_nth_sql(d, src, pt->keyed, where, job->poll_rows, false));
	if (*upper == NULL)
		*upper = poll->bound_query(src, pt->keyed,
								   tributary_keyset_nth_sql(d, src, pt->keyed, where, 0, true));

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (pt->init)
	{
		/* the first page of a table read from its first row: into an emptied target */
		PushActiveSnapshot(GetTransactionSnapshot());
		tributary_truncate_target(pt->table, apply->tables);
		PopActiveSnapshot();
	}
	if (*upper != NULL)
	{
		poll->rows_begin(src, pt->keyed,
						 psprintf("%s%s%s", where, where[0] ? " AND " : " WHERE ",
								  tributary_keyset_bound(d, src, pt->keyed, "<=", *upper)));
		rows = poll_apply_rows(src, apply, pt);
	}
	src->connector->snapshot->end(src);
	if (*upper != NULL || pt->init)
		poll_commit(apply, pt, *upper);
	else
		CommitTransactionCommand();
	pt->init = false;
	return rows;
}

/*
 * poll_table: one cycle over a table: from the rows at its last value on
 * (ties read again), page after page until a page is not full.  Returns
 * how many rows it read.
 */
static int64
poll_table(TributaryJob *job, TributaryApplyState *apply, PollTable *pt,
		   MemoryContext page_cxt, void (*count_rows) (int64 rows))
{
	TributarySource *src = job->source;
	const TributaryKeysetDialect *d = src->connector->poll->keyset;
	MemoryContext old = MemoryContextSwitchTo(page_cxt);
	char	   *after = NULL;
	int64		total = 0;

	for (;;)
	{
		char	   *where;
		char	   *upper;
		int64		rows;
		int64		written = apply->changes;

		if (after)
			where = tributary_keyset_where(d, src, pt->keyed, after, NULL);
		else if (pt->last && !pt->init)
			where = psprintf(" WHERE %s", tributary_keyset_at_least(d, src, pt->keyed, pt->last));
		else
			where = "";
		rows = poll_page(job, apply, pt, where, &upper);
		/* the keys live on in the worker's memory, the page's SQL does not */
		MemoryContextSwitchTo(old);
		if (upper)
		{
			/* one copy per table, replaced page after page: a job polls for months */
			char	   *prev = pt->last;

			pt->last = pstrdup(upper);
			after = pt->last;
			if (prev && prev != pt->table->incremental_last)
				pfree(prev);
		}
		MemoryContextReset(page_cxt);
		total += rows;
		/* rows written, not rows read again unchanged */
		written = apply->changes - written;
		if (count_rows && written > 0)
			count_rows(written);
		if (rows < job->poll_rows || ShutdownRequestPending)
			break;
		MemoryContextSwitchTo(page_cxt);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(old);
	return total;
}

/*
 * tributary_incremental_run: poll every table of the job, every
 * poll_interval, until a stop request.  A wait_for_sync call (sync
 * requested) starts the next cycle at once.
 */
void
tributary_incremental_run(TributaryJob *job, List *tables, void (*count_rows) (int64 rows),
						  bool (*sync_requested) (void))
{
	TributarySource *src = job->source;
	MemoryContext page_cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary incremental page",
												   ALLOCSET_DEFAULT_SIZES);
	TributaryApplyState *apply;
	List	   *polled = NIL;
	ListCell   *lc;
	PollErrorArg errarg = {job, NULL};
	ErrorContextCallback errcb;

	if (src->connector->poll == NULL || src->connector->snapshot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("incremental polling of %s sources is not supported", src->cfg.kind),
				 errdetail("Job \"%s\" reads source \"%s\".", job->name, src->cfg.name)));

	apply = tributary_apply_create(job, tables);
	apply->idempotent = true;
	foreach(lc, tables)
	{
		PollTable  *pt = poll_table_make((TributaryTable *) lfirst(lc));

		polled = lappend(polled, pt);
		tributary_apply_relation(apply, &pt->rel);
	}

	errcb.callback = poll_error_context;
	errcb.arg = &errarg;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	while (!ShutdownRequestPending)
	{
		TimestampTz began = GetCurrentTimestamp();
		bool		added;

		pgstat_report_activity(STATE_RUNNING, "polling the source");
		/*
		 * tables created that a followed rule matches: the launcher
		 * replaces this worker, whose successor polls them too (until then
		 * this cycle does not count for wait_for_sync)
		 */
		added = tributary_follow_scan(job) > 0;
		foreach(lc, polled)
		{
			errarg.pt = (PollTable *) lfirst(lc);
			(void) poll_table(job, apply, errarg.pt, page_cxt, count_rows);
			if (ShutdownRequestPending)
				break;
		}
		errarg.pt = NULL;
		if (ShutdownRequestPending)
			break;
		/* every table was read to its end: the target has what the source had when the cycle began */
		if (!added)
			tributary_worker_parts_seen(began);
		pgstat_report_activity(STATE_IDLE, NULL);

		/* wait poll_interval, unless wait_for_sync asks for a cycle now */
		while (!ShutdownRequestPending && !(sync_requested && sync_requested()))
		{
			long		left = job->poll_ms - TimestampDifferenceMilliseconds(began, GetCurrentTimestamp());

			if (left <= 0)
				break;
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 left, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			if (ConfigReloadPending)
			{
				ConfigReloadPending = false;
				ProcessConfigFile(PGC_SIGHUP);
			}
		}
	}
	error_context_stack = errcb.previous;
}
