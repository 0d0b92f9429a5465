/*-------------------------------------------------------------------------
 *
 * mysql_xa.c
 *		XA transactions in the MySQL / MariaDB binlog stream: the changes
 *		of a prepared XA transaction are held on the target until its
 *		XA COMMIT, which may come much later and after restarts, and are
 *		dropped at its XA ROLLBACK.
 *
 * binlog_xa.c says how the servers log XA.  The stream treats the
 * prepared group as a source transaction of its own whose changes are not
 * applied: its job tables' TABLE_MAP and rows events are handed to the
 * sink's hold, raw (a byte telling whether the event carries a checksum,
 * then the event), together with item 0 marking the prepare; the group's
 * commit records the position past XA_PREPARE in the same local
 * transaction.  The XA COMMIT group reads the held events back in order
 * and decodes them exactly as if they came from the binlog at that point,
 * then releases them; XA ROLLBACK only releases them.  A one-phase XA
 * commit (MySQL: XA_PREPARE with one_phase set) applies what it held at
 * once.
 *
 * A commit whose prepare the job never saw (prepared before the position
 * its stream started from) stops the job: which rows it changed cannot be
 * known any more.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "source/mysql_source.h"
#include <mariadb_rpl.h>
#include "source/mysql_stream_int.h"

#include "miscadmin.h"
#include "utils/memutils.h"

/* held events read back per batch at a commit */
#define XA_REPLAY_BATCH		64

/*
 * mystream_xa_begin: a prepared XA group starts (a MariaDB GTID flagged
 * FL_PREPARED_XA, or MySQL's XA START): its job tables' events are held.
 */
void
mystream_xa_begin(MyStream *st, const BinlogXid *xid)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	if (st->xa_xid)
		pfree(st->xa_xid);
	st->xa_xid = bl_xid_text(xid);
	st->xa_holding = true;
	st->xa_seq = 0;
	MemoryContextSwitchTo(old);
}

/*
 * mystream_xa_hold: a TABLE_MAP (already processed) or rows event inside a
 * prepared XA group: held when it is about a job table, else passed.
 */
void
mystream_xa_hold(TributarySource *src, MyStream *st, const BinlogEvent *ev, const uint8 *raw,
				 size_t len, const BinlogFormat *fmt, TributaryChangeSink *sink)
{
	uint64		table_id;
	char	   *err;
	char	   *item;

	if (!bl_event_table_id(ev, fmt, &table_id, &err))
		mystream_error(src, st, ev->log_pos, err);
	if (hash_search(st->maps, &table_id, HASH_FIND, NULL) == NULL)
		return;					/* not a job table */
	if (len >= PG_UINT32_MAX)
		mystream_error(src, st, ev->log_pos, "event too large to hold");
	item = palloc(len + 1);
	item[0] = fmt->checksum ? 1 : 0;
	memcpy(item + 1, raw, len);
	sink->hold(sink, st->xa_xid, ++st->xa_seq, item, (uint32) (len + 1));
	pfree(item);
}

/*
 * replay: decode the events held for xid as events of the transaction
 * open now ([start, end) is the event that commits it).  must_be_prepared:
 * a commit of a transaction whose prepare the job did not see is an
 * error.
 */
static void
replay(TributarySource *src, MyStream *st, const char *xid, XLogRecPtr start, XLogRecPtr end,
	   TributaryChangeSink *sink, bool *advanced, bool must_be_prepared)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary xa replay",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	int32		after = 0;

	for (;;)
	{
		bool		prepared;
		List	   *items = sink->held(sink, xid, after, XA_REPLAY_BATCH, &prepared);
		ListCell   *lc;

		if (after == 0 && !prepared && must_be_prepared)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("XA transaction %s on source \"%s\" was committed, but the job did not see it prepared",
							xid, src->cfg.name),
					 errdetail("Its XA COMMIT ends at %s:%u; it was prepared before the binlog position the job's stream started from, so which rows it changed cannot be known.",
							   mypos_file_name(st->file_seq), (uint32) end),
					 errhint("Copy the job's tables again with tributary.restart_job(job, false) while XA RECOVER on the source lists no prepared transaction.")));
		foreach(lc, items)
		{
			bytea	   *b = (bytea *) lfirst(lc);
			const uint8 *data = (const uint8 *) VARDATA_ANY(b);
			size_t		len = VARSIZE_ANY_EXHDR(b);
			BinlogFormat fmt = st->fmt;

			if (len < 1 + BL_HEADER_LEN)
				mystream_error(src, st, 0, psprintf("held event of XA transaction %s is too short", xid));
			fmt.checksum = (data[0] != 0);
			mystream_process_event(src, st, data + 1, len - 1, &fmt, start, end, sink, advanced);
			CHECK_FOR_INTERRUPTS();
		}
		after += list_length(items);
		if (list_length(items) < XA_REPLAY_BATCH)
			break;
		MemoryContextReset(cxt);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * mystream_xa_prepare: XA_PREPARE ends the group.  A prepare is held and
 * the group committed (the position passes it); a one-phase commit
 * applies what was held.
 */
