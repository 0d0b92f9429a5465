/*-------------------------------------------------------------------------
 *
 * mysql_stream.c
 *		Change capture from MySQL / MariaDB: a binlog dump on a connection
 *		of its own, decoded straight into the change sink (change.h) that
 *		stream.c implements: no intermediate encoding.
 *
 * Positions (mysql_position.c).  A position is a file and an offset; a
 * commit hands the sink the text a checkpoint records, with the GTIDs the
 * stream has passed ("binlog.000012:4711 gtid 0-1-42"); the stream
 * resumes from the file and offset and reads the GTIDs back.
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


#include "source/mysql_source.h"
#include <mariadb_rpl.h>
#include "source/mysql_stream_int.h"

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


/*
 * stream_query: a statement on the dump connection before the dump starts,
 * interruptibly (0 on success).
 */
static int
stream_query(MyStream *st, const char *sql)
{
	return myio_query(st->conn, sql, strlen(sql));
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
 * mystream_error: raise a malformed-event error with the position.
 */
void
mystream_error(TributarySource *src, MyStream *st, uint32 pos, const char *err)
{
	/* not a lost connection: reading the event again would fail the same way */
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid binlog event from source \"%s\": %s", src->cfg.name, err),
			 errdetail("The event ends at %s:%u.", mypos_file_name(st->file_seq), pos)));
}

/*
 * mysrc_stream_start: open the dump connection and start the binlog dump at
 * start_lsn (a file and offset).
 */
void
mysrc_stream_start(TributarySource *src, const char *slot, XLogRecPtr start_lsn,
				   const char *start_text, List *names, bool binary)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "tributary mysql stream",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MyStream   *st = palloc0(sizeof(MyStream));
	HASHCTL		ctl;
	char	   *err;
	char	   *file;
	uint32		offset;
	char	   *gtid_state;
	uint32		server_id;
	MYSQL_RES  *res;
	MYSQL_ROW	row;
	ListCell   *lc;

	st->cxt = cxt;
	src->stream = st;
	st->next_relid = 1;
	st->file_seq = (uint32) (start_lsn >> 32);
	initStringInfo(&st->pos_text);
	mygtid_set_init(&st->gtids, cxt);
	st->event_cxt = AllocSetContextCreate(cxt, "tributary mysql stream event", ALLOCSET_DEFAULT_SIZES);
	/* the GTIDs the checkpoint the stream resumes from had passed */
	if (start_text && mypos_gtids(start_text))
		mygtid_set_parse(&st->gtids, mypos_gtids(start_text));

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
	foreach(lc, src->job.stream_tables)
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

	st->conn = mysrc_open(src, "pg_tributary binlog", true, &err);
	if (st->conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not connect to source \"%s\" for its binlog: %s", src->cfg.name, err)));

	/* the checksum: the server sends events with its own setting */
	if (stream_query(st, "SELECT @@global.binlog_checksum") != 0 ||
		(res = myio_store_result(st->conn)) == NULL)
		stream_raise(src, st, "could not read binlog_checksum");
	row = mysql_fetch_row(res);
	if (row == NULL || row[0] == NULL)
	{
		/*
		 * mariadb_rpl_init reads this setting again and takes its first
		 * row's value without looking: a server without it would crash
		 * the worker inside Connector/C
		 */
		mysql_free_result(res);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" reports no binlog_checksum", src->cfg.name),
				 errdetail("SELECT @@global.binlog_checksum returned no value."),
				 errhint("A MySQL or MariaDB server with binary logging reports NONE or CRC32.")));
	}
	st->checksum = (pg_strcasecmp(row[0], "NONE") != 0);
	mysql_free_result(res);
	st->fmt.checksum = st->checksum;
	if (stream_query(st, "SET @master_binlog_checksum = @@global.binlog_checksum") != 0 ||
		stream_query(st, "SET @mariadb_slave_capability = 4") != 0 ||
		stream_query(st, psprintf("SET @master_heartbeat_period = " INT64_FORMAT,
									   (int64) src->cfg.heartbeat_ms * 1000000)) != 0)
		stream_raise(src, st, "could not prepare the binlog dump");

	server_id = src->cfg.server_id > 0 ? (uint32) src->cfg.server_id
		: (uint32) (0x54000000 | ((GetSystemIdentifier() & 0xffff) << 8) | (MyProcPid & 0xff));
	mystart_choose(src, st, server_id, start_lsn, start_text, &file, &offset, &gtid_state, &st->rebase_pending);
	src->job.positions_pending = st->rebase_pending;
	if (gtid_state && !mystart_is_mariadb(st))
	{
		/* MySQL: COM_BINLOG_DUMP_GTID; the server sends what is not in the set, or refuses */
		if (!mygtid_dump_open(src, st, server_id, gtid_state))
			stream_raise(src, st, psprintf("could not start the binlog dump after GTIDs %s", gtid_state));
		st->by_gtid = true;
		MemoryContextSwitchTo(old);
		return;
	}
	if (gtid_state)
	{
		/* the server sends what follows the state, or refuses (strict mode) */
		if (stream_query(st, psprintf("SET @slave_connect_state = '%s'", gtid_state)) != 0 ||
			stream_query(st, "SET @slave_gtid_strict_mode = 1") != 0 ||
			stream_query(st, "SET @slave_gtid_ignore_duplicates = 0") != 0)
			stream_raise(src, st, "could not prepare the binlog dump by GTID");
		file = "";
		offset = 4;
	}
	st->rpl = mariadb_rpl_init(st->conn);
	if (st->rpl == NULL)
		stream_raise(src, st, "could not start the binlog dump");
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_FILENAME, file, strlen(file));
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_START, (unsigned long) offset);
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_SERVER_ID, server_id);
	mariadb_rpl_optionsv(st->rpl, MARIADB_RPL_FLAGS, (unsigned int) 0);
	if (mariadb_rpl_open(st->rpl) != 0)
		stream_raise(src, st, gtid_state ? psprintf("could not start the binlog dump after GTIDs %s", gtid_state)
					 : psprintf("could not start the binlog dump at %s:%u", file, offset));
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
 * event_ready: whether a read of the dump will find data (mysql_io.c says
 * why the binlog cannot be read through the non-blocking API).
 */
