/*-------------------------------------------------------------------------
 *
 * stream.c
 *		The change-capture phase of a job: read the source's change
 *		stream, apply it through the apply engine, and commit the source
 *		position in the same local transaction as the rows it covers.
 *
 * Transactions.  Source transactions are applied in commit order.  Several
 * of them share one local transaction: it is committed on a source
 * transaction boundary when the stream has nothing more buffered, when
 * execution.checkpointing.interval has passed since it began, or when it
 * holds many changes.  Every local commit writes a tributary.checkpoint
 * row with the end position of the last source transaction it includes
 * (older rows beyond state.checkpoints.num-retained are deleted in the same
 * transaction).  A source transaction without changes for the job opens no
 * local transaction.
 *
 * Durability and feedback.  Apply transactions commit with
 * synchronous_commit = off.  After each local commit the pair (local
 * commit end, source end position) is remembered; the source is told a
 * flush position only once the local WAL is flushed past the local commit
 * (as PostgreSQL's apply worker does).  When nothing is pending the
 * position the source last reported is confirmed: everything before it
 * was applied durably or held nothing for the job.  Keepalives never
 * advance the confirmed position past an unapplied transaction.
 *
 * Catch-up.  Source transactions that committed at or before the job's
 * catchup_until position (the source position when the last snapshot
 * chunk was read) may already be in the target: they are applied
 * idempotently (phase 'catchup').  Later ones are applied strictly (phase
 * 'streaming').
 *
 * Exactly once.  The stream restarts after the last checkpoint; a source
 * transaction whose commit is not after it is skipped.
 *
 * Idle jobs.  When nothing is pending and the source's position has moved
 * past the last checkpoint (changes of other tables, a binlog rotation),
 * a checkpoint of that position is written every IDLE_CHECKPOINT_FACTOR
 * checkpoint intervals: a restart then does not read what it already
 * passed, and a MySQL job never points at binlog files the server may
 * have purged.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "apply/apply.h"
#include "apply/relmap.h"
#include "ddl.h"
#include "follow.h"
#include "held_xact.h"
#include "part_watch.h"
#include "pg_tributary.h"
#include "security.h"
#include "stream.h"
#include "table_sync.h"

#define MAX_CHANGES_PER_COMMIT	100000
#define FEEDBACK_INTERVAL_MS	1000
/* source messages (events) decoded per stream_poll call */
#define POLL_BUDGET				64
/* an idle job writes its position every this many checkpoint intervals */
#define IDLE_CHECKPOINT_FACTOR	10

static SPIPlanPtr checkpoint_plan = NULL;

typedef struct FlushPosition
{
	XLogRecPtr	local_end;
	XLogRecPtr	remote_end;
} FlushPosition;

typedef struct StreamState
{
	TributaryJob *job;
	TributarySource *src;
	TributaryApplyState *apply;
	TributaryTableSync *sync;	/* tables copied while the job streams */
	TributaryStreamProgress progress;
	bool		always_idempotent;	/* cdc jobs: the target was not copied by us */
	XLogRecPtr	catchup_until;
	bool		caught_up;		/* past catchup_until; tables marked streaming */
	XLogRecPtr	committed;		/* end of the last source transaction locally committed */
	XLogRecPtr	pending_end;	/* end of the last one in the open local transaction */
	TimestampTz pending_commit_ts;
	StringInfoData pending_text;	/* the connector's text of pending_text_pos, or "" */
	XLogRecPtr	pending_text_pos;	/* pending_end when it was set by a commit */
	XLogRecPtr	latest_pos;		/* the last position the connector gave a text for */
	StringInfoData latest_text; /* that text */
	XLogRecPtr	idle_end;		/* end of the last source transaction without changes */
	XLogRecPtr	received;		/* the source's position, as last reported */
	XLogRecPtr	source_end;		/* the source's end of log, as last asked */
	TimestampTz end_asked_at;
	XLogRecPtr	durable;		/* confirmed to the source */
	bool		in_remote_xact;
	bool		skip_xact;		/* already applied before a restart */
	bool		reload;			/* the job's tables changed: start again */
	TimestampTz local_xact_start;
	FlushPosition *flushes;		/* local commits not yet known durable */
	int			nflushes;
	int			maxflushes;
	TimestampTz last_feedback;
	TimestampTz last_checkpoint;	/* last local commit with a checkpoint */
	TimestampTz last_beat;		/* last keepalive request of an idle stream */
	TimestampTz last_watch;		/* last check of partitioned tables' leaves */
	int			checkpoint_ms;
	int			num_retained;
	int64		checkpoint_seq; /* number of the last checkpoint written */
} StreamState;


