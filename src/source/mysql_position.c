/*-------------------------------------------------------------------------
 *
 * mysql_position.c
 *		Positions of a MySQL / MariaDB binlog, and the GTIDs that go with
 *		them.
 *
 * A binlog position is a file and an offset.  Inside the worker it is the
 * 64-bit number (file sequence << 32) | offset, which orders positions
 * like LSNs do and loses nothing: binlog event positions are 32-bit in
 * the server's own protocol (an event header's log_pos), and the file
 * sequence is the file name's numeric extension (at most 999999 in
 * practice, 2^32 - 1 accepted).  As text it is "binlog.000012:4711".
 *
 * GTIDs.  The stream keeps, for each replication domain (MariaDB,
 * "domain-server-seq"), the GTID of the last transaction it passed: the
 * GTID position of the stream, in MariaDB's sense (gtid_slave_pos); for
 * MySQL, the executed GTID set, for each source server the intervals of
 * its transactions ("uuid:1-42:50-51"), as MySQL's gtid_executed (tagged
 * GTIDs, "uuid:tag:n", are kept as the last one of their tag).  A
 * checkpoint records it after the file and offset, "binlog.000012:4711
 * gtid 0-1-42,1-2-7" or "binlog.000012:4711 gtid 3e11...:1-42", as of
 * exactly the transaction the checkpoint ends with (the stream hands the
 * text over with the commit), and a restarted stream reads it back.  The
 * state is complete from a stream's start on: mysql_start.c takes the
 * server's state where the stream starts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "source/mysql_source.h"

#include "fmgr.h"
#include "source/binlog.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* the basename of the source's binlog files, learnt from positions */
static char *binlog_base = NULL;

/*
 * mypos_make: a file and offset as one number (lossless: see the file's
 * header).
 */
XLogRecPtr
mypos_make(uint32 seq, uint32 offset)
{
	return ((XLogRecPtr) seq << 32) | offset;
}

/*
 * mypos_split_file: a binlog file name's basename and numeric extension.
 */
bool
mypos_split_file(const char *file, char **base, uint32 *seq)
{
	const char *dot = strrchr(file, '.');
	char	   *end;
	unsigned long n;

	if (dot == NULL || dot[1] == '\0')
		return false;
	errno = 0;
	n = strtoul(dot + 1, &end, 10);
	if (*end != '\0' || errno != 0 || n > PG_UINT32_MAX)
		return false;
	*base = pnstrdup(file, dot - file);
	*seq = (uint32) n;
	return true;
}

/*
 * mypos_remember_base: the basename of the source's binlog files.
 */
void
mypos_remember_base(const char *base)
{
	if (binlog_base == NULL || strcmp(binlog_base, base) != 0)
		binlog_base = MemoryContextStrdup(TopMemoryContext, base);
}

/*
 * mypos_file_name: the binlog file of a sequence number.
 */
char *
mypos_file_name(uint32 seq)
{
	return psprintf("%s.%06u", binlog_base ? binlog_base : "binlog", seq);
}

/*
 * mysrc_position_out: a position as text, "file:offset": the same text
 * for the same position, always (the GTIDs a checkpoint adds come with
 * the stream's commit: mypos_text).
 */
char *
mysrc_position_out(TributarySource *src, XLogRecPtr pos)
{
	return psprintf("%s:%u", mypos_file_name((uint32) (pos >> 32)), (uint32) pos);
}

/*
 * mypos_mysql_gtid_set: whether text is a MySQL GTID set: comma-separated
 * uuid:interval[:interval...] items, an interval n or n-m.
 */
bool
mypos_mysql_gtid_set(const char *text)
{
	const char *p = text;

	for (;;)
	{
		/* 8-4-4-4-12 hexadecimal digits */
		static const int groups[5] = {8, 4, 4, 4, 12};

		for (int g = 0; g < 5; g++)
		{
			for (int i = 0; i < groups[g]; i++)
				if (!isxdigit((unsigned char) *p++))
					return false;
			if (g < 4 && *p++ != '-')
				return false;
		}
		if (*p != ':')
			return false;
		while (*p == ':')
		{
			p++;
			if (!isdigit((unsigned char) *p))
				return false;
			while (isdigit((unsigned char) *p))
				p++;
			if (*p == '-')
			{
				p++;
				if (!isdigit((unsigned char) *p))
					return false;
				while (isdigit((unsigned char) *p))
					p++;
			}
		}
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return false;
	}
}