void
mystream_xa_prepare(TributarySource *src, MyStream *st, const BinlogEvent *ev, XLogRecPtr start,
					XLogRecPtr end, TributaryChangeSink *sink, bool *advanced)
{
	BinlogXid	xid;
	bool		one_phase;
	char	   *err;
	char	   *text;

	if (!bl_read_xa_prepare(ev, &st->fmt, &xid, &one_phase, &err))
		mystream_error(src, st, ev->log_pos, err);
	text = bl_xid_text(&xid);
	if (!st->in_xact || !st->xa_holding || strcmp(text, st->xa_xid) != 0)
		mystream_error(src, st, ev->log_pos,
					   psprintf("XA_PREPARE of %s outside the XA transaction it ends", text));
	st->xa_holding = false;
	if (one_phase)
	{
		replay(src, st, text, start, end, sink, advanced, false);
		sink->release(sink, text);
	}
	else
		sink->hold(sink, text, 0, "", 0);
	mystream_commit(st, start, end, ev->timestamp, sink);
}

/*
 * mystream_xa_statement: a QUERY that is an XA statement (true), or not
 * (false: the caller goes on).  XA START opens a held group (MySQL), XA
 * END is part of it, XA COMMIT applies what is held and XA ROLLBACK
 * drops it, each in a transaction of its own.
 */
bool
mystream_xa_statement(TributarySource *src, MyStream *st, const char *query, const BinlogEvent *ev,
					  XLogRecPtr start, XLogRecPtr end, TributaryChangeSink *sink, bool *advanced)
{
	BinlogXid	xid;
	bool		one_phase;
	char	   *text;
	bool		commit;

	if (bl_parse_xa_statement(query, "START", &xid, &one_phase) ||
		bl_parse_xa_statement(query, "BEGIN", &xid, &one_phase))
	{
		if (!st->in_xact)
			mystream_begin(st, st->gtid_start ? st->gtid_start : start, ev->timestamp, sink);
		mystream_xa_begin(st, &xid);
		return true;
	}
	if (bl_parse_xa_statement(query, "END", &xid, &one_phase))
		return true;
	commit = bl_parse_xa_statement(query, "COMMIT", &xid, &one_phase);
	if (!commit && !bl_parse_xa_statement(query, "ROLLBACK", &xid, &one_phase))
	{
		if (pg_strncasecmp(query, "XA", 2) == 0 && (query[2] == ' ' || query[2] == '\t'))
			mystream_error(src, st, ev->log_pos,
						   psprintf("XA statement not understood: %.200s", query));
		return false;
	}
	text = bl_xid_text(&xid);
	if (!st->in_xact)
		mystream_begin(st, st->gtid_start ? st->gtid_start : start, ev->timestamp, sink);
	if (st->xa_holding)
	{
		/* the group being held ends here: one phase, or rolled back before its prepare */
		if (strcmp(text, st->xa_xid) != 0)
			mystream_error(src, st, ev->log_pos,
						   psprintf("XA %s of %s inside XA transaction %s", commit ? "COMMIT" : "ROLLBACK",
									text, st->xa_xid));
		st->xa_holding = false;
		if (commit)
			replay(src, st, text, start, end, sink, advanced, false);
	}
	else if (commit)
		replay(src, st, text, start, end, sink, advanced, true);
	sink->release(sink, text);
	mystream_commit(st, start, end, ev->timestamp, sink);
	return true;
}