/*
 * ensure_local_xact: open the local transaction that applied changes go
 * into, if none is open.
 */
static void
ensure_local_xact(StreamState *st)
{
	if (IsTransactionState())
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	st->local_xact_start = GetCurrentTimestamp();
	st->apply->changes = 0;
}

/*
 * checkpoint_text: the text a checkpoint at pos records: what the
 * connector said of that position with its commit or advance, else the
 * kind's plain text of it.
 */
static const char *
checkpoint_text(StreamState *st, XLogRecPtr pos)
{
	if (pos == st->pending_text_pos && st->pending_text.len > 0)
		return st->pending_text.data;
	if (pos == st->latest_pos && st->latest_text.len > 0)
		return st->latest_text.data;
	return tributary_position_out(st->src, pos);
}

/*
 * remember_text: the connector's text of a position it reported.
 */
static void
remember_text(StreamState *st, XLogRecPtr pos, const char *text)
{
	resetStringInfo(&st->latest_text);
	if (text)
		appendStringInfoString(&st->latest_text, text);
	st->latest_pos = pos;
}

/*
 * write_checkpoint: the position row of a local commit, written over the
 * oldest of the job's state.checkpoints.num-retained rows.
 */
static void
write_checkpoint(StreamState *st)
{
	Oid			argtypes[5] = {INT4OID, INT4OID, INT8OID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[5];
	char		nulls[6] = "    n";
	TributaryUserSave us;

	st->checkpoint_seq++;
	args[0] = Int32GetDatum(st->job->id);
	args[1] = Int32GetDatum((int32) (st->checkpoint_seq % st->num_retained));
	args[2] = Int64GetDatum(st->checkpoint_seq);
	args[3] = CStringGetTextDatum(checkpoint_text(st, st->pending_end));
	args[4] = TimestampTzGetDatum(st->pending_commit_ts);
	us = tributary_catalog_enter();
	SPI_connect();
	/* planned once per process: thousands of local commits a second write this */
	if (checkpoint_plan == NULL)
	{
		checkpoint_plan = SPI_prepare("INSERT INTO tributary.checkpoint (cp_job_id, cp_slot, cp_seq, cp_position, cp_source_commit_at) "
									  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (cp_job_id, cp_slot) DO UPDATE SET "
									  "cp_seq = excluded.cp_seq, cp_position = excluded.cp_position, "
									  "cp_committed_at = now(), cp_source_commit_at = excluded.cp_source_commit_at",
									  5, argtypes);
		if (checkpoint_plan == NULL || SPI_keepplan(checkpoint_plan) != 0)
			elog(ERROR, "could not prepare the checkpoint statement");
	}
	/* an idle checkpoint before any applied transaction has no commit time */
	if (st->pending_commit_ts != 0)
		nulls[4] = ' ';
	if (SPI_execute_plan(checkpoint_plan, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write the checkpoint");
	SPI_finish();
	tributary_catalog_leave(us);
}

/*
 * mark_caught_up: the stream passed every snapshot read: tables in
 * catch-up are now streaming.  Runs in the local transaction.
 */
static void
mark_caught_up(StreamState *st)
{
	Oid			argtype = INT4OID;
	Datum		arg = Int32GetDatum(st->job->id);
	TributaryUserSave us = tributary_catalog_enter();

	SPI_connect();
	/*
	 * a table of a copying job in 'init' waits for a copy (resync_table,
	 * or a change that asked for one): it is not caught up
	 */
	SPI_execute_with_args(st->always_idempotent
						  ? "UPDATE tributary.job_table SET jt_state = 'streaming' "
						  "WHERE jt_job_id = $1 AND jt_state IN ('init', 'snapshot', 'catchup')"
						  : "UPDATE tributary.job_table SET jt_state = 'streaming' "
						  "WHERE jt_job_id = $1 AND jt_state IN ('snapshot', 'catchup')",
						  1, &argtype, &arg, NULL, false, 0);
	SPI_finish();
	tributary_catalog_leave(us);
	st->caught_up = true;
}

/* how often the source is asked for its end of log, for the lag */
#define SOURCE_END_INTERVAL_MS	1000

/*
 * reported_end: the source position progress reports show: the later of
 * what the stream reported and the source's end of log, so the lag counts
 * what the source has and the job has not applied, not only what it
 * received.
 */
static XLogRecPtr
reported_end(StreamState *st)
{
	return Max(st->received, st->source_end);
}

/*
 * ask_source_end: every SOURCE_END_INTERVAL_MS, the source's current end
 * of log over the normal connection (the stream has its own).
 */
static void
ask_source_end(StreamState *st)
{
	TimestampTz now = GetCurrentTimestamp();

	if (st->src->conn == NULL ||
		!TimestampDifferenceExceeds(st->end_asked_at, now, SOURCE_END_INTERVAL_MS))
		return;
	st->source_end = tributary_current_position(st->src);
	st->end_asked_at = now;
}

/*
 * local_commit: commit the open local transaction with its checkpoint.
 */
static void
local_commit(StreamState *st)
{
	if (!IsTransactionState())
		return;
	Assert(!st->in_remote_xact);
	tributary_apply_end_xact(st->apply);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (st->pending_end > st->committed)
		write_checkpoint(st);
	tributary_apply_flush_counters(st->apply);
	if (!st->caught_up && st->pending_end > st->catchup_until)
		mark_caught_up(st);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);

	if (st->pending_end > st->committed)
	{
		if (st->nflushes == st->maxflushes)
		{
			st->maxflushes *= 2;
			st->flushes = repalloc(st->flushes, sizeof(FlushPosition) * st->maxflushes);
		}
		st->flushes[st->nflushes].local_end = XactLastCommitEnd;
		st->flushes[st->nflushes].remote_end = st->pending_end;
		st->nflushes++;
		st->committed = st->pending_end;
		st->last_checkpoint = GetCurrentTimestamp();
	}
	if (st->progress)
		st->progress(st->committed > st->idle_end ? st->committed : st->idle_end,
					 reported_end(st), st->apply->changes, st->pending_commit_ts,
					 st->caught_up ? "streaming" : "catchup");
	st->apply->changes = 0;
}

/*
 * send_feedback: report the written and durably applied positions, at
 * most once a second unless forced.
 */
static void
send_feedback(StreamState *st, bool force, bool reply_requested)
{
	XLogRecPtr	flushed = GetFlushRecPtr(NULL);
	TimestampTz now = GetCurrentTimestamp();
	int			keep = 0;

	for (int i = 0; i < st->nflushes; i++)
	{
		if (st->flushes[i].local_end <= flushed)
		{
			if (st->flushes[i].remote_end > st->durable)
				st->durable = st->flushes[i].remote_end;
		}
		else
			st->flushes[keep++] = st->flushes[i];
	}
	st->nflushes = keep;

	/* idle: everything up to what the source reported is applied or empty */
	if (st->nflushes == 0 && !st->in_remote_xact && !IsTransactionState())
	{
		if (st->idle_end > st->durable)
			st->durable = st->idle_end;
		if (st->received > st->durable)
			st->durable = st->received;
	}

	if (!force && !TimestampDifferenceExceeds(st->last_feedback, now, FEEDBACK_INTERVAL_MS))
		return;
	if (st->src->connector->stream->feedback)
		st->src->connector->stream->feedback(st->src, st->received, st->durable, reply_requested);
	st->last_feedback = now;
	if (st->progress && st->nflushes == 0 && !st->in_remote_xact && !IsTransactionState())
		st->progress(st->durable, reported_end(st), 0, 0, st->caught_up ? "streaming" : "catchup");
}

/*
 * idle_checkpoint: nothing is pending and the source reported a position
 * past the last checkpoint: everything before it is applied or held
 * nothing for the job.  Record it, at most every IDLE_CHECKPOINT_FACTOR
 * checkpoint intervals.
 */
static void
idle_checkpoint(StreamState *st)
{
	if (IsTransactionState() || st->in_remote_xact || st->nflushes > 0 ||
		st->durable <= st->committed ||
		!TimestampDifferenceExceeds(st->last_checkpoint, GetCurrentTimestamp(),
									Max(st->checkpoint_ms, 100) * IDLE_CHECKPOINT_FACTOR))
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	st->pending_end = st->durable;
	write_checkpoint(st);
	if (!st->caught_up && st->pending_end > st->catchup_until)
		mark_caught_up(st);
	PopActiveSnapshot();
	CommitTransactionCommand();
	st->committed = st->pending_end;
	st->last_checkpoint = GetCurrentTimestamp();
}

/*
 * sink_begin: a source transaction starts at "start".
 */
static void
sink_begin(TributaryChangeSink *sink, XLogRecPtr start, TimestampTz commit_ts)
{
	StreamState *st = (StreamState *) sink->arg;

	if (st->in_remote_xact)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("BEGIN inside a transaction in the stream of source \"%s\"", st->src->cfg.name)));
	st->in_remote_xact = true;
	/*
	 * Exactly once: a transaction whose commit record starts before the
	 * checkpoint (the end of the last transaction applied) is already
	 * applied.  One that starts right at it is not.
	 */
	st->skip_xact = (start < st->committed);
	st->apply->position = start;
	st->apply->commit_ts = commit_ts;
	st->apply->idempotent = (st->always_idempotent || start <= st->catchup_until ||
							 start <= st->apply->idempotent_until);
}