/*
 * mysrc_position_in: a position's text as a number; the file's basename
 * is remembered for the stream.
 */
XLogRecPtr
mysrc_position_in(TributarySource *src, const char *text)
{
	const char *colon = strrchr(text, ':');
	const char *space = strchr(text, ' ');
	char	   *file;
	char	   *base;
	uint32		seq;
	char	   *end;
	unsigned long offset;

	/*
	 * start_position forms the stream resolves on the server (mysql_start.c):
	 * no number of their own
	 */
	if (strcmp(text, "earliest") == 0)
		return InvalidXLogRecPtr;
	if (strncmp(text, "time:", 5) == 0)
	{
		/* a finite timestamptz; an error says what is wrong with it */
		TimestampTz ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(text + 5),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1)));

		if (TIMESTAMP_NOT_FINITE(ts))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid start_position \"%s\"", text),
					 errhint("A time: position is a finite timestamp with time zone, like time:2026-11-30 12:00:00+00.")));
		return InvalidXLogRecPtr;
	}
	if (strncmp(text, "gtid:", 5) == 0)
	{
		if (mystart_maria_gtid_list(text + 5) || mypos_mysql_gtid_set(text + 5))
			return InvalidXLogRecPtr;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid GTID set \"%s\"", text + 5),
				 errhint("A MariaDB GTID list is domain-server-seq, comma-separated (gtid:0-1-100,1-2-7); a MySQL GTID set is uuid:interval[:interval] (gtid:3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5).")));
	}

	/* a GTID after the position may contain colons itself */
	if (space != NULL)
	{
		char	   *head = pnstrdup(text, space - text);

		return mysrc_position_in(src, head);
	}
	if (colon == NULL)
		goto bad;
	file = pnstrdup(text, colon - text);
	errno = 0;
	offset = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || errno != 0 || offset > PG_UINT32_MAX || !mypos_split_file(file, &base, &seq))
		goto bad;
	mypos_remember_base(base);
	return mypos_make(seq, (uint32) offset);

bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid binlog position \"%s\"", text),
			 errhint("A MySQL position is a binlog file and an offset, like binlog.000003:1234, a GTID set, like gtid:0-1-100, or earliest.")));
	return InvalidXLogRecPtr;	/* keep the compiler quiet */
}

/*
 * mysrc_position_bytes: binlog bytes between two positions: exact in one
 * file; across files the sizes of the earlier files are not known here, so
 * the bytes of the later file count (a lower bound, never zero).
 */
int64
mysrc_position_bytes(TributarySource *src, XLogRecPtr from, XLogRecPtr to)
{
	if ((from >> 32) == (to >> 32))
		return (int64) ((uint32) to - (uint32) from);
	return Max((int64) (uint32) to, 1);
}

/*
 * master_status: the server's current binlog file and offset (SHOW MASTER
 * STATUS, or SHOW BINARY LOG STATUS on MySQL 8.4) as a position.
 */
static XLogRecPtr
master_status(TributarySource *src)
{
	MYSQL	   *conn = mysrc_conn(src);
	MYSQL_RES  *res = NULL;
	MYSQL_ROW	row;
	char	   *base;
	uint32		seq;
	uint32		offset;

	if (myio_query(conn, "SHOW MASTER STATUS", strlen("SHOW MASTER STATUS")) == 0)
		res = myio_store_result(conn);
	if (res == NULL)
		res = mysrc_query(src, "SHOW BINARY LOG STATUS");
	row = res ? mysql_fetch_row(res) : NULL;
	if (row == NULL || row[0] == NULL || row[1] == NULL)
	{
		if (res)
			mysql_free_result(res);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" reports no binary log position", src->cfg.name),
				 errhint("Enable the binary log (log_bin) and grant REPLICATION CLIENT; tributary.check_source() lists what is missing.")));
	}
	if (!mypos_split_file(row[0], &base, &seq))
	{
		char	   *file = pstrdup(row[0]);

		mysql_free_result(res);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("binlog file name \"%s\" of source \"%s\" has no numeric extension", file, src->cfg.name)));
	}
	offset = (uint32) strtoul(row[1], NULL, 10);
	mysql_free_result(res);
	mypos_remember_base(base);
	return mypos_make(seq, offset);
}

/*
 * file_position: a binlog file name and offset as a position.
 */
