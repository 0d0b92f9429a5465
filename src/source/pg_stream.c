/*-------------------------------------------------------------------------
 *
 * pg_stream.c
 *		The change stream of a PostgreSQL source: a logical replication
 *		slot with tributary_decoder, read over a replication connection.
 *
 * Protocol (the walsender's, in CopyBoth mode after START_REPLICATION):
 *	'w'	XLogData		data_start u64, wal_end u64, send_time i64, payload
 *						(one tributary_decoder message)
 *	'k'	keepalive		wal_end u64, send_time i64, reply_requested u8
 *	'r'	our feedback	write u64, flush u64, apply u64, send_time i64,
 *						reply_requested u8
 *
 * Decoders: tributary_decoder when the source allows it, else PostgreSQL's
 * pgoutput (source option decoder = auto | tributary_decoder | pgoutput),
 * with a publication of the job's tables named like the slot.  Slot
 * creation (CREATE_REPLICATION_SLOT ... LOGICAL <decoder> EXPORT_SNAPSHOT)
 * returns the slot's consistent point, which becomes the job's stream
 * start position, and a snapshot of exactly that point.  The
 * snapshot stays usable (SET TRANSACTION SNAPSHOT on the normal connection)
 * while the replication connection stays idle, i.e. until stream_start.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "change.h"
#include "decoder/proto.h"
#include "source/connector.h"
#include "source/pg_libpq.h"
#include "source/pg_stream.h"
#include "source/pgoutput_read.h"

/* pgoutput: between STREAM START and STREAM STOP (changes carry an xid) */
static bool pgoutput_in_stream = false;

/*
 * What one CopyData decodes to (the messages, their tuples) lives here and
 * is freed before the next: a poll decodes many, and the caller's context
 * is only reset after the poll.  A child of the context the stream started
 * in, which frees it with the stream's reconnect attempt.
 */
static MemoryContext decode_cxt = NULL;

/*
 * stream_conn: the replication connection, opened on first use.
 */
static PGconn *
stream_conn(TributarySource *src)
{
	if (src->stream == NULL)
	{
		char	   *err;
		char	   *appname = psprintf("pg_tributary stream %s", src->cfg.name);

		src->stream = tributary_pq_connect(src->cfg.conninfo, appname, true, src->cfg.connect_timeout, &err);
		if (src->stream == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
					 errmsg("could not open a replication connection to source \"%s\": %s",
							src->cfg.name, err),
					 errhint("The source's user needs the REPLICATION privilege and pg_hba.conf must allow it; see tributary.check_source().")));
		if (src->cfg.password_required && !PQconnectionUsedPassword((PGconn *) src->stream))
		{
			PQfinish((PGconn *) src->stream);
			src->stream = NULL;
			tributary_password_refused(src);
		}
	}
	return (PGconn *) src->stream;
}

/*
 * table_list: "ONLY s1.t1, ONLY s2.t2" of quoted "schema.table" names: a
 * publication of an inheritance parent must not take in its children
 * (the source would then refuse updates and deletes on children without a
 * replica identity).  A partitioned table's partitions are published
 * whatever ONLY says.
 */
static char *
table_list(List *tables)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, tables)
		appendStringInfo(&buf, "%sONLY %s", foreach_current_index(lc) > 0 ? ", " : "", (char *) lfirst(lc));
	return buf.data;
}

/*
 * refuse_partitioned: pgoutput does not send a TRUNCATE of a single
 * partition (with or without publish_via_partition_root), so a job whose
 * slot uses it cannot stream a partitioned table exactly.  add_table
 * refuses it when the source's decoder option says pgoutput; this catches
 * decoder auto falling back to pgoutput.
 */