/*
 * sink_commit: the source transaction ends; its end is the position a
 * checkpoint records.  The local transaction is committed when it is
 * large or old enough (else when the stream has nothing buffered).
 */
static void
sink_commit(TributaryChangeSink *sink, XLogRecPtr commit, XLogRecPtr end, TimestampTz commit_ts,
			const char *end_text)
{
	StreamState *st = (StreamState *) sink->arg;
	MemoryContext cxt = CurrentMemoryContext;

	if (!st->in_remote_xact)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("COMMIT outside a transaction in the stream of source \"%s\"", st->src->cfg.name)));
	st->in_remote_xact = false;
	/* batched writes carry no position: the commit's end is received */
	if (end > st->received)
		st->received = end;
	remember_text(st, end, end_text);
	if (st->skip_xact)
		return;
	if (IsTransactionState())
	{
		st->pending_end = end;
		st->pending_commit_ts = commit_ts;
		resetStringInfo(&st->pending_text);
		if (end_text)
			appendStringInfoString(&st->pending_text, end_text);
		st->pending_text_pos = end;
		if (st->apply->changes >= MAX_CHANGES_PER_COMMIT ||
			TimestampDifferenceExceeds(st->local_xact_start, GetCurrentTimestamp(),
									   st->checkpoint_ms))
			local_commit(st);
	}
	else
		st->idle_end = end;
	MemoryContextSwitchTo(cxt);
}

