/*-------------------------------------------------------------------------
 *
 * part_watch.c
 *		Partitions attached to or detached from a partitioned source table
 *		while a job streams it.
 *
 * ALTER TABLE ... ATTACH PARTITION brings the rows the attached table
 * already held into the partitioned table; DETACH PARTITION and DROP of a
 * partition take its rows out.  Neither writes a change to the source's
 * log, so a job streaming the partitioned table would silently diverge.
 * The job records a table's leaves (the connector's parts method) in the
 * view its copy reads, jt_source_parts, and its stream compares them with
 * the source's current leaves every heartbeat_interval while idle.  A
 * leaf created as a partition is recorded quietly (every row it holds
 * arrived as a change); an attached leaf (attach_partition) or a leaf gone
 * (detach_partition) is handed to the job's ddl policy (ddl.c): error
 * stops the job, apply copies the table again, alert and ignore go on.
 * A job that copied nothing (cdc) records the leaves at its first check.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "ddl.h"
#include "part_watch.h"
#include "pg_tributary.h"
#include "source/connector.h"

/*
 * part_cmp: qsort order of TributaryPart pointers, by id.
 */
static int
part_cmp(const void *a, const void *b)
{
	return strcmp((*(TributaryPart *const *) a)->id, (*(TributaryPart *const *) b)->id);
}

/*
 * parts_text: the ids of parts, sorted, comma-separated: the form
 * jt_source_parts keeps (ids hold digits and slashes only).
 */
static char *
parts_text(List *parts)
{
	int			n = list_length(parts);
	TributaryPart **arr = palloc(sizeof(TributaryPart *) * Max(n, 1));
	StringInfoData buf;

	for (int i = 0; i < n; i++)
		arr[i] = (TributaryPart *) list_nth(parts, i);
	qsort(arr, n, sizeof(TributaryPart *), part_cmp);
	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? "," : "", arr[i]->id);
	pfree(arr);
	return buf.data;
}

/*
 * id_listed: whether the comma-separated list holds id.
 */
