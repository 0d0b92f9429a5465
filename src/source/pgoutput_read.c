/*-------------------------------------------------------------------------
 *
 * pgoutput_read.c
 *		Reading PostgreSQL's built-in pgoutput stream (protocol versions 1
 *		to 4) into the change model of tributary_decoder messages, for
 *		sources where tributary_decoder may not be used
 *		(output_plugin_libraries, managed services).
 *
 * Every message kind of those versions is read and validated, field by
 * field; none is dereferenced beyond what it holds.  Changes inside a
 * streamed block (version 2 and later, between STREAM START and STREAM
 * STOP) carry the transaction's xid after the type byte.
 *
 *	'B'	BEGIN			final_lsn i64, commit_ts i64, xid i32
 *	'C'	COMMIT			flags i8, commit_lsn i64, end_lsn i64, commit_ts i64
 *	'O'	ORIGIN			commit_lsn i64, name str				(passed over)
 *	'R'	RELATION		[xid] relid i32, namespace str ("" for pg_catalog),
 *						name str, replident i8, natts i16, per column:
 *						flags i8, name str, type i32, typmod i32
 *	'Y'	TYPE			[xid] oid i32, namespace str, name str	(passed over)
 *	'I'	INSERT			[xid] relid i32, 'N' tuple
 *	'U'	UPDATE			[xid] relid i32, ['K' or 'O' tuple], 'N' tuple
 *	'D'	DELETE			[xid] relid i32, 'K' or 'O' tuple
 *	'T'	TRUNCATE		[xid] nrels i32, options i8, relids
 *	'M'	MESSAGE			[xid] flags i8, lsn i64, prefix str, length i32, bytes
 *	'S'	STREAM START	xid i32, first_segment i8				(version 2)
 *	'E'	STREAM STOP
 *	'c'	STREAM COMMIT	xid i32, flags i8, commit_lsn i64, end_lsn i64, ts i64
 *	'A'	STREAM ABORT	xid i32, subxid i32 [abort_lsn i64, ts i64: version 4]
 *	'b' 'P' 'K' 'r' 'p'	two-phase messages (version 3): read, then refused,
 *						since jobs never ask for two-phase decoding and
 *						passing over a COMMIT PREPARED would lose it
 *
 * Tuples have tributary_decoder's layout.  Unlike tributary_decoder,
 * pgoutput sends unchanged TOASTed values of a new row as 'u'; the apply
 * engine takes them from the row it updates.  Messages that carry nothing
 * for the apply engine (ORIGIN, TYPE) come back as TRIB_MSG_NONE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "libpq/pqformat.h"

#include "source/pgoutput_read.h"

/*
 * read_old_tuple: the 'K' (key) or 'O' (old row) image of UPDATE/DELETE.
 */
static void
read_old_tuple(StringInfo in, TribMessage *msg)
{
	char		tag = pq_getmsgbyte(in);

	if (tag != 'K' && tag != 'O')
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid pgoutput message: expected tuple tag 'K' or 'O', got 0x%02x",
						(unsigned char) tag)));
	msg->has_old = true;
	trib_read_tuple_values(in, &msg->oldtuple);
}

/*
 * read_new_tuple: the 'N' image.
 */
static void
read_new_tuple(StringInfo in, TribMessage *msg)
{
	char		tag = pq_getmsgbyte(in);

	if (tag != 'N')
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid pgoutput message: expected tuple tag 'N', got 0x%02x",
						(unsigned char) tag)));
	trib_read_tuple_values(in, &msg->newtuple);
}

/*
 * read_xid: a transaction id that must be valid.
 */
static TransactionId
read_xid(StringInfo in, const char *what)
{
	TransactionId xid = pq_getmsgint(in, 4);

	if (!TransactionIdIsValid(xid))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid pgoutput message: %s without a transaction id", what)));
	return xid;
}

/*
 * read_two_phase: the fields of a two-phase message (all versions 3 and
 * later share: flags or lsn fields, then xid and the GID), then refuse it.
 */
static void
pg_attribute_noreturn()
read_two_phase(StringInfo in, char type)
{
	/* 'b': prepare_lsn, end_lsn, ts, xid, gid; the others start with flags */
	if (type != 'b')
		(void) pq_getmsgbyte(in);
	(void) pq_getmsgint64(in);
	(void) pq_getmsgint64(in);
	(void) pq_getmsgint64(in);
	if (type == 'r')
		(void) pq_getmsgint64(in);	/* rollback timestamp */
	(void) read_xid(in, "two-phase message");
	(void) pq_getmsgstring(in);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("pgoutput sent two-phase message '%c', which jobs do not ask for", type),
			 errhint("Check that nothing else uses the job's slot.")));
}

