/*-------------------------------------------------------------------------
 *
 * mysql_stream.c
 *		Change capture from MySQL / MariaDB: a binlog dump on a connection
 *		of its own, decoded straight into the change sink (change.h) that
 *		stream.c implements: no intermediate encoding.
 *
 * Positions.  A binlog position is a file and an offset.  Inside the worker
 * it is the 64-bit number (file sequence << 32) | offset, which orders
 * positions like LSNs do (binlog files are at most 1 GB, the sequence is
 * the file name's numeric extension); as text it is "binlog.000012:4711",
 * followed by " gtid 0-1-42" (MariaDB) or " gtid uuid:n" (MySQL) when the
 * position is the end of a transaction with a GTID.  Checkpoints store the
 * text; the stream resumes from the file and offset.
 *
 * Transactions.  A transaction starts at a GTID event (MariaDB, unless the
 * GTID is flagged standalone) or a QUERY "BEGIN" (MySQL; its position is
 * that of the preceding GTID event), and ends at XID or QUERY "COMMIT".
 * BEGIN carries the transaction's start position, COMMIT its XID event's
 * start and end: a restart from a checkpoint (the end of the last applied
 * transaction) skips exactly the transactions applied before.  A
 * standalone statement (DDL) outside a transaction touching no job table
 * only reports its end position as a keepalive; the artificial ROTATE and
 * FORMAT_DESCRIPTION events the server sends first never move a position.
 *
 * Tables.  TABLE_MAP events of job tables are kept by table id.  Column
 * names, signedness, charsets and ENUM/SET labels come from the event's
 * optional metadata (binlog_row_metadata = FULL) or, where absent, from
 * information_schema (looked up on the query connection, refreshed after
 * DDL on the table).  The sink learns a table's columns (relation) before
 * its first change and whenever they change.  Each row of a rows event is
 * one sink change (binlog_rows.c decodes the values): values
 * of integer, float, date, timestamp and binary-string columns in the send
 * format of their DESIGN §5 type (the relation names it; apply.c
 * reads a target column of another type through the value's text), the
 * others as text, strings converted from the column's charset.
 *
 * Schema changes.  A QUERY event that is DDL on a job table (mysql_ddl.c: ALTER, RENAME,
 * DROP, TRUNCATE) becomes a sink ddl call (kind, table, statement) inside
 * its transaction, for stream.c to act on by the job's ddl policy.  A
 * TABLE_MAP that does not match what the job knows (a column the job does
 * not know while it maps every column, or, without column names in the
 * binlog, another column count than information_schema has) stops the
 * stream.
 *
 * Responsiveness.  The dump connection has a read timeout and asks the
 * server for heartbeats every heartbeat_interval; stream_poll only reads
 * when a whole event can be expected (the socket is readable or the
 * connector's read-ahead cache holds bytes), so the worker's loop keeps
 * waiting on its latch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <poll.h>

#include "source/mysql_source.h"
#include <mariadb_rpl.h>
#include <ma_pvio.h>

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "access/xlog.h"
#include "catalog.h"
#include "change.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "source/binlog.h"
#include "source/mysql_value.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define NRECENT			64

/* what the stream knows of a job table's columns outside the binlog */
typedef struct SchemaColumn
{
	char	   *name;
	char	   *data_type;
	bool		is_unsigned;
	bool		binary;
	int			encoding;		/* PG encoding of its charset, -1 = none */
	int			nlabels;
	char	  **labels;
} SchemaColumn;

/* a job table, by "db.table" */
typedef struct StreamTable
{
	char		key[2 * 64 + 2];
	TributaryTable *t;
	Oid			relid;
	bool		lenient;		/* DDL on it was passed on: new columns are expected */
	int			nschema;		/* information_schema columns, -1 = not loaded */
	SchemaColumn *schema;
} StreamTable;

/* a TABLE_MAP of a job table */
typedef struct MapEntry
{
	uint64		table_id;
	MemoryContext cxt;
	BinlogTableMap map;
	StreamTable *table;
	int		   *encodings;
	bool		announced;
} MapEntry;

typedef struct RecentCommit
{
	XLogRecPtr	end;
	char		gtid[80];
} RecentCommit;

typedef struct MyStream
{
	MYSQL	   *conn;			/* the dump connection */
	MARIADB_RPL *rpl;
	MARIADB_RPL_EVENT *event;
	MemoryContext cxt;
	BinlogFormat fmt;
	bool		checksum;
	uint32		file_seq;
	HTAB	   *tables;			/* "db.table" -> StreamTable */
	HTAB	   *maps;			/* table id -> MapEntry */
	Oid			next_relid;
	bool		in_xact;
	XLogRecPtr	gtid_start;		/* start of the last GTID event, or 0 */
	char		gtid[80];		/* its GTID, or "" */
	char		cur_gtid[80];	/* of the open transaction */
	RecentCommit recent[NRECENT];
	int			nrecent;
} MyStream;