static void
refuse_partitioned(TributarySource *src, List *tables)
{
	ListCell   *lc;

	foreach(lc, tables)
	{
		const char *params[1] = {(char *) lfirst(lc)};
		PGresult   *res = tributary_pq_query((PGconn *) src->conn, src->cfg.name,
											 "SELECT relkind FROM pg_catalog.pg_class WHERE oid = $1::regclass",
											 1, params);
		bool		partitioned = (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 'p');

		PQclear(res);
		if (partitioned)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("source table %s is partitioned, which pgoutput cannot stream exactly", params[0]),
					 errdetail("Source \"%s\" streams through pgoutput, which does not send a TRUNCATE of a single partition.", src->cfg.name),
					 errhint("List tributary_decoder in output_plugin_libraries on the source, then copy the job again with tributary.restart_job(job, false).")));
	}
}

/*
 * pg_stream_prepare: with pgoutput, make the job's publication hold
 * exactly the job's tables (before any snapshot view is taken, so that no
 * change of a newly added table is missed).
 */
void
pg_stream_prepare(TributarySource *src, const char *slot, List *tables)
{
	PGconn	   *conn = (PGconn *) src->conn;
	const char *params[1] = {slot};
	PGresult   *res;
	bool		exists;

	if (src->job.slot_decoder == NULL || strcmp(src->job.slot_decoder, "pgoutput") != 0)
		return;
	refuse_partitioned(src, tables);
	res = tributary_pq_query(conn, src->cfg.name,
							 "SELECT count(*) FROM pg_catalog.pg_publication WHERE pubname = $1", 1, params);
	exists = (strcmp(PQgetvalue(res, 0, 0), "0") != 0);
	PQclear(res);
	/* the session is read-only but for this statement (pg_libpq.c) */
	PQclear(tributary_pq_query(conn, src->cfg.name, "BEGIN READ WRITE", 0, NULL));
	PQclear(tributary_pq_query(conn, src->cfg.name,
							   psprintf(exists ? "ALTER PUBLICATION %s SET TABLE %s" : "CREATE PUBLICATION %s FOR TABLE %s",
										quote_identifier(slot), table_list(tables)),
							   0, NULL));
	PQclear(tributary_pq_query(conn, src->cfg.name, "COMMIT", 0, NULL));
}

/*
 * create_slot_with: CREATE_REPLICATION_SLOT with a decoder; NULL or the
 * source's error text.
 */
static char *
create_slot_with(TributarySource *src, const char *slot, const char *decoder,
				 XLogRecPtr *start_lsn, char **snapshot)
{
	PGconn	   *conn = stream_conn(src);
	char	   *sql = psprintf("CREATE_REPLICATION_SLOT %s LOGICAL %s EXPORT_SNAPSHOT",
							   quote_identifier(slot), decoder);
	PGresult   *res = tributary_pq_exec_replication(conn, sql, 0);
	char	   *err = NULL;

	if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		*start_lsn = tributary_parse_lsn(PQgetvalue(res, 0, 1));
		*snapshot = pstrdup(PQgetvalue(res, 0, 2));
	}
	else if (res == NULL || PQstatus(conn) == CONNECTION_BAD)
		tributary_pq_raise(conn, res, src->cfg.name, "could not create replication slot");
	else
		err = pchomp(PQresultErrorMessage(res));
	PQclear(res);
	return err;
}

/*
 * pg_stream_fix_start: create the job's slot with the decoder the
 * source option asks for (auto: tributary_decoder if the source allows it,
 * else pgoutput and its publication); return its consistent point and the
 * exported snapshot's name.
 */
void
pg_stream_fix_start(TributarySource *src, const char *slot, List *tables,
					XLogRecPtr *start_lsn, char **snapshot)
{
	const char *wanted = src->cfg.decoder ? src->cfg.decoder : "auto";
	char	   *err = NULL;

	if (strcmp(wanted, "pgoutput") != 0)
	{
		err = create_slot_with(src, slot, "tributary_decoder", start_lsn, snapshot);
		if (err == NULL)
		{
			src->job.slot_decoder = MemoryContextStrdup(TopMemoryContext, "tributary_decoder");
			return;
		}
		if (strcmp(wanted, "tributary_decoder") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("could not create a tributary_decoder slot on source \"%s\": %s", src->cfg.name, err),
					 errhint("Install tributary_decoder on the source and list it in output_plugin_libraries, or set the source option decoder to auto.")));
		ereport(LOG,
				(errmsg("source \"%s\" does not allow tributary_decoder (%s); using pgoutput", src->cfg.name, err)));
	}
	src->job.slot_decoder = MemoryContextStrdup(TopMemoryContext, "pgoutput");
	pg_stream_prepare(src, slot, tables);
	err = create_slot_with(src, slot, "pgoutput", start_lsn, snapshot);
	if (err != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not create a pgoutput slot on source \"%s\": %s", src->cfg.name, err)));
}