static bool
event_ready(MyStream *st)
{
	return myio_buffered(st->conn);
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
			const char *r = myv_zero_date(src->job.zero_date, v->data, v->len, m->map.columns[i].name,
										  m->table->key,
										  psprintf("binlog event ending at %s:%u", mypos_file_name(st->file_seq),
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
		mystream_error(src, st, ev->log_pos, err);
	m = hash_search(st->maps, &rows.table_id, HASH_FIND, NULL);
	if (m == NULL)
		return;					/* not a job table */
	if (!st->in_xact)
		mystream_error(src, st, ev->log_pos, "rows event outside a transaction");
	if (rows.ncolumns != m->map.ncolumns)
		mystream_error(src, st, ev->log_pos, "rows event and TABLE_MAP disagree on the column count");
	for (int i = 0; i < rows.ncolumns; i++)
		if ((rows.present[i / 8] & (1 << (i % 8))) == 0 ||
			(rows.present_after && (rows.present_after[i / 8] & (1 << (i % 8))) == 0))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("a transaction on source table [%s] was logged with binlog_row_image other than FULL",
							m->table->key),
					 errdetail("Its row images lack column \"%s\" at binlog position %s; pg_tributary needs every column of every changed row to apply updates and deletes exactly.",
							   m->map.columns[i].name, psprintf("%s:%u", mypos_file_name(st->file_seq), ev->log_pos)),
					 errhint("binlog_row_image is a session variable: set it to FULL globally (SET GLOBAL binlog_row_image = 'FULL', and in my.cnf) and in the sessions or accounts that changed it, then copy the job's tables again with tributary.restart_job(job, false): the stream cannot apply this transaction.")));
	if (!m->announced)
		announce(st, m, sink);
	before = palloc(sizeof(BinlogValue) * rows.ncolumns);
	after = palloc(sizeof(BinlogValue) * rows.ncolumns);
	oldtup.values = palloc(sizeof(TribValue) * rows.ncolumns);
	newtup.values = palloc(sizeof(TribValue) * rows.ncolumns);
	p = rows.rows;
	end = rows.rows + rows.rows_len;
	sink->no_ref_actions = (rows.flags & BL_ROWS_NO_FK_CHECKS) != 0;
	while (p < end)
	{
		if (!bl_read_row(&m->map, rows.present, &p, end, before, &err))
			mystream_error(src, st, ev->log_pos, psprintf("source table [%s]: %s", m->table->key, err));
		if (rows.kind == 'U' &&
			!bl_read_row(&m->map, rows.present_after, &p, end, after, &err))
			mystream_error(src, st, ev->log_pos, psprintf("source table [%s]: %s", m->table->key, err));
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
 * mystream_begin: a source transaction starts.
 */
void
mystream_begin(MyStream *st, XLogRecPtr start, uint32 timestamp, TributaryChangeSink *sink)
{
	if (st->rebase_pending)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("the binlog dump sent a transaction before a ROTATE event saying where it begins")));
	st->in_xact = true;
	strlcpy(st->cur_gtid, st->gtid, sizeof(st->cur_gtid));
	sink->begin(sink, start, time_t_to_timestamptz((pg_time_t) timestamp));
}