/* the basename of the source's binlog files, learnt from positions */
static char *binlog_base = NULL;

/*
 * position_make: a file and offset as one number.
 */
static XLogRecPtr
position_make(uint32 seq, uint32 offset)
{
	return ((XLogRecPtr) seq << 32) | offset;
}

/*
 * split_file: a binlog file name's basename and numeric extension.
 */
static bool
split_file(const char *file, char **base, uint32 *seq)
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
 * remember_base: the basename of the source's binlog files.
 */
static void
remember_base(const char *base)
{
	if (binlog_base == NULL || strcmp(binlog_base, base) != 0)
		binlog_base = MemoryContextStrdup(TopMemoryContext, base);
}

/*
 * file_name: the binlog file of a sequence number.
 */
static char *
file_name(uint32 seq)
{
	return psprintf("%s.%06u", binlog_base ? binlog_base : "binlog", seq);
}

/*
 * mysrc_position_out: a position as text, "file:offset [gtid g]".
 */
char *
mysrc_position_out(TributarySource *src, XLogRecPtr pos)
{
	MyStream   *st = (MyStream *) src->stream;
	char	   *text = psprintf("%s:%u", file_name((uint32) (pos >> 32)), (uint32) pos);

	if (st != NULL)
		for (int i = 0; i < Min(st->nrecent, NRECENT); i++)
			if (st->recent[i].end == pos && st->recent[i].gtid[0] != '\0')
				return psprintf("%s gtid %s", text, st->recent[i].gtid);
	return text;
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
	if (*end != '\0' || errno != 0 || offset > PG_UINT32_MAX || !split_file(file, &base, &seq))
		goto bad;
	remember_base(base);
	return position_make(seq, (uint32) offset);

bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid binlog position \"%s\"", text),
			 errhint("A MySQL position is a binlog file and an offset, like binlog.000003:1234.")));
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

	if (mysql_query(conn, "SHOW MASTER STATUS") == 0)
		res = mysql_store_result(conn);
	if (res == NULL)
		res = mysrc_query(src, "SHOW BINARY LOG STATUS");
	row = res ? mysql_fetch_row(res) : NULL;
	if (row == NULL || row[0] == NULL || row[1] == NULL)
	{
		if (res)
			mysql_free_result(res);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" reports no binary log position", src->name),
				 errhint("Enable the binary log (log_bin) and grant REPLICATION CLIENT; tributary.check_source() lists what is missing.")));
	}
	if (!split_file(row[0], &base, &seq))
	{
		char	   *file = pstrdup(row[0]);

		mysql_free_result(res);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("binlog file name \"%s\" of source \"%s\" has no numeric extension", file, src->name)));
	}
	offset = (uint32) strtoul(row[1], NULL, 10);
	mysql_free_result(res);
	remember_base(base);
	return position_make(seq, offset);
}

/*
 * file_position: a binlog file name and offset as a position.
 */
static XLogRecPtr
file_position(TributarySource *src, const char *file, const char *offset_text)
{
	char	   *base;
	uint32		seq;

	if (!split_file(file, &base, &seq))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("binlog file name \"%s\" of source \"%s\" has no numeric extension", file, src->name)));
	remember_base(base);
	return position_make(seq, (uint32) strtoul(offset_text, NULL, 10));
}

/*
 * consistent_position: the binlog position of a consistent snapshot: on
 * MariaDB, binlog_snapshot_file and binlog_snapshot_position of a
 * START TRANSACTION WITH CONSISTENT SNAPSHOT, which every transaction
 * before it is visible in (and in every view opened later), and none
 * after it.  SHOW MASTER STATUS alone is not enough for a stream start:
 * under load a transaction can be in the binlog before its commit in the
 * storage engine completes (group commit), so a position read that way
 * can lie past a transaction that a view opened next does not see, and
 * that the stream, starting after it, would never apply.  Servers without
 * those variables (Oracle MySQL) get SHOW MASTER STATUS; see mysql.md.
 */