/*
 * sink_relation: a table's columns, before its first change.
 */
static void
sink_relation(TributaryChangeSink *sink, TribRelation *rel)
{
	StreamState *st = (StreamState *) sink->arg;
	MemoryContext cxt = CurrentMemoryContext;

	ensure_local_xact(st);
	MemoryContextSwitchTo(cxt);

	/*
	 * A source that reports schema changes only as new definitions: compare
	 * this one with what the job knows, before the changes that use it (a
	 * transaction applied before a restart was compared then).
	 */
	if ((st->src->connector->caps & TRIB_CAP_RELATION_DDL) && !st->skip_xact)
	{
		ApplyRel   *prev = hash_search(st->apply->rels, &rel->relid, HASH_FIND, NULL);

		PushActiveSnapshot(GetTransactionSnapshot());
		/* a change applied may ALTER the target: nothing may hold it open */
		tributary_apply_end_xact(st->apply);
		tributary_ddl_from_relation(st->apply, rel, prev ? prev->source_types : NULL,
									prev ? prev->source_typmods : NULL,
									prev ? prev->source_names : NULL, prev ? prev->nsource : 0,
									st->apply->position);
		PopActiveSnapshot();
		MemoryContextSwitchTo(cxt);
	}
	tributary_apply_relation(st->apply, rel);
	tributary_table_sync_relation(st->sync, rel, !st->skip_xact);
}

