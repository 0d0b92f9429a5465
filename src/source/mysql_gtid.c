/*-------------------------------------------------------------------------
 *
 * mysql_gtid.c
 *		Oracle MySQL's GTIDs on the server: the executed GTID set at a
 *		binlog file and offset, and a binlog dump that starts after a GTID
 *		set (COM_BINLOG_DUMP_GTID).
 *
 * MySQL has no BINLOG_GTID_POS.  The executed set at a place in the
 * binlog is the set the file's PREVIOUS_GTIDS event lists (every
 * transaction of the files before it) with the GTID of every transaction
 * of the file before the offset: read here with a non-blocking dump of
 * the file from its start (mysql_time.c's scan) up to the offset, as the
 * server itself does when a replica connects by GTID.  An offset inside
 * an event or a transaction, past the end of the file, or a file the
 * server does not have means the place is not on this server (a stream
 * resumes by GTID from there; a dump by GTID can leave a checkpoint inside
 * a transaction it skipped, at a heartbeat: mysql_stream.c).
 *
 * Connector/C has no call for COM_BINLOG_DUMP_GTID.  mariadb_rpl_open
 * sends COM_BINLOG_DUMP through the connection's db_command (its
 * ma_simple_command) without reading a reply, after a query that tells
 * whether the session asked for semi-synchronous replication (it does
 * not); mariadb_rpl_fetch then reads the events off the connection,
 * using from the MARIADB_RPL handle only what mariadb_rpl_init and the
 * options set (the connection, the flags) and what it learns from the
 * events themselves.  So the dump by GTID is the same handle, with the
 * packet (binlog_gtid.c) sent through the same db_command.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "source/mysql_source.h"
#include <mariadb_rpl.h>

#include "source/binlog.h"
#include "source/mysql_stream_int.h"
#include "utils/memutils.h"

/*
 * mygtid_text: the entries of a stream's GTID state, comma-separated.
 */
char *
mygtid_text(const MyGtidSet *set)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < set->n; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? "," : "", set->gtids[i]);
	return buf.data;
}

/*
 * group_step: whether the binlog is inside a transaction (event group)
 * after ev: a GTID event begins one; it ends at XID, XA_PREPARE, a
 * TRANSACTION_PAYLOAD (a whole compressed transaction), QUERY COMMIT or
 * ROLLBACK, or with the statement right after the GTID unless that is
 * BEGIN or XA START (DDL, XA COMMIT and XA ROLLBACK are groups of one
 * statement).
 */
static void
group_step(const BinlogEvent *ev, const BinlogFormat *fmt, bool *in_group, bool *after_gtid)
{
	bool		first = *after_gtid;

	*after_gtid = false;
	switch (ev->type)
	{
		case BL_GTID:
		case BL_ANONYMOUS_GTID:
		case BL_GTID_TAGGED:
			*in_group = true;
			*after_gtid = true;
			break;
		case BL_XID:
		case BL_XA_PREPARE:
		case BL_TRANSACTION_PAYLOAD:
			*in_group = false;
			break;
		case BL_QUERY:
			{
				char	   *db;
				char	   *query;
				char	   *err;

				if (!bl_read_query(ev, fmt, &db, &query, &err))
					break;
				if (first)
					*in_group = (pg_strcasecmp(query, "BEGIN") == 0 ||
								 pg_strncasecmp(query, "XA START", 8) == 0);
				else if (pg_strcasecmp(query, "COMMIT") == 0 || pg_strcasecmp(query, "ROLLBACK") == 0)
					*in_group = false;
				break;
			}
		default:
			break;
	}
}

/*
 * mygtid_mysql_pos_at: the executed GTID set at file:offset on the
 * server, as text ("" for none), or NULL when that place is not on the
 * server (see the file's header).  *untold: the file's PREVIOUS_GTIDS is in
 * MySQL 8.3's tagged format, which is not read: the set cannot be known
 * (nor is it complete: tagged GTID events are not decoded either).
 */