static XLogRecPtr
consistent_position(TributarySource *src)
{
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	char	   *file = NULL;
	char	   *offset = NULL;
	XLogRecPtr	pos;

	mysql_free_result(mysrc_query(src, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"));
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
	mysql_free_result(mysrc_query(src, "COMMIT"));
	if (file != NULL && offset != NULL)
		pos = file_position(src, file, offset);
	else
		pos = master_status(src);
	return pos;
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
	*start_lsn = consistent_position(src);
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
 * stream_raise: raise the dump connection's error (a lost connection is a
 * connection failure, which the worker retries).
 */
static void
pg_attribute_noreturn()
stream_raise(TributarySource *src, MyStream *st, const char *what)
{
	unsigned int err = st->rpl ? mariadb_rpl_errno(st->rpl) : 0;
	char	   *msg = NULL;

	if (err != 0 && st->rpl)
		msg = pstrdup(mariadb_rpl_error(st->rpl));
	if ((err == 0 || msg == NULL || *msg == '\0') && st->conn)
	{
		err = mysql_errno(st->conn);
		msg = pstrdup(mysql_error(st->conn));
	}
	if (msg == NULL || *msg == '\0')
	{
		err = 2013;
		msg = pstrdup("the server closed the binlog stream");
	}
	mysrc_raise_saved(src, what, err, msg);
}

/*
 * stream_error: raise a malformed-event error with the position.
 */
static void
pg_attribute_noreturn()
stream_error(TributarySource *src, MyStream *st, uint32 pos, const char *err)
{
	/* not a lost connection: reading the event again would fail the same way */
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid binlog event from source \"%s\": %s", src->name, err),
			 errdetail("The event ends at %s:%u.", file_name(st->file_seq), pos)));
}

/*
 * mysrc_stream_start: open the dump connection and start the binlog dump at
 * start_lsn (a file and offset).
 */
void
mysrc_stream_start(TributarySource *src, const char *slot, XLogRecPtr start_lsn, List *names,
				   bool binary)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "tributary mysql stream",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MyStream   *st = palloc0(sizeof(MyStream));
	HASHCTL		ctl;
	char	   *err;
	char	   *file;
	uint32		offset = (uint32) start_lsn;
	uint32		server_id;
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	ListCell   *lc;

	st->cxt = cxt;
	src->stream = st;
	st->next_relid = 1;
	st->file_seq = (uint32) (start_lsn >> 32);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(((StreamTable *) 0)->key);
	ctl.entrysize = sizeof(StreamTable);
	ctl.hcxt = cxt;
	st->tables = hash_create("tributary mysql tables", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(MapEntry);
	ctl.hcxt = cxt;
	st->maps = hash_create("tributary mysql table maps", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	foreach(lc, src->stream_tables)
	{
		TributaryTable *t = (TributaryTable *) lfirst(lc);
		char		key[2 * 64 + 2];
		StreamTable *e;
		bool		found;

		snprintf(key, sizeof(key), "%s.%s", t->source_nsp, t->source_rel);
		e = hash_search(st->tables, key, HASH_ENTER, &found);
		e->t = t;
		e->relid = st->next_relid++;
		e->lenient = false;
		e->nschema = -1;
		e->schema = NULL;
	}

	st->conn = mysrc_open(src, "pg_tributary binlog", &err);
	if (st->conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to source \"%s\" for its binlog: %s", src->name, err)));

	/* the checksum: the server sends events with its own setting */
	if (mysql_query(st->conn, "SELECT @@global.binlog_checksum") != 0 ||
		(res = mysql_store_result(st->conn)) == NULL)
		stream_raise(src, st, "could not read binlog_checksum");
	row = mysql_fetch_row(res);
	st->checksum = (row && row[0] && pg_strcasecmp(row[0], "NONE") != 0);
	mysql_free_result(res);
	st->fmt.checksum = st->checksum;
	if (mysql_query(st->conn, "SET @master_binlog_checksum = @@global.binlog_checksum") != 0 ||
		mysql_query(st->conn, "SET @mariadb_slave_capability = 4") != 0 ||
		mysql_query(st->conn, psprintf("SET @master_heartbeat_period = " INT64_FORMAT,
									   (int64) src->heartbeat_ms * 1000000)) != 0)
		stream_raise(src, st, "could not prepare the binlog dump");

	server_id = src->server_id > 0 ? (uint32) src->server_id
		: (uint32) (0x54000000 | ((GetSystemIdentifier() & 0xffff) << 8) | (MyProcPid & 0xff));
	if (offset < 4)
		offset = 4;
	file = file_name(st->file_seq);
	st->rpl = mariadb_rpl_init(st->conn);
	if (st->rpl == NULL)
		stream_raise(src, st, "could not start the binlog dump");
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_FILENAME, file, strlen(file));
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_START, (unsigned long) offset);
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_SERVER_ID, server_id);
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_FLAGS, (unsigned int) 0);
	if (mariadb_rpl_open(st->rpl) != 0)
		stream_raise(src, st, psprintf("could not start the binlog dump at %s:%u", file, offset));
	MemoryContextSwitchTo(old);
}

/*
 * mysrc_stream_socket: the dump connection's socket.
 */