/*
 * enter_change: whether a change ("what", for the error) of the source
 * transaction is to be applied (not when it was applied before a
 * restart); if so, the local transaction is open, and the caller's
 * memory context current again.
 */
static bool
enter_change(StreamState *st, const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (st->skip_xact)
		return false;
	if (!st->in_remote_xact)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("%s outside a transaction in the stream of source \"%s\"", what, st->src->cfg.name)));
	ensure_local_xact(st);
	MemoryContextSwitchTo(cxt);
	return true;
}

/*
 * sink_change: one row change.
 */
static void
sink_change(TributaryChangeSink *sink, char op, Oid relid, TribTuple *oldtuple, TribTuple *newtuple)
{
	StreamState *st = (StreamState *) sink->arg;

	if (enter_change(st, "change") &&
		!tributary_table_sync_change(st->sync, op, relid, oldtuple, newtuple))
	{
		st->apply->no_ref_actions = sink->no_ref_actions;
		tributary_apply_change(st->apply, op, relid, oldtuple, op == TRIB_CHANGE_DELETE ? NULL : newtuple);
	}
}

/*
 * sink_truncate: tables emptied (partial: only some of their partitions).
 */
static void
sink_truncate(TributaryChangeSink *sink, int nrelids, Oid *relids, bool partial)
{
	StreamState *st = (StreamState *) sink->arg;

	/*
	 * partial: a partition of a job table was emptied on its own.  The
	 * target holds the rows of every partition in one table and cannot
	 * tell which were in it; skipping it would leave them, even while
	 * catching up (a row inserted into the partition before the truncate
	 * would be upserted and stay).
	 */
	for (int i = 0; partial && i < nrelids; i++)
	{
		const char *name = tributary_apply_source_name(st->apply, relids[i]);

		if (name != NULL && !st->skip_xact)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a partition of source table [%s] was truncated on its own", name),
					 errdetail("The target holds the rows of every partition in one table and cannot tell which of them were in that partition."),
					 errhint("Copy the job's tables again with tributary.restart_job(job, false).")));
	}
	if (partial)
		return;

	if (enter_change(st, "TRUNCATE"))
		tributary_table_sync_truncate(st->sync, nrelids, relids);
}

/*
 * sink_ddl: a statement changed a job table: act by the job's ddl policy.
 */
static void
sink_ddl(TributaryChangeSink *sink, const char *kind, const char *table, const char *statement,
		 XLogRecPtr position, const char *column, const char *new_name, uint32 flags)
{
	StreamState *st = (StreamState *) sink->arg;
	MemoryContext cxt = CurrentMemoryContext;

	if (!enter_change(st, "DDL"))
		return;
	/*
	 * a job table's CREATE TABLE before the view a copy of it read (a
	 * followed table added after it was created, follow.c): the copy has
	 * the table as it was later, so the statement is passed
	 */
	if (strcmp(kind, "create_table") == 0 &&
		(st->apply->idempotent || tributary_table_sync_copies(st->sync, table)))
	{
		ereport(LOG,
				(errmsg("pg_tributary job \"%s\" passes the creation of source table [%s] at %s, before the view its copy read",
						st->job->name, table, tributary_position_out(st->src, position))));
		return;
	}
	PushActiveSnapshot(GetTransactionSnapshot());
	tributary_apply_end_xact(st->apply);
	tributary_table_sync_ddl(st->sync, table, kind);
	if (tributary_ddl_handle(st->apply, kind, table, statement, position, column, new_name, flags))
	{
		/* nothing after the statement may be read with the old tables */
		st->reload = true;
		sink->stop_poll = true;
	}
	PopActiveSnapshot();
	MemoryContextSwitchTo(cxt);
}

