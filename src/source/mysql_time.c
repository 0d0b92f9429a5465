/*-------------------------------------------------------------------------
 *
 * mysql_time.c
 *		start_position time:<timestamptz> on MySQL / MariaDB sources: the
 *		binlog position of the first transaction committed at or after a
 *		time, found by reading binlog event headers.
 *
 * A binlog records no index by time, so the files are read: first the
 * FORMAT_DESCRIPTION of each file from the newest back (its timestamp is
 * when the file was begun) until one begun at or before the time, then
 * every event from there on, in a non-blocking dump (the server ends it
 * at the end of its binlog).  A transaction begins at its GTID event
 * (MariaDB; MySQL's is followed by QUERY BEGIN) and commits at XID, QUERY
 * COMMIT, or MySQL 8's TRANSACTION_PAYLOAD (a whole compressed
 * transaction), or is one statement (DDL) after a GTID (flagged
 * standalone by MariaDB, without BEGIN in MySQL); the first whose commit
 * event's timestamp is at or after the time gives its beginning.  Event timestamps have whole seconds, so "at or after" is to
 * the second.  None yet: the end of the binlog, so the stream takes every
 * transaction from now on.
 *
 * The scan (myscan_*) serves mysql_gtid.c too.
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
 * myscan_close: end a scan's dump and connection.
 */
void
myscan_close(MyScan *scan)
{
	if (scan->event)
		mariadb_free_rpl_event(scan->event);
	if (scan->rpl)
		mariadb_rpl_close(scan->rpl);
	if (scan->conn)
		mysql_close(scan->conn);
	memset(scan, 0, sizeof(MyScan));
}

/*
 * scan_fail: close the scan and raise what went wrong.
 */
static void
pg_attribute_noreturn()
scan_fail(TributarySource *src, MyScan *scan, const char *what)
{
	char	   *msg = pstrdup(scan->conn ? mysql_error(scan->conn) : "no connection");
	const char *why = scan->why;

	myscan_close(scan);
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("could not read the binlog of source \"%s\" to find %s: %s: %s",
					src->cfg.name, why, what, msg)));
}

/*
 * myscan_open: a non-blocking dump from file:4 as server_id, to find why
 * (for error messages); with missing_ok, a file the server does not have
 * ends the scan at once with scan->missing set instead of an error.
 */
void
myscan_open(TributarySource *src, MyScan *scan, const char *file, uint32 server_id,
			const char *why, bool missing_ok)
{
	char	   *err;
	const char *setup[2] = {"SET @master_binlog_checksum = @@global.binlog_checksum",
	"SET @mariadb_slave_capability = 4"};
	MYSQL_RES  *res;
	MYSQL_ROW	row;

	memset(scan, 0, sizeof(MyScan));
	scan->why = why;
	scan->missing_ok = missing_ok;
	scan->conn = mysrc_open(src, "pg_tributary binlog scan", true, &err);
	if (scan->conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to source \"%s\" to find %s: %s", src->cfg.name, why, err)));
	if (myio_query(scan->conn, "SELECT @@global.binlog_checksum", strlen("SELECT @@global.binlog_checksum")) != 0 ||
		(res = myio_store_result(scan->conn)) == NULL)
		scan_fail(src, scan, "binlog_checksum");
	row = mysql_fetch_row(res);
	if (row == NULL || row[0] == NULL)
	{
		/* mariadb_rpl_init would take a missing value without looking (mysql_stream.c) */
		mysql_free_result(res);
		scan_fail(src, scan, "binlog_checksum");
	}
	scan->fmt.checksum = (pg_strcasecmp(row[0], "NONE") != 0);
	mysql_free_result(res);
	for (int i = 0; i < 2; i++)
		if (myio_query(scan->conn, setup[i], strlen(setup[i])) != 0)
			scan_fail(src, scan, "dump settings");
	scan->rpl = mariadb_rpl_init(scan->conn);
	if (scan->rpl == NULL)
		scan_fail(src, scan, "dump");
	mariadb_rpl_optionsv(scan->rpl, MARIADB_RPL_FILENAME, file, strlen(file));
	mariadb_rpl_optionsv(scan->rpl, MARIADB_RPL_START, (unsigned long) 4);
	mariadb_rpl_optionsv(scan->rpl, MARIADB_RPL_SERVER_ID, server_id);
	/* BINLOG_DUMP_NON_BLOCK: the server ends the dump at the end of its binlog */
	mariadb_rpl_optionsv(scan->rpl, MARIADB_RPL_FLAGS, (unsigned int) 1);
	if (mariadb_rpl_open(scan->rpl) != 0)
		scan_fail(src, scan, psprintf("dump of %s", file));
}