pgsocket
mysrc_stream_socket(TributarySource *src)
{
	MyStream   *st = (MyStream *) src->stream;

	return st && st->conn ? mysql_get_socket(st->conn) : PGINVALID_SOCKET;
}

/*
 * mysrc_stream_close: end the dump.
 */
void
mysrc_stream_close(TributarySource *src)
{
	MyStream   *st = (MyStream *) src->stream;

	if (st == NULL)
		return;
	src->stream = NULL;
	if (st->event)
		mariadb_free_rpl_event(st->event);
	if (st->rpl)
		mariadb_rpl_close(st->rpl);
	if (st->conn)
		mysql_close(st->conn);
	MemoryContextDelete(st->cxt);
}

/*
 * event_ready: whether a read will find data: the connector's read-ahead
 * cache holds bytes or the socket is readable.
 */
static bool
event_ready(MyStream *st)
{
	MARIADB_PVIO *pvio = st->conn->net.pvio;
	struct pollfd pfd;

	if (pvio && pvio->cache && pvio->cache + pvio->cache_size > pvio->cache_pos)
		return true;
	pfd.fd = mysql_get_socket(st->conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) > 0;
}

/*
 * parse_labels: the labels of "enum('a','b''c')" or "set(...)".
 */
static void
parse_labels(const char *column_type, SchemaColumn *c)
{
	const char *p = strchr(column_type, '(');
	List	   *labels = NIL;
	ListCell   *lc;
	int			i = 0;

	if (p == NULL)
		return;
	p++;
	while (*p == '\'')
	{
		StringInfoData s;

		initStringInfo(&s);
		p++;
		while (*p)
		{
			if (*p == '\'' && p[1] == '\'')
			{
				appendStringInfoChar(&s, '\'');
				p += 2;
			}
			else if (*p == '\\' && p[1])
			{
				appendStringInfoChar(&s, p[1]);
				p += 2;
			}
			else if (*p == '\'')
			{
				p++;
				break;
			}
			else
				appendStringInfoChar(&s, *p++);
		}
		labels = lappend(labels, s.data);
		if (*p == ',')
			p++;
	}
	c->nlabels = list_length(labels);
	c->labels = palloc(sizeof(char *) * Max(c->nlabels, 1));
	foreach(lc, labels)
		c->labels[i++] = lfirst(lc);
}

/*
 * load_schema: a job table's columns from information_schema, on the query
 * connection.
 */
static void
load_schema(TributarySource *src, MyStream *st, StreamTable *e)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	int			n = 0;

	if (src->conn == NULL)
		tributary_source_connect(src, "pg_tributary");
	res = mysrc_query(src, psprintf("SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME "
									"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
									"AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
									mysrc_quote(src, e->t->source_nsp),
									mysrc_quote(src, e->t->source_rel)));
	e->schema = palloc0(sizeof(SchemaColumn) * Max(mysql_num_rows(res), 1));
	while ((row = mysql_fetch_row(res)) != NULL)
	{
		SchemaColumn *c = &e->schema[n++];

		c->name = pstrdup(row[0]);
		c->data_type = pstrdup(row[1]);
		c->is_unsigned = strstr(row[2], "unsigned") != NULL;
		c->binary = (strstr(row[1], "binary") != NULL || strstr(row[1], "blob") != NULL);
		c->encoding = myv_charset_encoding(row[3]);
		if (strcmp(row[1], "enum") == 0 || strcmp(row[1], "set") == 0)
			parse_labels(row[2], c);
	}
	mysql_free_result(res);
	e->nschema = n;
	MemoryContextSwitchTo(old);
}

/*
 * schema_column: the information_schema column of a name, or NULL.
 */
static SchemaColumn *
schema_column(StreamTable *e, const char *name)
{
	for (int i = 0; i < e->nschema; i++)
		if (strcmp(e->schema[i].name, name) == 0)
			return &e->schema[i];
	return NULL;
}

/*
 * same_columns: whether two table maps have the same columns.
 */
static bool
same_columns(const BinlogTableMap *a, const BinlogTableMap *b)
{
	if (a->ncolumns != b->ncolumns || a->has_names != b->has_names)
		return false;
	for (int i = 0; i < a->ncolumns; i++)
	{
		if (a->columns[i].type != b->columns[i].type || a->columns[i].meta != b->columns[i].meta)
			return false;
		if (a->has_names && strcmp(a->columns[i].name, b->columns[i].name) != 0)
			return false;
	}
	return true;
}

/*
 * schema_mismatch: stop on a TABLE_MAP that does not match what the job
 * knows.
 */
static void
pg_attribute_noreturn()
schema_mismatch(TributarySource *src, MyStream *st, StreamTable *e, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("source table [%s] changed without a DDL statement in the binlog", e->key),
			 errdetail("%s At %s:%u of source \"%s\".", detail, file_name(st->file_seq),
					   st->event ? st->event->next_event_pos : 0, src->name),
			 errhint("Resynchronize the table: drop it from the job and add it again.")));
}