/*
 * pg_current_position: the source's WAL insert position: every transaction
 * committed (or visible) by now committed before it.
 */
XLogRecPtr
pg_current_position(TributarySource *src)
{
	PGresult   *res = tributary_pq_query((PGconn *) src->conn, src->cfg.name,
										 "SELECT pg_catalog.pg_current_wal_insert_lsn()", 0, NULL);
	XLogRecPtr	lsn = tributary_parse_lsn(PQgetvalue(res, 0, 0));

	PQclear(res);
	return lsn;
}

/*
 * replication_literal: a string literal for a replication command: in
 * single quotes with quotes doubled.  The replication grammar takes no
 * E'' strings (PQescapeLiteral writes one for a backslash) and reads a
 * backslash as itself.
 */
static char *
replication_literal(const char *value)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '\'');
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'')
			appendStringInfoChar(&buf, '\'');
		appendStringInfoChar(&buf, *p);
	}
	appendStringInfoChar(&buf, '\'');
	return buf.data;
}

/*
 * pg_stream_start: START_REPLICATION from start_lsn for the given tables.
 */
void
pg_stream_start(TributarySource *src, const char *slot, XLogRecPtr start_lsn,
				const char *start_text, List *tables, bool binary)
{
	PGconn	   *conn = stream_conn(src);
	StringInfoData list;
	StringInfoData sql;
	ListCell   *lc;
	PGresult   *res;
	char	   *lit;

	pgoutput_in_stream = false;
	decode_cxt = AllocSetContextCreate(CurrentMemoryContext, "tributary pg stream message",
									   ALLOCSET_DEFAULT_SIZES);

	initStringInfo(&sql);
	if (src->job.slot_decoder && strcmp(src->job.slot_decoder, "pgoutput") == 0)
	{
		char	   *pubs = psprintf("%s", quote_identifier(slot));

		lit = replication_literal(pubs);
		appendStringInfo(&sql, "START_REPLICATION SLOT %s LOGICAL %X/%X (proto_version '1', publication_names %s)",
						 quote_identifier(slot), LSN_FORMAT_ARGS(start_lsn), lit);
	}
	else
	{
		initStringInfo(&list);
		foreach(lc, tables)
			appendStringInfo(&list, "%s%s", foreach_current_index(lc) > 0 ? "," : "", (char *) lfirst(lc));
		lit = replication_literal(list.data);
		appendStringInfo(&sql, "START_REPLICATION SLOT %s LOGICAL %X/%X (\"proto_version\" '2', \"tables\" %s, \"binary\" '%s')",
						 quote_identifier(slot), LSN_FORMAT_ARGS(start_lsn), lit, binary ? "true" : "false");
	}
	res = tributary_pq_exec_replication(conn, sql.data, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_BOTH)
		tributary_pq_raise(conn, res, src->cfg.name, "could not start streaming");
	PQclear(res);
}

/* the CopyData block read last */
static char *stream_buf = NULL;

/*
 * read_copydata: the next CopyData of the replication connection, if one
 * is buffered (its length; 0 when none).  It stays in stream_buf until the
 * next call.
 */