char *
mygtid_mysql_pos_at(TributarySource *src, uint32 server_id, const char *file, uint32 offset,
					bool *untold)
{
	MyScan		scan;
	BinlogEvent ev;
	BinlogGtidSet set;
	bool		here = true;
	bool		reached = false;
	bool		in_group = false;
	bool		after_gtid = false;
	uint32		last_end = 4;
	char	   *err;
	StringInfoData buf;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext scratch;
	MemoryContext old;

	*untold = false;
	bl_gtid_set_init(&set);
	myscan_open(src, &scan, file, server_id, "the GTID set at a binlog position", true);
	/* what one event decodes to goes with it; the set lives in cxt */
	scratch = AllocSetContextCreate(cxt, "tributary binlog GTID scan", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	while (myscan_next(src, &scan, &ev))
	{
		uint32		start = ev.log_pos >= ev.size ? ev.log_pos - ev.size : 0;

		MemoryContextReset(scratch);
		if (ev.log_pos == 0 || (ev.flags & BL_FLAG_ARTIFICIAL) != 0)
			continue;			/* the dump's artificial ROTATE and FORMAT_DESCRIPTION */
		if (start < offset && ev.log_pos > offset)
		{
			here = false;		/* the offset is inside an event */
			break;
		}
		if (start >= offset && ev.type != BL_FORMAT_DESCRIPTION && ev.type != BL_PREVIOUS_GTIDS)
		{
			reached = true;
			break;
		}
		last_end = ev.log_pos;
		group_step(&ev, &scan.fmt, &in_group, &after_gtid);
		if (ev.type == BL_PREVIOUS_GTIDS && bl_previous_gtids_tagged(&ev, &scan.fmt))
		{
			*untold = true;
			break;
		}
		if (ev.type == BL_PREVIOUS_GTIDS)
		{
			MemoryContextSwitchTo(cxt);
			bl_gtid_set_init(&set);
			if (!bl_read_previous_gtids(&ev, &scan.fmt, &set, &err))
			{
				MemoryContextDelete(scratch);
				myscan_close(&scan);
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("invalid binlog event from source \"%s\" at %s:%u: %s",
								src->cfg.name, file, ev.log_pos, err)));
			}
			MemoryContextSwitchTo(scratch);
		}
		else if (ev.type == BL_GTID)
		{
			char	   *gtid;
			uint8		flags;
			uint8		uuid[16];
			uint64		gno;

			if (!bl_read_gtid(&ev, &scan.fmt, &gtid, &flags, &err) || gtid == NULL ||
				!bl_gtid_uuid_from_text(gtid, uuid) || sscanf(gtid + 37, UINT64_FORMAT, &gno) != 1)
			{
				MemoryContextDelete(scratch);
				myscan_close(&scan);
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("invalid GTID event from source \"%s\" at %s:%u", src->cfg.name, file,
								ev.log_pos)));
			}
			MemoryContextSwitchTo(cxt);
			if (gno < 1 || !bl_gtid_set_add(&set, uuid, gno, gno + 1))
				here = false;
			MemoryContextSwitchTo(scratch);
		}
		else if (ev.type == BL_ROTATE)
		{
			/* the file ends here: the offset is at most its end */
			reached = (ev.log_pos >= offset);
			here = reached;
			break;
		}
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	if (*untold)
	{
		myscan_close(&scan);
		ereport(LOG,
				(errmsg("pg_tributary: source \"%s\" lists tagged GTIDs at %s:%u, which pg_tributary does not read: the job resumes by file and offset only",
						src->cfg.name, file, offset)));
		return NULL;
	}
	if (scan.missing || !here || in_group || (!reached && last_end != offset))
	{
		myscan_close(&scan);
		return NULL;
	}
	myscan_close(&scan);
	initStringInfo(&buf);
	bl_gtid_set_to_text(&set, &buf);
	return buf.data;
}

/*
 * mygtid_mysql_same_place: whether the server's executed set at the
 * checkpoint's file and offset (server_text) says that place is the one
 * the checkpoint (state) was written at: the same set; or, for a
 * checkpoint written before streams kept the complete set (one
 * transaction per server), one that holds it and ends, for each server,
 * with the transaction the checkpoint lists.
 */
bool
mygtid_mysql_same_place(const char *server_text, const MyGtidSet *state)
{
	BinlogGtidSet server;
	BinlogGtidSet ckpt;
	char	   *err;
	bool		legacy = true;

	bl_gtid_set_init(&server);
	bl_gtid_set_init(&ckpt);
	if (!bl_gtid_set_from_text(server_text, &server, &err) ||
		!bl_gtid_set_from_text(mygtid_text(state), &ckpt, &err))
		return false;
	if (bl_gtid_set_contains(&server, &ckpt) && bl_gtid_set_contains(&ckpt, &server))
		return true;
	for (int s = 0; s < ckpt.n; s++)
		if (ckpt.sids[s].n != 1 || ckpt.sids[s].iv[0].end - ckpt.sids[s].iv[0].start != 1)
			legacy = false;
	if (!legacy || server.n != ckpt.n || !bl_gtid_set_contains(&server, &ckpt))
		return false;
	for (int s = 0; s < ckpt.n; s++)
		if (bl_gtid_set_last(&server, ckpt.sids[s].uuid) != ckpt.sids[s].iv[0].start)
			return false;
	return true;
}

/*
 * mygtid_mysql_partial: whether a stream's MySQL GTID state lists, for some
 * server, one transaction other than its first: a checkpoint written
 * before streams kept the whole executed set (the last GTID of each
 * server), which a dump by GTID would take for all the job applied.
 */
bool
mygtid_mysql_partial(const MyGtidSet *state)
{
	BinlogGtidSet set;
	char	   *err;

	bl_gtid_set_init(&set);
	if (!bl_gtid_set_from_text(mygtid_text(state), &set, &err))
		return false;
	for (int s = 0; s < set.n; s++)
		if (set.sids[s].n == 1 && set.sids[s].iv[0].start > 1 &&
			set.sids[s].iv[0].end - set.sids[s].iv[0].start == 1)
			return true;
	return false;
}

/*
 * mygtid_dump_open: start the stream's binlog dump after the GTID set
 * text (COM_BINLOG_DUMP_GTID, no file name: the server finds where the
 * first transaction not in the set is).  The server's refusal (a set it
 * does not hold, or purged transactions the set lacks) comes with the
 * first read.  False with the connection's error when the packet could
 * not be sent.
 */
bool
mygtid_dump_open(TributarySource *src, MyStream *st, uint32 server_id, const char *text)
{
	BinlogGtidSet set;
	StringInfoData packet;
	char	   *err;

	bl_gtid_set_init(&set);
	if (!bl_gtid_set_from_text(text, &set, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" cannot start streaming from GTID set %s", src->cfg.name, text),
				 errdetail("%s.", err),
				 errhint("Give the GTID set as MySQL writes it, uuid:interval[:interval], comma-separated.")));
	initStringInfo(&packet);
	bl_write_dump_gtid(&packet, 0, server_id, "", 4, &set);

	st->rpl = mariadb_rpl_init(st->conn);
	if (st->rpl == NULL)
		return false;
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_SERVER_ID, server_id);
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_FLAGS, (unsigned int) 0);
	/* as mariadb_rpl_open sends COM_BINLOG_DUMP: no reply is read here */
	return st->conn->methods->db_command(st->conn, (enum enum_server_command) BL_COM_BINLOG_DUMP_GTID, packet.data,
										 packet.len, 1, NULL) == 0;
}