/*
 * myscan_next: the scan's next event, decoded into *ev; false at the end of
 * the binlog (or, with missing_ok, when the server has no such file).
 */
bool
myscan_next(TributarySource *src, MyScan *scan, BinlogEvent *ev)
{
	char	   *err;

	CHECK_FOR_INTERRUPTS();
	scan->event = mariadb_rpl_fetch(scan->rpl, scan->event);
	if (scan->event == NULL)
	{
		/* 1236: ER_MASTER_FATAL_ERROR_READING_BINLOG (no such file, a purged one) */
		if (scan->missing_ok && mysql_errno(scan->conn) == 1236)
		{
			scan->missing = true;
			return false;
		}
		if (mysql_errno(scan->conn) != 0)
			scan_fail(src, scan, "reading events");
		return false;
	}
	if (scan->event->raw_data == NULL || scan->event->raw_data_size <= scan->event->raw_data_ofs ||
		!bl_read_header(scan->event->raw_data + scan->event->raw_data_ofs,
						scan->event->raw_data_size - scan->event->raw_data_ofs, &scan->fmt, ev, &err))
	{
		const char *why = scan->why;

		myscan_close(scan);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid binlog event from source \"%s\" while finding %s", src->cfg.name, why)));
	}
	if (ev->type == BL_FORMAT_DESCRIPTION)
	{
		bool		checksum = scan->fmt.checksum;

		if (!bl_read_format(ev, &scan->fmt, &err))
		{
			const char *why = scan->why;

			myscan_close(scan);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid binlog event from source \"%s\" while finding %s: %s",
							src->cfg.name, why, err)));
		}
		scan->fmt.checksum = checksum;
	}
	return true;
}

/*
 * file_began: when a binlog file was begun (its FORMAT_DESCRIPTION's
 * timestamp).
 */
static uint32
file_began(TributarySource *src, const char *file, uint32 server_id)
{
	MyScan	scan;
	BinlogEvent ev;
	uint32		when = 0;

	myscan_open(src, &scan, file, server_id, "start_position", false);
	while (myscan_next(src, &scan, &ev))
	{
		if (ev.type == BL_FORMAT_DESCRIPTION && ev.log_pos != 0)
		{
			when = ev.timestamp;
			break;
		}
	}
	myscan_close(&scan);
	return when;
}

/*
 * mytime_find: the binlog file and offset where the first transaction
 * committed at or after "when" (Unix seconds) begins, or the end of the
 * binlog when there is none yet.
 */