/*
 * mystream_commit: a source transaction ends with the event [start, end).
 */
void
mystream_commit(MyStream *st, XLogRecPtr start, XLogRecPtr end, uint32 timestamp,
			TributaryChangeSink *sink)
{
	st->in_xact = false;
	if (st->cur_gtid[0] != '\0')
		mygtid_set_add(&st->gtids, st->cur_gtid);
	st->gtid[0] = '\0';
	st->gtid_start = 0;
	mypos_text(&st->pos_text, end, &st->gtids);
	sink->commit(sink, start, end, time_t_to_timestamptz((pg_time_t) timestamp), st->pos_text.data);
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
	List	   *actions;
	StreamTable *hit = NULL;

	if (!bl_read_query(ev, &st->fmt, &db, &query, &err))
		mystream_error(src, st, ev->log_pos, err);
	if (pg_strcasecmp(query, "BEGIN") == 0)
	{
		if (!st->in_xact)
			mystream_begin(st, st->gtid_start ? st->gtid_start : start, ev->timestamp, sink);
		return;
	}
	if (pg_strcasecmp(query, "COMMIT") == 0 || pg_strcasecmp(query, "ROLLBACK") == 0)
	{
		if (st->in_xact)
			mystream_commit(st, start, end, ev->timestamp, sink);
		return;
	}
	if (mystream_xa_statement(src, st, query, ev, start, end, sink, advanced))
		return;

	kind = mysrc_classify_ddl(query, db, &tables, &actions);
	if (kind != NULL)
	{
		/* the statement's job tables, each with its new name if renamed */
		bool		pairs = (strcmp(kind, "rename_table") == 0);
		bool		standalone = !st->in_xact;
		bool		began = false;
		bool		tangled = false;
		bool		inert_only = true;
		ListCell   *lc;

		/*
		 * renames in a chain or a swap (a new name renamed again later in
		 * the statement, or a job table's name given to another table:
		 * "t TO t_old, t_new TO t" of online schema change tools) cannot
		 * be followed table by table: no new names, so apply refuses them
		 */
		for (int i = 0; pairs && i + 1 < list_length(tables); i += 2)
		{
			const char *to = list_nth(tables, i + 1);

			if (hash_search(st->tables, to, HASH_FIND, NULL) != NULL)
				tangled = true;
			for (int j = i + 2; j + 1 < list_length(tables); j += 2)
				if (strcmp(to, list_nth(tables, j)) == 0)
					tangled = true;
		}

		for (int i = 0; i < list_length(tables); i += pairs ? 2 : 1)
		{
			StreamTable *e = hash_search(st->tables, list_nth(tables, i), HASH_FIND, NULL);

			if (e == NULL)
				continue;
			if (standalone && !began)
				mystream_begin(st, st->gtid_start ? st->gtid_start : start, ev->timestamp, sink);
			began = true;
			hit = e;
			if (actions == NIL)
				sink->ddl(sink, kind, e->key, query, start, NULL,
						  pairs && !tangled && i + 1 < list_length(tables) ? list_nth(tables, i + 1) : NULL, 0);
			/* an ALTER TABLE: each of its actions, by its kind's policy */
			foreach(lc, actions)
			{
				MyDdlAction *a = (MyDdlAction *) lfirst(lc);
				const char *to = a->new_name;

				/* a rename to a job table's name is a swap: not followed */
				if (strcmp(a->kind, "rename_table") == 0 && to != NULL &&
					hash_search(st->tables, to, HASH_FIND, NULL) != NULL)
					to = NULL;
				sink->ddl(sink, a->kind, e->key, query, start, a->column, to,
						  a->inert ? TRIB_DDL_INERT : 0);
				inert_only = inert_only && a->inert;
			}
			/* the table's columns may differ from now on */
			if (actions == NIL || !inert_only)
				e->lenient = true;
			e->nschema = -1;
		}
		if (hit != NULL)
		{
			if (standalone)
				mystream_commit(st, start, end, ev->timestamp, sink);
			return;
		}
	}
	if (!st->in_xact)
	{
		/* a statement of its own that is not about the job: passed */
		if (st->gtid[0] != '\0')
			mygtid_set_add(&st->gtids, st->gtid);
		st->gtid[0] = '\0';
		st->gtid_start = 0;
		*advanced = true;
	}
}