static XLogRecPtr
file_position(TributarySource *src, const char *file, const char *offset_text)
{
	char	   *base;
	uint32		seq;

	if (!mypos_split_file(file, &base, &seq))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("binlog file name \"%s\" of source \"%s\" has no numeric extension", file, src->cfg.name)));
	mypos_remember_base(base);
	return mypos_make(seq, (uint32) strtoul(offset_text, NULL, 10));
}

/*
 * snapshot_position: on MariaDB, inside a START TRANSACTION WITH
 * CONSISTENT SNAPSHOT, binlog_snapshot_file and binlog_snapshot_position:
 * every transaction before that position is visible in the view, and
 * none after it.  InvalidXLogRecPtr where the server has no such status
 * (Oracle MySQL).
 */
static XLogRecPtr
snapshot_position(TributarySource *src)
{
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	char	   *file = NULL;
	char	   *offset = NULL;

	res = mysrc_query(src, "SHOW STATUS LIKE 'binlog\\_snapshot\\_%'");
	while (res && (row = mysql_fetch_row(res)) != NULL)
	{
		if (row[0] == NULL || row[1] == NULL)
			continue;
		if (pg_strcasecmp(row[0], "binlog_snapshot_file") == 0 && row[1][0] != '\0')
			file = pstrdup(row[1]);
		else if (pg_strcasecmp(row[0], "binlog_snapshot_position") == 0)
			offset = pstrdup(row[1]);
	}
	if (res)
		mysql_free_result(res);
	if (file == NULL || offset == NULL)
		return InvalidXLogRecPtr;
	return file_position(src, file, offset);
}

/*
 * mysrc_consistent_position: the binlog position of a consistent snapshot
 * (snapshot_position), which every transaction before it is visible in
 * (and in every view opened later), and none after it.  SHOW MASTER
 * STATUS alone is not enough for a stream start: under load a transaction
 * can be in the binlog before its commit in the storage engine completes
 * (group commit), so a position read that way can lie past a transaction
 * that a view opened next does not see, and that the stream, starting
 * after it, would never apply.  Servers without those variables (Oracle
 * MySQL) get SHOW MASTER STATUS; see mysql.md.
 */