/*
 * complete_map: fill in names, signedness, charsets and labels the
 * TABLE_MAP lacks from information_schema, and check the columns against
 * the job's.
 */
static void
complete_map(TributarySource *src, MyStream *st, MapEntry *m)
{
	BinlogTableMap *map = &m->map;
	StreamTable *e = m->table;
	TributaryTable *t = e->t;

	if (e->nschema < 0)
		load_schema(src, st, e);
	if (!map->has_names)
	{
		if (e->nschema != map->ncolumns)
			schema_mismatch(src, st, e,
							psprintf("The binlog has %d columns for it, information_schema %d, and without binlog_row_metadata = FULL the binlog has no column names.",
									 map->ncolumns, e->nschema));
		for (int i = 0; i < map->ncolumns; i++)
			map->columns[i].name = MemoryContextStrdup(m->cxt, e->schema[i].name);
	}
	m->encodings = MemoryContextAlloc(m->cxt, sizeof(int) * map->ncolumns);
	for (int i = 0; i < map->ncolumns; i++)
	{
		BinlogColumn *col = &map->columns[i];
		SchemaColumn *sc = schema_column(e, col->name);

		m->encodings[i] = sc ? sc->encoding : -1;
		if (m->encodings[i] != -2)
			myv_prepare_conversion(m->encodings[i]);
		col->want_binary = true;
		if (!col->has_signedness && sc)
			col->is_unsigned = sc->is_unsigned;
		if (col->collation == 0 && sc)
			col->collation = sc->binary ? BL_COLLATION_BINARY : 45;
		if ((col->type == MT_ENUM || col->type == MT_SET) && col->labels == NULL && sc)
		{
			col->nlabels = sc->nlabels;
			col->labels = sc->labels;
		}
		if (m->encodings[i] == -2 && col->collation != BL_COLLATION_BINARY)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" of source table [%s] has a character set pg_tributary cannot convert",
							col->name, e->key),
					 errhint("Convert the column to utf8mb4 on the source.")));
	}

	/* a column the job does not know, while it maps every column */
	if (t->all_columns && !e->lenient)
		for (int i = 0; i < map->ncolumns; i++)
		{
			bool		known = false;

			for (int c = 0; c < t->ncolumns && !known; c++)
				known = (t->columns[c].source && strcmp(t->columns[c].source, map->columns[i].name) == 0);
			if (!known)
				schema_mismatch(src, st, e,
								psprintf("The binlog has column \"%s\", which the job does not know.",
										 map->columns[i].name));
		}
}

/*
 * on_table_map: remember a TABLE_MAP of a job table.
 */