/*
 * mystream_process_event: one event of the dump (or of a TRANSACTION_PAYLOAD:
 * outer_start/outer_end are then the payload's positions), appending its
 * messages to out.  *advanced tells that the stream's position moved
 * without a transaction.
 */
void
mystream_process_event(TributarySource *src, MyStream *st, const uint8 *raw, size_t len,
			  const BinlogFormat *fmt, XLogRecPtr outer_start, XLogRecPtr outer_end,
			  TributaryChangeSink *sink, bool *advanced)
{
	BinlogEvent ev;
	char	   *err;
	XLogRecPtr	start;
	XLogRecPtr	end;
	bool		artificial;

	if (!bl_read_header(raw, len, fmt, &ev, &err))
		mystream_error(src, st, 0, err);
	artificial = (ev.log_pos == 0 || (ev.flags & BL_FLAG_ARTIFICIAL) != 0);
	if (outer_end != 0)
	{
		start = outer_start;
		end = outer_end;
	}
	else
	{
		end = mypos_make(st->file_seq, ev.log_pos);
		start = ev.log_pos >= ev.size ? mypos_make(st->file_seq, ev.log_pos - ev.size) : end;
	}

	switch (ev.type)
	{
		case BL_FORMAT_DESCRIPTION:
			{
				bool		checksum = st->fmt.checksum;

				if (!bl_read_format(&ev, &st->fmt, &err))
					mystream_error(src, st, ev.log_pos, err);
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
					mystream_error(src, st, ev.log_pos, err);
				if (!mypos_split_file(file, &base, &seq))
					mystream_error(src, st, ev.log_pos, psprintf("ROTATE to \"%s\"", file));
				mypos_remember_base(base);
				st->file_seq = seq;
				/* the server chose where to begin: positions start again there */
				if (st->rebase_pending && sink->rebase)
				{
					st->rebase_pending = false;
					src->job.positions_pending = false;
					sink->rebase(sink, mypos_make(seq, (uint32) Max(pos, 4)));
				}
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
					mystream_error(src, st, ev.log_pos, err);
				strlcpy(st->gtid, gtid ? gtid : "", sizeof(st->gtid));
				st->gtid_start = start;
				if (ev.type == BL_MARIA_GTID && (flags & BL_MARIA_GTID_STANDALONE) == 0 && !st->in_xact)
					mystream_begin(st, start, ev.timestamp, sink);
				if (ev.type == BL_MARIA_GTID && (flags & BL_MARIA_GTID_PREPARED_XA) != 0)
				{
					BinlogXid	xid;
					bool		has_xid;

					if (!bl_read_gtid_xa(&ev, &xid, &has_xid, &err))
						mystream_error(src, st, ev.log_pos, err);
					if (has_xid && st->in_xact)
						mystream_xa_begin(st, &xid);
				}
				break;
			}
		case BL_QUERY:
		case BL_MARIA_QUERY_COMPRESSED:
			on_query(src, st, &ev, start, end, sink, advanced);
			break;
		case BL_XID:
			if (st->in_xact)
				mystream_commit(st, start, end, ev.timestamp, sink);
			break;
		case BL_TABLE_MAP:
			mystream_on_table_map(src, st, &ev);
			if (st->xa_holding)
				mystream_xa_hold(src, st, &ev, raw, len, fmt, sink);
			break;
		case BL_XA_PREPARE:
			mystream_xa_prepare(src, st, &ev, start, end, sink, advanced);
			break;
		case BL_INCIDENT:
			{
				int			incident;
				char	   *message;

				if (!bl_read_incident(&ev, fmt, &incident, &message, &err))
					mystream_error(src, st, ev.log_pos, err);
				/* as a MySQL replica does: the binlog lacks changes the source made */
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("source \"%s\" logged incident %d in its binlog: %s", src->cfg.name, incident,
								*message ? message : "events are missing"),
						 errdetail("The binlog lacks changes the source made (incident at %s:%u), so the job cannot apply them.",
								   mypos_file_name(st->file_seq), ev.log_pos),
						 errhint("Copy the job's tables again with tributary.restart_job(job, false).")));
			}
			break;
		case BL_TRANSACTION_PAYLOAD:
			{
				char	   *events;
				size_t		elen;
				BinlogFormat inner = st->fmt;
				size_t		off = 0;

				if (!bl_read_payload(&ev, &st->fmt, &events, &elen, &err))
					mystream_error(src, st, ev.log_pos, err);
				inner.checksum = false;
				while (off < elen)
				{
					uint32		size;

					if (!bl_next_event((const uint8 *) events, elen, off, &size, &err))
						mystream_error(src, st, ev.log_pos, psprintf("TRANSACTION_PAYLOAD: %s", err));
					mystream_process_event(src, st, (const uint8 *) events + off, size, &inner, start, end, sink,
								  advanced);
					off += size;
					CHECK_FOR_INTERRUPTS();
				}
				break;
			}
		case BL_HEARTBEAT:
			{
				char	   *file;
				char	   *base;
				uint32		seq;

				/*
				 * A MySQL dump by GTID sends no event of the transactions the
				 * set holds, only heartbeats now and then, and one at the end
				 * of the binlog: the stream has passed its position (if that
				 * is inside a skipped transaction, mysql_gtid.c finds that
				 * out before resuming there)
				 */
				if (!bl_read_heartbeat(&ev, &st->fmt, &file, &err))
					mystream_error(src, st, ev.log_pos, err);
				if (st->by_gtid && !st->in_xact && !st->rebase_pending && !st->xa_holding &&
					mypos_split_file(file, &base, &seq) && seq == st->file_seq && ev.log_pos > 4)
					*advanced = true;
				break;
			}
		default:
			if (bl_is_rows_event(ev.type) && st->xa_holding)
				mystream_xa_hold(src, st, &ev, raw, len, fmt, sink);
			else if (bl_is_rows_event(ev.type))
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

	for (n = 0; n < budget && !sink->stop_poll && event_ready(st); n++)
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
			mystream_error(src, st, 0, "empty event");
		{
			/* a poll decodes many events; each one's memory goes with it */
			MemoryContext old = MemoryContextSwitchTo(st->event_cxt);

			mystream_process_event(src, st, ev->raw_data + ev->raw_data_ofs, ev->raw_data_size - ev->raw_data_ofs,
						  &st->fmt, 0, 0, sink, &advanced);
			MemoryContextSwitchTo(old);
			MemoryContextReset(st->event_cxt);
		}
		if (advanced && (ev->event_type == ROTATE_EVENT || ev->next_event_pos != 0))
		{
			/* the end of an event outside any transaction (a real ROTATE: the new file's start) */
			XLogRecPtr	pos = mypos_make(st->file_seq,
										 ev->event_type == ROTATE_EVENT ? 4 : ev->next_event_pos);

			mypos_text(&st->pos_text, pos, &st->gtids);
			sink->advance(sink, pos, false, st->pos_text.data);
		}
		CHECK_FOR_INTERRUPTS();
	}
	return n;
}