XLogRecPtr
mysrc_consistent_position(TributarySource *src)
{
	XLogRecPtr	pos;

	mysql_free_result(mysrc_query(src, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"));
	pos = snapshot_position(src);
	mysql_free_result(mysrc_query(src, "COMMIT"));
	if (pos == InvalidXLogRecPtr)
		pos = master_status(src);
	return pos;
}

/*
 * mysrc_view_position: the exact position of the view
 * mysrc_snapshot_begin opened (snapshot_position), or InvalidXLogRecPtr.
 */
XLogRecPtr
mysrc_view_position(TributarySource *src)
{
	return snapshot_position(src);
}

/*
 * mysrc_current_position: where the source's binlog ends now.
 */
XLogRecPtr
mysrc_current_position(TributarySource *src)
{
	return master_status(src);
}

/*
 * mysrc_stream_fix_start: position first.  MySQL has no slot: the stream
 * start is the binlog position of a consistent snapshot taken before any
 * snapshot view is opened (conservative: changes between it and the views
 * are applied again, idempotently; and every change before it is visible
 * in every view).  No snapshot is exported.
 */
void
mysrc_stream_fix_start(TributarySource *src, const char *slot, List *tables,
					   XLogRecPtr *start_lsn, char **snapshot)
{
	*start_lsn = mysrc_consistent_position(src);
	*snapshot = NULL;
}

/*
 * mysrc_stream_prepare: nothing to prepare on MySQL sources.
 */
void
mysrc_stream_prepare(TributarySource *src, const char *slot, List *tables)
{
}

/*
 * gtid_key: the length of what identifies a GTID's series of
 * transactions: the domain of a MariaDB GTID (before the first "-"), the
 * server (and tag) of a MySQL GTID or GTID set entry ("uuid:n",
 * "uuid:1-5:7", "uuid:tag:n": up to the colon after which there are only
 * numbers, "-" and ":"); 0 when the text is no GTID.
 */
static size_t
gtid_key(const char *gtid)
{
	const char *colon = strchr(gtid, ':');
	const char *dash = strchr(gtid, '-');

	while (colon != NULL)
	{
		if (strspn(colon + 1, "0123456789-:") == strlen(colon + 1) && colon[1] != '\0')
			return colon - gtid;
		colon = strchr(colon + 1, ':');
	}
	if (strchr(gtid, ':') != NULL)
		return 0;
	if (dash != NULL && dash > gtid)
		return dash - gtid;
	return 0;
}

/*
 * mysql_union: a MySQL GTID set entry ("uuid:intervals") with more
 * transactions of the same server ("uuid:n" or "uuid:intervals"), in
 * MySQL's text; NULL when either is not such an entry (a tagged GTID).
 */
static char *
mysql_union(const char *entry, const char *more)
{
	BinlogGtidSet set;
	StringInfoData buf;
	char	   *err;

	bl_gtid_set_init(&set);
	if (!bl_gtid_set_from_text(entry, &set, &err) || !bl_gtid_set_from_text(more, &set, &err) ||
		set.n != 1)
		return NULL;
	initStringInfo(&buf);
	bl_gtid_set_to_text(&set, &buf);
	return buf.data;
}

/*
 * mygtid_set_init: an empty set whose GTIDs live in cxt.
 */
void
mygtid_set_init(MyGtidSet *set, MemoryContext cxt)
{
	memset(set, 0, sizeof(MyGtidSet));
	set->cxt = cxt;
}

/*
 * mygtid_set_add: a transaction's GTID: it replaces the last one of its
 * MariaDB domain; a MySQL GTID ("uuid:n") or GTID set entry
 * ("uuid:1-5:7") joins its server's entry, so that MySQL streams keep
 * the complete executed GTID set.
 */
void
mygtid_set_add(MyGtidSet *set, const char *gtid)
{
	size_t		klen = gtid_key(gtid);
	size_t		len = strlen(gtid);
	int			i;

	if (klen == 0)
		return;
	for (i = 0; i < set->n; i++)
		if (gtid_key(set->gtids[i]) == klen && strncmp(set->gtids[i], gtid, klen) == 0)
			break;
	if (i < set->n && gtid[klen] == ':')
	{
		char	   *merged = mysql_union(set->gtids[i], gtid);

		if (merged != NULL)
		{
			gtid = merged;
			len = strlen(gtid);
		}
	}
	if (i < set->n)
	{
		if (set->sizes[i] > len)
		{
			memcpy(set->gtids[i], gtid, len + 1);
			return;
		}
		pfree(set->gtids[i]);
	}
	else
	{
		if (set->n == set->max)
		{
			set->max = Max(set->max * 2, 4);
			if (set->gtids)
			{
				set->gtids = repalloc(set->gtids, sizeof(char *) * set->max);
				set->sizes = repalloc(set->sizes, sizeof(size_t) * set->max);
			}
			else
			{
				set->gtids = MemoryContextAlloc(set->cxt, sizeof(char *) * set->max);
				set->sizes = MemoryContextAlloc(set->cxt, sizeof(size_t) * set->max);
			}
		}
		set->n++;
	}
	/* room to grow: the next GTID of the series is rarely longer */
	set->sizes[i] = len + 8;
	set->gtids[i] = MemoryContextAlloc(set->cxt, set->sizes[i]);
	memcpy(set->gtids[i], gtid, len + 1);
}

/*
 * mygtid_set_parse: the GTIDs a checkpoint wrote ("g1,g2"), added to set.
 */
void
mygtid_set_parse(MyGtidSet *set, const char *text)
{
	char	   *copy = pstrdup(text);
	char	   *save;

	for (char *g = strtok_r(copy, ",", &save); g != NULL; g = strtok_r(NULL, ",", &save))
		mygtid_set_add(set, g);
	pfree(copy);
}

/*
 * mypos_text: a position and the stream's GTIDs as a checkpoint records
 * them, written over buf.
 */
void
mypos_text(StringInfo buf, XLogRecPtr pos, const MyGtidSet *set)
{
	resetStringInfo(buf);
	appendStringInfo(buf, "%s.%06u:%u", binlog_base ? binlog_base : "binlog",
					 (uint32) (pos >> 32), (uint32) pos);
	for (int i = 0; i < set->n; i++)
		appendStringInfo(buf, "%s%s", i == 0 ? " gtid " : ",", set->gtids[i]);
}

/*
 * mypos_gtids: the GTID part of a position's text, or NULL.
 */
const char *
mypos_gtids(const char *text)
{
	const char *g = strstr(text, " gtid ");

	return g ? g + strlen(" gtid ") : NULL;
}