static void
on_table_map(TributarySource *src, MyStream *st, BinlogEvent *ev)
{
	MemoryContext cxt = AllocSetContextCreate(st->cxt, "tributary table map", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	BinlogTableMap map;
	char	   *err;
	char		key[2 * 64 + 2];
	StreamTable *e;
	MapEntry   *m;
	bool		found;

	if (!bl_read_table_map(ev, &st->fmt, &map, &err))
		stream_error(src, st, ev->log_pos, err);
	MemoryContextSwitchTo(old);
	snprintf(key, sizeof(key), "%s.%s", map.db, map.table);
	e = hash_search(st->tables, key, HASH_FIND, NULL);
	if (e == NULL)
	{
		/* not a job table: forget any older map of the id */
		m = hash_search(st->maps, &map.table_id, HASH_FIND, NULL);
		if (m)
		{
			MemoryContextDelete(m->cxt);
			hash_search(st->maps, &map.table_id, HASH_REMOVE, NULL);
		}
		MemoryContextDelete(cxt);
		return;
	}
	m = hash_search(st->maps, &map.table_id, HASH_ENTER, &found);
	if (found && m->table == e && same_columns(&m->map, &map))
	{
		MemoryContextDelete(cxt);
		return;
	}
	if (found)
		MemoryContextDelete(m->cxt);
	m->cxt = cxt;
	m->map = map;
	m->table = e;
	m->announced = false;
	complete_map(src, st, m);
}

/*
 * announce: the columns of a table map, to the sink.
 */
static void
announce(MyStream *st, MapEntry *m, TributaryChangeSink *sink)
{
	TribRelation rel;
	TributaryTable *t = m->table->t;

	rel.relid = m->table->relid;
	rel.nspname = t->source_nsp;
	rel.relname = t->source_rel;
	rel.replident = 'f';
	rel.natts = m->map.ncolumns;
	rel.attrs = palloc0(sizeof(TribAttribute) * rel.natts);
	for (int i = 0; i < rel.natts; i++)
	{
		ListCell   *lc;

		rel.attrs[i].name = m->map.columns[i].name;
		/* values of these types come in their send format (apply.c reads them) */
		rel.attrs[i].typoid = bl_binary_type(&m->map.columns[i]);
		rel.attrs[i].typmod = -1;
		foreach(lc, t->key_columns)
			if (strcmp((char *) lfirst(lc), rel.attrs[i].name) == 0)
				rel.attrs[i].flags |= TRIB_ATTR_KEY;
	}
	sink->relation(sink, &rel);
	m->announced = true;
}

/*
 * make_tuple: one row image as a tuple of the change model: values in the
 * binary receive format of bl_binary_type's type, or text converted to
 * the database encoding.
 */
static void
make_tuple(TributarySource *src, MyStream *st, MapEntry *m, BinlogValue *values, TribTuple *tuple)
{
	tuple->natts = m->map.ncolumns;
	for (int i = 0; i < m->map.ncolumns; i++)
	{
		BinlogValue *v = &values[i];
		TribValue  *out = &tuple->values[i];

		out->kind = TRIB_VALUE_NULL;
		out->data = NULL;
		out->len = 0;
		if (v->isnull)
			continue;
		if (v->is_zero_date)
		{
			const char *r = myv_zero_date(src->zero_date, v->data, v->len, m->map.columns[i].name,
										  m->table->key,
										  psprintf("binlog event ending at %s:%u", file_name(st->file_seq),
												   st->event ? st->event->next_event_pos : 0));

			if (r)
			{
				out->kind = TRIB_VALUE_TEXT;
				out->data = (char *) r;
				out->len = strlen(r);
			}
			continue;
		}
		if (v->needs_charset)
		{
			size_t		n;

			v->data = (char *) myv_to_database(v->data, v->len, m->encodings[i], &n,
											   m->map.columns[i].name, m->table->key);
			v->len = (uint32) n;
		}
		out->kind = v->binary ? TRIB_VALUE_BINARY : TRIB_VALUE_TEXT;
		out->data = v->data;
		out->len = v->len;
	}
}

/*
 * on_rows: a rows event of a job table: one sink change per row.
 */
static void
on_rows(TributarySource *src, MyStream *st, BinlogEvent *ev, TributaryChangeSink *sink)
{
	BinlogRows rows;
	char	   *err;
	MapEntry   *m;
	const uint8 *p;
	const uint8 *end;
	BinlogValue *before;
	BinlogValue *after;
	TribTuple	oldtup;
	TribTuple	newtup;

	if (!bl_read_rows(ev, &st->fmt, &rows, &err))
		stream_error(src, st, ev->log_pos, err);
	m = hash_search(st->maps, &rows.table_id, HASH_FIND, NULL);
	if (m == NULL)
		return;					/* not a job table */
	if (!st->in_xact)
		stream_error(src, st, ev->log_pos, "rows event outside a transaction");
	if (rows.ncolumns != m->map.ncolumns)
		stream_error(src, st, ev->log_pos, "rows event and TABLE_MAP disagree on the column count");
	for (int i = 0; i < rows.ncolumns; i++)
		if ((rows.present[i / 8] & (1 << (i % 8))) == 0 ||
			(rows.present_after && (rows.present_after[i / 8] & (1 << (i % 8))) == 0))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("binlog row image of source table [%s] lacks column \"%s\"",
							m->table->key, m->map.columns[i].name),
					 errhint("Set binlog_row_image = FULL on the source.")));
	if (!m->announced)
		announce(st, m, sink);
	before = palloc(sizeof(BinlogValue) * rows.ncolumns);
	after = palloc(sizeof(BinlogValue) * rows.ncolumns);
	oldtup.values = palloc(sizeof(TribValue) * rows.ncolumns);
	newtup.values = palloc(sizeof(TribValue) * rows.ncolumns);
	p = rows.rows;
	end = rows.rows + rows.rows_len;
	while (p < end)
	{
		if (!bl_read_row(&m->map, rows.present, &p, end, before, &err))
			stream_error(src, st, ev->log_pos, psprintf("source table [%s]: %s", m->table->key, err));
		if (rows.kind == 'U' &&
			!bl_read_row(&m->map, rows.present_after, &p, end, after, &err))
			stream_error(src, st, ev->log_pos, psprintf("source table [%s]: %s", m->table->key, err));
		switch (rows.kind)
		{
			case 'I':
				make_tuple(src, st, m, before, &newtup);
				sink->change(sink, TRIB_CHANGE_INSERT, m->table->relid, NULL, &newtup);
				break;
			case 'U':
				make_tuple(src, st, m, before, &oldtup);
				make_tuple(src, st, m, after, &newtup);
				sink->change(sink, TRIB_CHANGE_UPDATE, m->table->relid, &oldtup, &newtup);
				break;
			default:
				make_tuple(src, st, m, before, &oldtup);
				sink->change(sink, TRIB_CHANGE_DELETE, m->table->relid, &oldtup, NULL);
				break;
		}
	}
	pfree(before);
	pfree(after);
	pfree(oldtup.values);
	pfree(newtup.values);
}