/*
 * sink_advance: the source's position moved outside a transaction (or a
 * keepalive reported it); answer at once when the source asks.
 */
static void
sink_advance(TributaryChangeSink *sink, XLogRecPtr position, bool reply_requested,
			 const char *text)
{
	StreamState *st = (StreamState *) sink->arg;

	if (position > st->received)
	{
		st->received = position;
		remember_text(st, position, text);
	}
	if (reply_requested)
		send_feedback(st, true, false);
}

/*
 * sink_hold: keep an item of a prepared source transaction, in the local
 * transaction that records the position past its prepare.
 */
static void
sink_hold(TributaryChangeSink *sink, const char *xid, int32 seq, const char *data, uint32 len)
{
	StreamState *st = (StreamState *) sink->arg;

	if (enter_change(st, "XA PREPARE"))
		tributary_held_put(st->job->id, xid, seq, data, len);
}

/*
 * sink_held: items of a prepared source transaction, at its commit.
 */
static List *
sink_held(TributaryChangeSink *sink, const char *xid, int32 after, int max, bool *prepared)
{
	StreamState *st = (StreamState *) sink->arg;

	*prepared = true;
	if (!enter_change(st, "XA COMMIT"))
		return NIL;
	return tributary_held_get(st->job->id, xid, after, max, prepared);
}

/*
 * sink_release: forget a prepared source transaction at its commit or
 * rollback.
 */
static void
sink_release(TributaryChangeSink *sink, const char *xid)
{
	StreamState *st = (StreamState *) sink->arg;

	if (enter_change(st, "XA COMMIT"))
		tributary_held_drop(st->job->id, xid);
}

/*
 * sink_rebase: the connector's positions begin again at start (a stream
 * resumed by GTID on a promoted replica, or from before the job's start):
 * what the stream sends next was chosen by the server as not applied, so
 * nothing is skipped as applied before.  The catch-up bound, a position
 * of the old numbering, is replaced by the source's end of log now: every
 * change up to there is applied idempotently, which covers every snapshot
 * view read before (whether the stream had passed the old bound cannot be
 * told across numberings, nor after a crash before the first checkpoint
 * in the new one; idempotent apply is right either way).
 */
static void
sink_rebase(TributaryChangeSink *sink, XLogRecPtr start)
{
	StreamState *st = (StreamState *) sink->arg;
	TributarySource *src = st->src;
	MemoryContext cxt = CurrentMemoryContext;
	XLogRecPtr	bound;

	if (st->in_remote_xact || IsTransactionState())
		elog(ERROR, "a stream cannot move its positions inside a transaction");
	bound = Max(start, tributary_current_position(src));
	st->committed = st->durable = st->received = start;
	st->pending_end = st->idle_end = InvalidXLogRecPtr;
	st->nflushes = 0;
	st->catchup_until = bound;
	st->caught_up = false;		/* tables are marked streaming past the bound */
	/* a wait_for_sync must see progress in the new numbering first (wait.c) */
	tributary_worker_parts_seen(0);
	{
		Oid			types[2] = {INT4OID, TEXTOID};
		Datum		args[2] = {Int32GetDatum(st->job->id),
		CStringGetTextDatum(tributary_position_out(src, bound))};
		TributaryUserSave us = tributary_catalog_xact_begin();

		if (SPI_execute_with_args("UPDATE tributary.job SET job_catchup_until = $2 WHERE job_id = $1",
								  2, types, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record the job's catch-up bound");
		tributary_catalog_xact_end(us);
	}
	MemoryContextSwitchTo(cxt);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" streams source \"%s\" from %s on",
					st->job->name, src->cfg.name, tributary_position_out(src, start)),
			 errdetail("The server chose the transactions to send (a stream resumed by GTID, or begun before the job's first position); changes up to %s are applied idempotently.",
					   tributary_position_out(src, bound))));
}