static bool
id_listed(const char *list, const char *id)
{
	size_t		len = strlen(id);

	for (const char *p = list; *p;)
	{
		const char *end = strchr(p, ',');
		size_t		n = end ? (size_t) (end - p) : strlen(p);

		if (n == len && strncmp(p, id, len) == 0)
			return true;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return false;
}

/*
 * tributary_parts_current: t's leaves in the source connection's current
 * view in jt_source_parts' form ('-' when t is not partitioned), or NULL
 * when the source kind has no partitions to watch.
 */
char *
tributary_parts_current(TributarySource *src, TributaryTable *t)
{
	bool		partitioned;
	List	   *parts;

	if (src->connector->stream == NULL || src->connector->stream->parts == NULL)
		return NULL;
	parts = src->connector->stream->parts(src, t, &partitioned);
	return partitioned ? parts_text(parts) : pstrdup("-");
}

/*
 * tributary_table_id_current: t's identity on the source in the source
 * connection's current view ('0' when it does not exist), or NULL when
 * the source kind cannot tell.
 */
char *
tributary_table_id_current(TributarySource *src, TributaryTable *t)
{
	List	   *ids;

	if (src->connector->stream == NULL || src->connector->stream->table_ids == NULL)
		return NULL;
	ids = src->connector->stream->table_ids(src, list_make1(t));
	return linitial(ids) ? (char *) linitial(ids) : pstrdup("0");
}

/*
 * set_parts: remember t's leaves in the worker's copy of the table.
 */
static void
set_parts(TributaryTable *t, const char *parts)
{
	char	   *old = t->source_parts;

	t->source_parts = parts ? MemoryContextStrdup(GetMemoryChunkContext(t), parts) : NULL;
	if (old)
		pfree(old);
}

/*
 * parts_change: what changed between the recorded leaves and the current
 * ones: the first leaf attached (not created as a partition) or gone, as
 * a ddl kind and a statement for messages; NULL when only leaves created
 * as partitions came.
 */
static const char *
parts_change(TributaryTable *t, List *parts, char **statement)
{
	ListCell   *lc;
	const char *p;

	foreach(lc, parts)
	{
		TributaryPart *part = (TributaryPart *) lfirst(lc);

		if (!part->created && !id_listed(t->source_parts, part->id))
		{
			*statement = psprintf("table [%s] was attached as a partition after the job read the table; rows it held before were never changes the job could see",
								  part->name);
			return "attach_partition";
		}
	}
	for (p = t->source_parts; *p;)
	{
		const char *end = strchr(p, ',');
		char	   *id = end ? pnstrdup(p, end - p) : pstrdup(p);
		bool		found = false;

		foreach(lc, parts)
			if (strcmp(((TributaryPart *) lfirst(lc))->id, id) == 0)
				found = true;
		if (!found)
		{
			*statement = psprintf("a partition (OID %.*s) was detached or dropped; the rows it held are still on the target",
								  (int) strcspn(id, "/"), id);
			return "detach_partition";
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return NULL;
}

/*
 * act: hand a change of job table t seen outside the log to the job's ddl
 * policy in a transaction of its own (tributary_ddl_parts, which records
 * value in catalog column "column"; a NULL kind only records it).
 * Returns false when the table is to be copied again: the launcher, woken
 * here, replaces this worker.
 */
static bool
act(TributaryApplyState *apply, TributaryTable *t, const char *kind, const char *statement,
	XLogRecPtr position, const char *column, const char *value, bool copy_on_apply)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		copy;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	copy = tributary_ddl_parts(apply, t, kind, statement, position, column, value, copy_on_apply);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	if (copy)
		tributary_wakeup_launcher_now();
	return !copy;
}

/*
 * ids_watch: compare each table's identity on the source with the one the
 * job recorded: a table dropped, or dropped and created again under its
 * name (the WAL says neither), is drop_table for the job's ddl policy;
 * apply copies a table created again.  Returns false when a table is to
 * be copied again.
 */
static bool
ids_watch(TributaryApplyState *apply, List *tables, XLogRecPtr position)
{
	TributarySource *src = apply->job->source;
	List	   *ids = src->connector->stream->table_ids(src, tables);
	bool		settled = true;
	ListCell   *lt;
	ListCell   *li;

	forboth(lt, tables, li, ids)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lt);
		const char *now = lfirst(li) ? (const char *) lfirst(li) : "0";
		const char *kind = NULL;
		const char *statement = NULL;
		bool		copy = false;
		char	   *old = t->source_oid;

		if (t->source_oid != NULL && strcmp(now, t->source_oid) == 0)
			continue;
		if (t->source_oid != NULL)
		{
			kind = "drop_table";
			if (lfirst(li) == NULL)
				statement = "the table was dropped or renamed; the target keeps its rows";
			else
			{
				statement = strcmp(t->source_oid, "0") == 0
					? "the table was created again under its name; the target holds the dropped table's rows"
					: "the table was dropped and created again under its name; the target holds the dropped table's rows";
				copy = true;
			}
		}
		if (!act(apply, t, kind, statement, position, "jt_source_oid", now, copy))
			settled = false;
		t->source_oid = MemoryContextStrdup(GetMemoryChunkContext(t), now);
		if (old)
			pfree(old);
	}
	return settled;
}

/*
 * tributary_parts_watch: compare every table's identity (ids_watch) and
 * the leaves of every partitioned table of the stream with what the job
 * recorded, and act on a change by the job's ddl policy (at source
 * position "position", the last one received).
 * Called between transactions; each table's outcome commits on its own.
 * Returns false when a table is to be copied again (the launcher then
 * replaces this worker, which streams on until it does).
 */
bool
tributary_parts_watch(TributaryApplyState *apply, List *tables, XLogRecPtr position)
{
	TributarySource *src = apply->job->source;
	ListCell   *lc;
	bool		settled = true;

	if (src->connector->stream == NULL)
		return true;
	if (src->connector->stream->table_ids)
		settled = ids_watch(apply, tables, position);
	if (src->connector->stream->parts == NULL)
		return settled;
	foreach(lc, tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);
		bool		partitioned;
		List	   *parts;
		char	   *now;
		const char *kind = NULL;
		char	   *statement = NULL;

		if (t->source_parts && strcmp(t->source_parts, "-") == 0)
			continue;
		CHECK_FOR_INTERRUPTS();
		parts = src->connector->stream->parts(src, t, &partitioned);
		if (!partitioned && t->source_parts != NULL)
			continue;			/* dropped: the stream tells */
		now = partitioned ? parts_text(parts) : pstrdup("-");
		if (t->source_parts != NULL)
		{
			if (strcmp(now, t->source_parts) == 0)
				continue;
			kind = parts_change(t, parts, &statement);
		}

		if (!act(apply, t, kind, statement, position, "jt_source_parts", now, true))
			settled = false;
		set_parts(t, now);
	}
	return settled;
}