/*
 * begin_xact: a source transaction starts.
 */
static void
begin_xact(MyStream *st, XLogRecPtr start, uint32 timestamp, TributaryChangeSink *sink)
{
	st->in_xact = true;
	strlcpy(st->cur_gtid, st->gtid, sizeof(st->cur_gtid));
	sink->begin(sink, start, time_t_to_timestamptz((pg_time_t) timestamp));
}

/*
 * commit_xact: a source transaction ends with the event [start, end).
 */
static void
commit_xact(MyStream *st, XLogRecPtr start, XLogRecPtr end, uint32 timestamp,
			TributaryChangeSink *sink)
{
	RecentCommit *rc = &st->recent[st->nrecent++ % NRECENT];

	st->in_xact = false;
	rc->end = end;
	strlcpy(rc->gtid, st->cur_gtid, sizeof(rc->gtid));
	st->gtid[0] = '\0';
	st->gtid_start = 0;
	sink->commit(sink, start, end, time_t_to_timestamptz((pg_time_t) timestamp));
}

/*
 * on_query: BEGIN, COMMIT, or a statement (DDL).
 */
static void
on_query(TributarySource *src, MyStream *st, BinlogEvent *ev, XLogRecPtr start, XLogRecPtr end,
		 TributaryChangeSink *sink, bool *advanced)
{
	char	   *db;
	char	   *query;
	char	   *err;
	const char *kind;
	List	   *tables;
	ListCell   *lc;
	StreamTable *hit = NULL;

	if (!bl_read_query(ev, &st->fmt, &db, &query, &err))
		stream_error(src, st, ev->log_pos, err);
	if (pg_strcasecmp(query, "BEGIN") == 0 || pg_strncasecmp(query, "XA START", 8) == 0)
	{
		if (!st->in_xact)
			begin_xact(st, st->gtid_start ? st->gtid_start : start, ev->timestamp, sink);
		return;
	}
	if (pg_strcasecmp(query, "COMMIT") == 0 || pg_strcasecmp(query, "ROLLBACK") == 0 ||
		pg_strncasecmp(query, "XA END", 6) == 0 || pg_strncasecmp(query, "XA COMMIT", 9) == 0)
	{
		if (st->in_xact && pg_strncasecmp(query, "XA END", 6) != 0)
			commit_xact(st, start, end, ev->timestamp, sink);
		return;
	}

	kind = mysrc_classify_ddl(query, db, &tables);
	foreach(lc, tables)
	{
		StreamTable *e = hash_search(st->tables, lfirst(lc), HASH_FIND, NULL);

		if (e)
		{
			hit = e;
			break;
		}
	}
	if (kind != NULL && hit != NULL)
	{
		bool		standalone = !st->in_xact;

		if (standalone)
			begin_xact(st, st->gtid_start ? st->gtid_start : start, ev->timestamp, sink);
		sink->ddl(sink, kind, hit->key, query, start);
		if (standalone)
			commit_xact(st, start, end, ev->timestamp, sink);
		/* the table's columns may differ from now on */
		hit->lenient = true;
		hit->nschema = -1;
		return;
	}
	if (!st->in_xact)
	{
		/* a statement of its own that is not about the job */
		st->gtid[0] = '\0';
		st->gtid_start = 0;
		*advanced = true;
	}
}

/*
 * process_event: one event of the dump (or of a TRANSACTION_PAYLOAD:
 * outer_start/outer_end are then the payload's positions), appending its
 * messages to out.  *advanced tells that the stream's position moved
 * without a transaction.
 */