void
mytime_find(TributarySource *src, MyStream *st, uint32 server_id, int64 when, char **file, uint32 *offset)
{
	List	   *files = NIL;
	int			from;
	MyScan	scan;
	BinlogEvent ev;
	char	   *cur = NULL;
	uint32		begin = 0;
	char	   *begin_file = NULL;
	bool		in_xact = false;
	bool		standalone = false;
	bool		just_gtid = false;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext scratch;
	MemoryContext old;

	{
		MYSQL_RES  *res;
		MYSQL_ROW	row;

		if (myio_query(st->conn, "SHOW BINARY LOGS", strlen("SHOW BINARY LOGS")) != 0 ||
			(res = myio_store_result(st->conn)) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("source \"%s\" lists no binary log to find start_position in", src->cfg.name),
					 errhint("Enable the binary log (log_bin) and grant REPLICATION CLIENT; tributary.check_source() lists what is missing.")));
		while ((row = mysql_fetch_row(res)) != NULL)
			if (row[0])
				files = lappend(files, pstrdup(row[0]));
		mysql_free_result(res);
	}
	if (files == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" lists no binary log to find start_position in", src->cfg.name)));

	/* the newest file begun at or before the time (else the oldest) */
	for (from = list_length(files) - 1; from > 0; from--)
		if ((int64) file_began(src, list_nth(files, from), server_id) <= when)
			break;

	myscan_open(src, &scan, list_nth(files, from), server_id, "start_position", false);
	/* what one event decodes to goes with it: the scan may read gigabytes */
	scratch = AllocSetContextCreate(CurrentMemoryContext, "tributary binlog time scan",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(scratch);
	while (myscan_next(src, &scan, &ev))
	{
		uint32		start = ev.log_pos >= ev.size ? ev.log_pos - ev.size : 0;
		bool		commit = false;
		bool		after_gtid = just_gtid;
		char	   *err;

		MemoryContextReset(scratch);
		just_gtid = false;
		if (ev.type == BL_ROTATE)
		{
			uint64		pos;
			char	   *name;

			if (bl_read_rotate(&ev, &scan.fmt, &pos, &name, &err))
				cur = MemoryContextStrdup(cxt, name);
			continue;
		}
		if (ev.log_pos == 0 || cur == NULL)
			continue;
		switch (ev.type)
		{
			case BL_MARIA_GTID:
			case BL_GTID:
			case BL_ANONYMOUS_GTID:
			case BL_GTID_TAGGED:
				{
					char	   *gtid;
					uint8		flags = 0;

					(void) bl_read_gtid(&ev, &scan.fmt, &gtid, &flags, &err);
					begin = start;
					begin_file = cur;
					in_xact = true;
					just_gtid = true;
					/* MariaDB flags a statement of its own (DDL) */
					standalone = (ev.type == BL_MARIA_GTID && (flags & BL_MARIA_GTID_STANDALONE) != 0);
					break;
				}
			case BL_QUERY:
			case BL_MARIA_QUERY_COMPRESSED:
				{
					char	   *db;
					char	   *query = NULL;

					if (ev.type == BL_QUERY && !bl_read_query(&ev, &scan.fmt, &db, &query, &err))
						query = NULL;
					if (query && pg_strcasecmp(query, "BEGIN") == 0)
					{
						if (!in_xact)
						{
							begin = start;
							begin_file = cur;
						}
						in_xact = true;
						standalone = false;
						break;
					}
					if (!in_xact)
					{
						/* a statement without a GTID before it */
						begin = start;
						begin_file = cur;
						commit = true;
					}
					else
						/* COMMIT; a statement of its own after a GTID (MySQL logs DDL so) */
						commit = (query && pg_strcasecmp(query, "COMMIT") == 0) || standalone || after_gtid;
					break;
				}
			case BL_XID:
			case BL_TRANSACTION_PAYLOAD:	/* MySQL 8: a whole compressed transaction */
				commit = true;
				break;
			default:
				break;
		}
		if (!commit)
			continue;
		if ((int64) ev.timestamp >= when && begin_file != NULL)
		{
			MemoryContextSwitchTo(old);
			*file = pstrdup(begin_file);
			*offset = begin;
			myscan_close(&scan);
			MemoryContextDelete(scratch);
			return;
		}
		in_xact = false;
		standalone = false;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(scratch);
	myscan_close(&scan);
	*file = NULL;				/* none yet: the caller starts at the end */
	*offset = 0;
}