static int
read_copydata(TributarySource *src, PGconn *conn)
{
	int			len;

	if (stream_buf)
	{
		PQfreemem(stream_buf);
		stream_buf = NULL;
	}
	len = PQgetCopyData(conn, &stream_buf, 1);
	if (len == 0)
	{
		if (PQconsumeInput(conn) == 0)
			tributary_pq_raise(conn, NULL, src->cfg.name, "lost the replication connection");
		len = PQgetCopyData(conn, &stream_buf, 1);
	}
	if (len == -1)
	{
		PGresult   *res = PQgetResult(conn);

		tributary_pq_raise(conn, res, src->cfg.name, "the source ended the stream");
	}
	if (len < 0)
		tributary_pq_raise(conn, NULL, src->cfg.name, "lost the replication connection");
	return len;
}

/*
 * dispatch: one decoded message to the sink.  Logical messages
 * (pg_logical_emit_message) carry nothing for a job and are not acted on:
 * whoever can write to the source must not steer the target's DDL
 * handling through them.
 */
static void
dispatch(TributarySource *src, TribMessage *m, TributaryChangeSink *sink)
{
	switch (m->type)
	{
		case TRIB_MSG_BEGIN:
			sink->begin(sink, m->lsn, m->commit_ts);
			break;
		case TRIB_MSG_COMMIT:
			sink->commit(sink, m->lsn, m->end_lsn, m->commit_ts, NULL);
			break;
		case TRIB_MSG_RELATION:
			sink->relation(sink, &m->relation);
			break;
		case TRIB_MSG_INSERT:
			sink->change(sink, TRIB_CHANGE_INSERT, m->relid, NULL, &m->newtuple);
			break;
		case TRIB_MSG_UPDATE:
			sink->change(sink, TRIB_CHANGE_UPDATE, m->relid, m->has_old ? &m->oldtuple : NULL,
						 &m->newtuple);
			break;
		case TRIB_MSG_DELETE:
			sink->change(sink, TRIB_CHANGE_DELETE, m->relid, m->has_old ? &m->oldtuple : NULL, NULL);
			break;
		case TRIB_MSG_TRUNCATE:
			sink->truncate(sink, m->nrelids, m->relids, (m->flags & TRIB_TRUNCATE_PARTITION) != 0);
			break;
		case TRIB_MSG_NONE:
		case TRIB_MSG_MESSAGE:
			break;
		default:
			/* streamed transactions are never asked for */
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("unexpected message '%c' in the stream of source \"%s\"",
							m->type, src->cfg.name)));
	}
}

/*
 * decode_data: the messages of one XLogData payload (several with
 * tributary_decoder's protocol version 2), through the slot's decoder.
 */
static void
decode_data(TributarySource *src, StringInfo in, TributaryChangeSink *sink)
{
	bool		pgoutput = (src->job.slot_decoder && strcmp(src->job.slot_decoder, "pgoutput") == 0);

	do
	{
		TribMessage m;

		if (pgoutput)
		{
			tributary_read_pgoutput(in, pgoutput_in_stream, &m);
			if (m.type == TRIB_MSG_STREAM_START)
				pgoutput_in_stream = true;
			else if (m.type == TRIB_MSG_STREAM_STOP)
				pgoutput_in_stream = false;
		}
		else
			trib_read_next_message(in, false, &m);
		dispatch(src, &m, sink);
	} while (in->cursor < in->len);
}

/*
 * pg_stream_poll: decode up to budget CopyData messages of the stream that
 * are already received, calling the sink; how many there were.
 */