/*
 * tributary_stream_run: stream and apply from start_lsn until a stop
 * request.  Errors (the source going away included) propagate; the caller
 * decides whether to reconnect.  Returns true when the job's tables
 * changed (a schema change applied renamed or dropped one): what is
 * applied is committed, and the caller reloads the tables and streams
 * again from there.
 */
bool
tributary_stream_run(TributaryJob *job, List *tables, const char *slot,
					 XLogRecPtr start_lsn, const char *start_text, XLogRecPtr catchup_until, bool always_idempotent,
					 bool binary, int checkpoint_ms, int num_retained, TributaryStreamProgress progress,
					 TributaryStreamSyncCheck sync_check)
{
	TributarySource *src = job->source;
	StreamState st;
	TributaryChangeSink sink;
	List	   *names;
	MemoryContext msg_cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary stream message",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext run_cxt = CurrentMemoryContext;
	bool		idle = false;
	TributaryTableSyncLeft sync_left = TABLE_SYNC_DONE;

	memset(&st, 0, sizeof(st));
	st.job = job;
	st.src = src;
	st.progress = progress;
	st.catchup_until = catchup_until;
	st.always_idempotent = always_idempotent;
	/* every transaction streamed commits after start_lsn */
	st.caught_up = (always_idempotent || start_lsn >= catchup_until);
	st.committed = start_lsn;
	st.durable = start_lsn;
	st.received = start_lsn;
	st.checkpoint_ms = checkpoint_ms;
	st.num_retained = Max(num_retained, 1);
	st.checkpoint_seq = job->checkpoint_seq;
	st.last_checkpoint = GetCurrentTimestamp();
	st.maxflushes = 64;
	initStringInfo(&st.pending_text);
	initStringInfo(&st.latest_text);
	st.flushes = palloc(sizeof(FlushPosition) * st.maxflushes);
	st.apply = tributary_apply_create(job, tables);
	sink.begin = sink_begin;
	sink.relation = sink_relation;
	sink.change = sink_change;
	sink.truncate = sink_truncate;
	sink.ddl = sink_ddl;
	sink.commit = sink_commit;
	sink.advance = sink_advance;
	sink.hold = sink_hold;
	sink.held = sink_held;
	sink.release = sink_release;
	sink.rebase = sink_rebase;
	sink.no_ref_actions = false;
	sink.stop_poll = false;
	sink.arg = &st;

	/* apply transactions need not wait for their WAL flush: feedback does */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	names = tributary_table_names(tables);
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	{
		/* ring slots beyond a lowered num-retained are not written any more */
		Oid			argtypes[2] = {INT4OID, INT4OID};
		Datum		args[2] = {Int32GetDatum(job->id), Int32GetDatum(st.num_retained)};
		TributaryUserSave us = tributary_catalog_enter();

		SPI_connect();
		SPI_execute_with_args("DELETE FROM tributary.checkpoint WHERE cp_job_id = $1 AND cp_slot >= $2",
							  2, argtypes, args, NULL, false, 0);
		SPI_finish();
		tributary_catalog_leave(us);
	}
	if (st.caught_up)
		mark_caught_up(&st);	/* past every snapshot read already: the tables stream */
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(run_cxt);
	st.sync = tributary_table_sync_create(job, tables, st.apply);
	src->job.stream_tables = tables;
	/* wait_for_sync waits for a look at partitions and followed rules */
	tributary_worker_parts_seen(0);
	/* foreign key actions the source does not log: the apply carries them out */
	if (src->connector->stream->referential_actions)
		tributary_cascade_setup(st.apply, src->connector->stream->referential_actions(src, tables));
	src->connector->stream->start(src, slot, start_lsn, start_text, names, binary);
	ereport(LOG,
			(errmsg("pg_tributary job \"%s\" streams from %s of source \"%s\" with %s values",
					job->name, tributary_position_out(src, start_lsn), src->cfg.name,
					binary ? "binary" : "text")));
	if (progress)
		progress(start_lsn, start_lsn, 0, 0, st.caught_up ? "streaming" : "catchup");

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		tributary_exit_if_orphaned();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* a table copied while the job streams: a step now and then (table_sync.c) */
		if (!st.in_remote_xact && tributary_table_sync_due(st.sync, idle))
		{
			local_commit(&st);
			if ((sync_left = tributary_table_sync_step(st.sync, st.received)) == TABLE_SYNC_RELOAD)
				break;			/* a table was added: the stream starts again with it */
		}
		MemoryContextSwitchTo(msg_cxt);
		ask_source_end(&st);
		if (src->connector->stream->poll(src, &sink, POLL_BUDGET) > 0 && !st.reload)
		{
			idle = false;
			MemoryContextSwitchTo(msg_cxt);
			MemoryContextReset(msg_cxt);
			continue;
		}
		if (st.reload)
		{
			/* MySQL logs a table's rename or drop as a statement of its own */
			if (st.in_remote_xact)
				elog(ERROR, "a table was renamed or dropped inside a source transaction");
			MemoryContextSwitchTo(msg_cxt);
			MemoryContextReset(msg_cxt);
			break;
		}

		/* nothing buffered: commit what is applied, report, and wait */
		idle = true;
		if (IsTransactionState() && !st.in_remote_xact)
			local_commit(&st);
		/* what feedback and heartbeats allocate goes with the message context */
		MemoryContextSwitchTo(msg_cxt);
		{
			/*
			 * Heartbeat: an idle stream asks the source for its position
			 * every heartbeat_interval (at once when wait_for_sync waits),
			 * so an idle job's position and its slot keep advancing.
			 */
			bool		want_sync = (sync_check && sync_check());
			bool		beat = want_sync ||
				TimestampDifferenceExceeds(st.last_beat, GetCurrentTimestamp(), src->cfg.heartbeat_ms);
			bool		idle = !IsTransactionState() && !st.in_remote_xact;

			send_feedback(&st, beat, beat && idle);
			if (beat)
				st.last_beat = GetCurrentTimestamp();
			idle_checkpoint(&st);

			/*
			 * what the log does not tell: partitions attached or detached,
			 * tables created that a followed rule matches; looked at every
			 * heartbeat_interval, and once for each wait_for_sync call (its
			 * requests repeat while it waits: one look begun after the call
			 * began answers them all)
			 */
			if (idle &&
				((want_sync && st.last_watch < tributary_worker_sync_since()) ||
				 TimestampDifferenceExceeds(st.last_watch, GetCurrentTimestamp(), src->cfg.heartbeat_ms)))
			{
				TimestampTz began = GetCurrentTimestamp();
				bool		settled = tributary_parts_watch(st.apply, tables, st.received);

				if (tributary_follow_scan(job) > 0)
					settled = false;
				/* not before the positions mean something on this server */
				if (settled && !src->job.positions_pending)
					tributary_worker_parts_seen(began);
				st.last_watch = began;
				MemoryContextSwitchTo(msg_cxt);
			}
		}
		{
			/* a kind without a socket (a file) is polled every wait */
			pgsocket	sock = src->connector->stream->socket(src);

			(void) WaitLatchOrSocket(MyLatch,
									 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH |
									 (sock != PGINVALID_SOCKET ? WL_SOCKET_READABLE : 0),
									 sock, (sync_left == TABLE_SYNC_MORE && !st.in_remote_xact) ? 0 :
									 Min(FEEDBACK_INTERVAL_MS, src->cfg.heartbeat_ms), PG_WAIT_EXTENSION);
		}
		ResetLatch(MyLatch);
		MemoryContextSwitchTo(msg_cxt);
		MemoryContextReset(msg_cxt);
	}

	/* a stop request, or a table added: keep what is applied up to the last whole transaction */
	st.reload = st.reload || sync_left == TABLE_SYNC_RELOAD;
	MemoryContextSwitchTo(run_cxt);
	if (IsTransactionState())
	{
		if (st.in_remote_xact)
		{
			tributary_apply_abort_xact(st.apply);
			AbortCurrentTransaction();
		}
		else
			local_commit(&st);
	}
	send_feedback(&st, true, false);
	tributary_table_sync_close();
	return st.reload;
}