static void
process_event(TributarySource *src, MyStream *st, const uint8 *raw, size_t len,
			  const BinlogFormat *fmt, XLogRecPtr outer_start, XLogRecPtr outer_end,
			  TributaryChangeSink *sink, bool *advanced)
{
	BinlogEvent ev;
	char	   *err;
	XLogRecPtr	start;
	XLogRecPtr	end;
	bool		artificial;

	if (!bl_read_header(raw, len, fmt, &ev, &err))
		stream_error(src, st, 0, err);
	artificial = (ev.log_pos == 0 || (ev.flags & BL_FLAG_ARTIFICIAL) != 0);
	if (outer_end != 0)
	{
		start = outer_start;
		end = outer_end;
	}
	else
	{
		end = position_make(st->file_seq, ev.log_pos);
		start = ev.log_pos >= ev.size ? position_make(st->file_seq, ev.log_pos - ev.size) : end;
	}

	switch (ev.type)
	{
		case BL_FORMAT_DESCRIPTION:
			{
				bool		checksum = st->fmt.checksum;

				if (!bl_read_format(&ev, &st->fmt, &err))
					stream_error(src, st, ev.log_pos, err);
				st->fmt.checksum = checksum;
				break;
			}
		case BL_ROTATE:
			{
				uint64		pos;
				char	   *file;
				char	   *base;
				uint32		seq;

				if (!bl_read_rotate(&ev, &st->fmt, &pos, &file, &err))
					stream_error(src, st, ev.log_pos, err);
				if (!split_file(file, &base, &seq))
					stream_error(src, st, ev.log_pos, psprintf("ROTATE to \"%s\"", file));
				remember_base(base);
				st->file_seq = seq;
				/* a real rotation moves the position; the first, artificial one does not */
				if (!artificial && !st->in_xact)
					*advanced = true;
				return;
			}
		case BL_MARIA_GTID:
		case BL_GTID:
		case BL_ANONYMOUS_GTID:
		case BL_GTID_TAGGED:
			{
				uint8		flags;
				char	   *gtid;

				if (!bl_read_gtid(&ev, &st->fmt, &gtid, &flags, &err))
					stream_error(src, st, ev.log_pos, err);
				strlcpy(st->gtid, gtid ? gtid : "", sizeof(st->gtid));
				st->gtid_start = start;
				if (ev.type == BL_MARIA_GTID && (flags & BL_MARIA_GTID_STANDALONE) == 0 && !st->in_xact)
					begin_xact(st, start, ev.timestamp, sink);
				break;
			}
		case BL_QUERY:
		case BL_MARIA_QUERY_COMPRESSED:
			on_query(src, st, &ev, start, end, sink, advanced);
			break;
		case BL_XID:
			if (st->in_xact)
				commit_xact(st, start, end, ev.timestamp, sink);
			break;
		case BL_TABLE_MAP:
			on_table_map(src, st, &ev);
			break;
		case BL_TRANSACTION_PAYLOAD:
			{
				char	   *events;
				size_t		elen;
				BinlogFormat inner = st->fmt;
				size_t		off = 0;

				if (!bl_read_payload(&ev, &st->fmt, &events, &elen, &err))
					stream_error(src, st, ev.log_pos, err);
				inner.checksum = false;
				while (off < elen)
				{
					uint32		size;

					if (!bl_next_event((const uint8 *) events, elen, off, &size, &err))
						stream_error(src, st, ev.log_pos, psprintf("TRANSACTION_PAYLOAD: %s", err));
					process_event(src, st, (const uint8 *) events + off, size, &inner, start, end, sink,
								  advanced);
					off += size;
					CHECK_FOR_INTERRUPTS();
				}
				break;
			}
		default:
			if (bl_is_rows_event(ev.type))
				on_rows(src, st, &ev, sink);
			else if (!artificial && !st->in_xact && ev.type != BL_HEARTBEAT && ev.type != BL_HEARTBEAT_V2)
				*advanced = true;
			break;
	}
}

/*
 * mysrc_stream_poll: decode up to budget binlog events that can be read
 * without waiting, calling the sink; how many there were.
 */
int
mysrc_stream_poll(TributarySource *src, TributaryChangeSink *sink, int budget)
{
	MyStream   *st = (MyStream *) src->stream;
	int			n;

	for (n = 0; n < budget && event_ready(st); n++)
	{
		MARIADB_RPL_EVENT *ev;
		bool		advanced = false;

		/*
		 * fetch reuses the previous event's memory; on an error it may have
		 * freed it: never free that event again
		 */
		ev = mariadb_rpl_fetch(st->rpl, st->event);
		st->event = ev;
		if (ev == NULL)
			stream_raise(src, st, "lost the binlog stream");
		if (ev->raw_data == NULL || ev->raw_data_size <= ev->raw_data_ofs)
			stream_error(src, st, 0, "empty event");
		process_event(src, st, ev->raw_data + ev->raw_data_ofs, ev->raw_data_size - ev->raw_data_ofs,
					  &st->fmt, 0, 0, sink, &advanced);
		if (advanced)
		{
			/* the end of an event outside any transaction (a real ROTATE: the new file's start) */
			if (ev->event_type == ROTATE_EVENT)
				sink->advance(sink, position_make(st->file_seq, 4), false);
			else if (ev->next_event_pos != 0)
				sink->advance(sink, position_make(st->file_seq, ev->next_event_pos), false);
		}
		CHECK_FOR_INTERRUPTS();
	}
	return n;
}