int
pg_stream_poll(TributarySource *src, TributaryChangeSink *sink, int budget)
{
	PGconn	   *conn = stream_conn(src);
	int			n;

	for (n = 0; n < budget && !sink->stop_poll; n++)
	{
		int			len = read_copydata(src, conn);
		StringInfoData in;
		XLogRecPtr	lsn;

		if (len == 0)
			break;
		in.data = stream_buf;
		in.len = len;
		in.maxlen = len;
		in.cursor = 0;
		switch (pq_getmsgbyte(&in))
		{
			case 'w':
				{
					StringInfoData payload;
					MemoryContext old;

					lsn = pq_getmsgint64(&in);
					(void) pq_getmsgint64(&in); /* wal_end */
					(void) pq_getmsgint64(&in); /* send_time */
					payload.data = in.data + in.cursor;
					payload.len = in.len - in.cursor;
					payload.maxlen = payload.len;
					payload.cursor = 0;
					old = MemoryContextSwitchTo(decode_cxt);
					decode_data(src, &payload, sink);
					sink->advance(sink, lsn, false, NULL);
					MemoryContextSwitchTo(old);
					MemoryContextReset(decode_cxt);
					break;
				}
			case 'k':
				{
					bool		reply;

					lsn = pq_getmsgint64(&in);
					(void) pq_getmsgint64(&in); /* send_time */
					reply = (pq_getmsgbyte(&in) != 0);
					sink->advance(sink, lsn, reply, NULL);
					break;
				}
			default:
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("unexpected replication message type 0x%02x from source \"%s\"",
								(unsigned char) in.data[0], src->cfg.name)));
		}
		CHECK_FOR_INTERRUPTS();
	}
	return n;
}

/*
 * pg_stream_feedback: tell the source what we have written and what is
 * durably applied (the slot's confirmed position follows flush).
 */
void
pg_stream_feedback(TributarySource *src, XLogRecPtr write, XLogRecPtr flush, bool reply_requested)
{
	PGconn	   *conn = stream_conn(src);
	StringInfoData buf;

	initStringInfo(&buf);
	pq_sendbyte(&buf, 'r');
	pq_sendint64(&buf, write);
	pq_sendint64(&buf, flush);
	pq_sendint64(&buf, flush);	/* apply */
	pq_sendint64(&buf, GetCurrentTimestamp());
	pq_sendbyte(&buf, reply_requested ? 1 : 0);
	if (PQputCopyData(conn, buf.data, buf.len) <= 0 || PQflush(conn) < 0)
		tributary_pq_raise(conn, NULL, src->cfg.name, "could not send feedback");
	pfree(buf.data);
}

/*
 * pg_stream_socket: the replication connection's socket.
 */
pgsocket
pg_stream_socket(TributarySource *src)
{
	return PQsocket(stream_conn(src));
}

/*
 * pg_stream_close: close the replication connection, if open.
 */
void
pg_stream_close(TributarySource *src)
{
	if (stream_buf)
		PQfreemem(stream_buf);
	stream_buf = NULL;
	decode_cxt = NULL;			/* freed with the context the stream started in */
	if (src->stream)
		PQfinish((PGconn *) src->stream);
	src->stream = NULL;
}


/*
 * pg_drop_slot: drop a slot over the normal connection, terminating the
 * walsender that holds it first.  Returns NULL or the source's error.
 */
char *
pg_drop_slot(TributarySource *src, const char *slot)
{
	PGconn	   *conn = (PGconn *) src->conn;
	const char *params[1] = {slot};
	PGresult   *res;
	char	   *err = NULL;

	for (int attempt = 0; attempt < 50; attempt++)
	{
		res = tributary_pq_exec(conn,
								"SELECT pg_catalog.pg_terminate_backend(active_pid, 5000) "
								"FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL",
								1, params, 10000);
		PQclear(res);
		res = tributary_pq_exec(conn,
								"SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
								"FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
								1, params, 10000);
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			PQclear(res);
			/* the publication of a pgoutput slot has the slot's name */
			PQclear(tributary_pq_exec(conn, "BEGIN READ WRITE", 0, NULL, 10000));
			res = tributary_pq_exec(conn, psprintf("DROP PUBLICATION IF EXISTS %s", quote_identifier(slot)),
									0, NULL, 10000);
			PQclear(tributary_pq_exec(conn, "COMMIT", 0, NULL, 10000));
			if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
				err = psprintf("the slot was dropped, but not its publication: %s",
							   res ? pchomp(PQresultErrorMessage(res)) : pchomp(PQerrorMessage(conn)));
			PQclear(res);
			return err;
		}
		err = res ? pchomp(PQresultErrorMessage(res)) : pchomp(PQerrorMessage(conn));
		PQclear(res);
		/* the slot may still be in use for a moment after its walsender ended */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return err;
}