/*
 * tributary_read_pgoutput: decode and validate one pgoutput message (the
 * whole buffer).  in_stream says whether the reader is between STREAM
 * START and STREAM STOP, where changes carry their transaction's xid.
 * Strings and values point into the buffer.
 */
void
tributary_read_pgoutput(StringInfo in, bool in_stream, TribMessage *msg)
{
	char		type;

	memset(msg, 0, sizeof(*msg));
	type = pq_getmsgbyte(in);
	switch (type)
	{
		case 'B':
			msg->type = TRIB_MSG_BEGIN;
			msg->lsn = pq_getmsgint64(in);
			msg->commit_ts = pq_getmsgint64(in);
			msg->xid = pq_getmsgint(in, 4);
			break;
		case 'C':
			msg->type = TRIB_MSG_COMMIT;
			msg->flags = pq_getmsgbyte(in);
			msg->lsn = pq_getmsgint64(in);
			msg->end_lsn = pq_getmsgint64(in);
			msg->commit_ts = pq_getmsgint64(in);
			break;
		case 'O':
			msg->type = TRIB_MSG_NONE;
			(void) pq_getmsgint64(in);
			(void) pq_getmsgstring(in);
			break;
		case 'R':
			msg->type = TRIB_MSG_RELATION;
			if (in_stream)
				msg->xid = read_xid(in, "streamed RELATION");
			trib_read_relation_body(in, &msg->relation);
			/* pgoutput names pg_catalog with an empty string */
			if (msg->relation.nspname[0] == '\0')
				msg->relation.nspname = "pg_catalog";
			break;
		case 'Y':
			msg->type = TRIB_MSG_NONE;
			if (in_stream)
				msg->xid = read_xid(in, "streamed TYPE");
			(void) pq_getmsgint(in, 4);
			(void) pq_getmsgstring(in);
			(void) pq_getmsgstring(in);
			break;
		case 'I':
			msg->type = TRIB_MSG_INSERT;
			if (in_stream)
				msg->xid = read_xid(in, "streamed INSERT");
			msg->relid = pq_getmsgint(in, 4);
			read_new_tuple(in, msg);
			break;
		case 'U':
			msg->type = TRIB_MSG_UPDATE;
			if (in_stream)
				msg->xid = read_xid(in, "streamed UPDATE");
			msg->relid = pq_getmsgint(in, 4);
			if (in->cursor < in->len && (in->data[in->cursor] == 'K' || in->data[in->cursor] == 'O'))
				read_old_tuple(in, msg);
			read_new_tuple(in, msg);
			break;
		case 'D':
			msg->type = TRIB_MSG_DELETE;
			if (in_stream)
				msg->xid = read_xid(in, "streamed DELETE");
			msg->relid = pq_getmsgint(in, 4);
			read_old_tuple(in, msg);
			break;
		case 'T':
			msg->type = TRIB_MSG_TRUNCATE;
			if (in_stream)
				msg->xid = read_xid(in, "streamed TRUNCATE");
			msg->nrelids = pq_getmsgint(in, 4);
			msg->flags = pq_getmsgbyte(in);
			trib_read_relids(in, msg, "pgoutput");
			break;
		case 'M':
			msg->type = TRIB_MSG_MESSAGE;
			if (in_stream)
				msg->xid = read_xid(in, "streamed MESSAGE");
			trib_read_message_body(in, msg, "pgoutput");
			break;
		case 'S':
			msg->type = TRIB_MSG_STREAM_START;
			msg->xid = read_xid(in, "STREAM START");
			msg->first_segment = (pq_getmsgbyte(in) == 1);
			break;
		case 'E':
			msg->type = TRIB_MSG_STREAM_STOP;
			break;
		case 'c':
			msg->type = TRIB_MSG_STREAM_COMMIT;
			msg->xid = read_xid(in, "STREAM COMMIT");
			msg->flags = pq_getmsgbyte(in);
			msg->lsn = pq_getmsgint64(in);
			msg->end_lsn = pq_getmsgint64(in);
			msg->commit_ts = pq_getmsgint64(in);
			break;
		case 'A':
			msg->type = TRIB_MSG_STREAM_ABORT;
			msg->xid = read_xid(in, "STREAM ABORT");
			msg->subxid = read_xid(in, "STREAM ABORT");
			/* version 4 (parallel streaming) adds the abort's lsn and time */
			if (in->len - in->cursor == 16)
			{
				msg->lsn = pq_getmsgint64(in);
				msg->commit_ts = pq_getmsgint64(in);
			}
			break;
		case 'b':
		case 'P':
		case 'K':
		case 'r':
		case 'p':
			read_two_phase(in, type);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("invalid pgoutput message type 0x%02x", (unsigned char) type)));
	}
	if (in->cursor != in->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid pgoutput message 0x%02x: %d bytes left over",
						(unsigned char) type, in->len - in->cursor)));
}
