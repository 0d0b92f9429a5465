/*-------------------------------------------------------------------------
 *
 * pgoutput_read.c
 *		Reading PostgreSQL's built-in pgoutput stream (protocol version 1)
 *		into the change model of tributary_decoder messages, for sources
 *		where tributary_decoder may not be used (output_plugin_libraries,
 *		managed services).
 *
 *	'B'	BEGIN		final_lsn i64, commit_ts i64, xid i32
 *	'C'	COMMIT		flags i8, commit_lsn i64, end_lsn i64, commit_ts i64
 *	'R'	RELATION	relid i32, namespace str, name str, replident i8,
 *					natts i16, per column: flags i8, name str, type i32,
 *					typmod i32 (the same layout as tributary_decoder's)
 *	'I'	INSERT		relid i32, 'N' tuple
 *	'U'	UPDATE		relid i32, ['K' or 'O' tuple], 'N' tuple
 *	'D'	DELETE		relid i32, 'K' or 'O' tuple
 *	'T'	TRUNCATE	nrels i32, options i8, relids
 *	'O'	ORIGIN, 'Y' TYPE, 'M' MESSAGE: read and passed over
 *
 * Tuples have tributary_decoder's layout.  Unlike tributary_decoder,
 * pgoutput sends unchanged TOASTed values of a new row as 'u'; the apply
 * engine takes them from the row it updates.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
				 errmsg("invalid pgoutput message: expected tuple tag 'K' or 'O', got '%c'", tag)));
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
				 errmsg("invalid pgoutput message: expected tuple tag 'N', got '%c'", tag)));
	trib_read_tuple_values(in, &msg->newtuple);
}

/*
 * tributary_read_pgoutput: decode one pgoutput message.  Messages without
 * meaning for the apply engine come back with type TRIB_MSG_MESSAGE.
 */
void
tributary_read_pgoutput(StringInfo in, TribMessage *msg)
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
		case 'R':
			msg->type = TRIB_MSG_RELATION;
			trib_read_relation_body(in, &msg->relation);
			break;
		case 'I':
			msg->type = TRIB_MSG_INSERT;
			msg->relid = pq_getmsgint(in, 4);
			read_new_tuple(in, msg);
			break;
		case 'U':
			msg->type = TRIB_MSG_UPDATE;
			msg->relid = pq_getmsgint(in, 4);
			if (in->cursor < in->len && (in->data[in->cursor] == 'K' || in->data[in->cursor] == 'O'))
				read_old_tuple(in, msg);
			read_new_tuple(in, msg);
			break;
		case 'D':
			msg->type = TRIB_MSG_DELETE;
			msg->relid = pq_getmsgint(in, 4);
			read_old_tuple(in, msg);
			break;
		case 'T':
			msg->type = TRIB_MSG_TRUNCATE;
			msg->nrelids = pq_getmsgint(in, 4);
			msg->flags = pq_getmsgbyte(in);
			if (msg->nrelids <= 0 || msg->nrelids > (in->len - in->cursor) / 4)
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("invalid pgoutput message: truncate of %d relations", msg->nrelids)));
			msg->relids = palloc(sizeof(Oid) * msg->nrelids);
			for (int i = 0; i < msg->nrelids; i++)
				msg->relids[i] = pq_getmsgint(in, 4);
			break;
		case 'O':				/* origin: lsn, name */
		case 'Y':				/* type: oid, namespace, name */
		case 'M':				/* message */
			msg->type = TRIB_MSG_MESSAGE;
			in->cursor = in->len;
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("invalid pgoutput message type 0x%02x", (unsigned char) type)));
	}
	if (in->cursor != in->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid pgoutput message '%c': %d bytes left over", type, in->len - in->cursor)));
}
