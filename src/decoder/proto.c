/*-------------------------------------------------------------------------
 *
 * proto.c
 *		Write and read functions of the tributary_decoder protocol (the
 *		format is described in proto.h).  Each writer has its mirror in
 *		trib_read_message, which validates what it reads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "libpq/pqformat.h"

#include "decoder/proto.h"

/*
 * write_stream_xid: changes inside a streamed block carry the xid.
 */
static inline void
write_stream_xid(StringInfo out, TransactionId stream_xid)
{
	if (TransactionIdIsValid(stream_xid))
		pq_sendint32(out, stream_xid);
}

/* trib_write_begin: BEGIN of a transaction sent whole at commit. */
void
trib_write_begin(StringInfo out, TransactionId xid, XLogRecPtr final_lsn, TimestampTz commit_ts)
{
	pq_sendbyte(out, TRIB_MSG_BEGIN);
	pq_sendint32(out, xid);
	pq_sendint64(out, final_lsn);
	pq_sendint64(out, commit_ts);
}

/* trib_write_commit: COMMIT with the positions the target checkpoints. */
void
trib_write_commit(StringInfo out, XLogRecPtr commit_lsn, XLogRecPtr end_lsn, TimestampTz commit_ts)
{
	pq_sendbyte(out, TRIB_MSG_COMMIT);
	pq_sendbyte(out, 0);
	pq_sendint64(out, commit_lsn);
	pq_sendint64(out, end_lsn);
	pq_sendint64(out, commit_ts);
}

/* trib_write_relation: the definition of a relation, before its changes. */
void
trib_write_relation(StringInfo out, TransactionId stream_xid, const TribRelation *rel)
{
	pq_sendbyte(out, TRIB_MSG_RELATION);
	write_stream_xid(out, stream_xid);
	pq_sendint32(out, rel->relid);
	pq_sendstring(out, rel->nspname);
	pq_sendstring(out, rel->relname);
	pq_sendbyte(out, rel->replident);
	pq_sendint16(out, rel->natts);
	for (int i = 0; i < rel->natts; i++)
	{
		pq_sendbyte(out, rel->attrs[i].flags);
		pq_sendstring(out, rel->attrs[i].name);
		pq_sendint32(out, rel->attrs[i].typoid);
		pq_sendint32(out, rel->attrs[i].typmod);
	}
}

/* trib_write_change: the header of INSERT, UPDATE or DELETE. */
void
trib_write_change(StringInfo out, char type, TransactionId stream_xid, Oid relid)
{
	Assert(type == TRIB_MSG_INSERT || type == TRIB_MSG_UPDATE || type == TRIB_MSG_DELETE);
	pq_sendbyte(out, type);
	write_stream_xid(out, stream_xid);
	pq_sendint32(out, relid);
}

/* trib_write_tuple_header: 'O' or 'N', then the number of values. */
void
trib_write_tuple_header(StringInfo out, char tag, int natts)
{
	pq_sendbyte(out, tag);
	pq_sendint16(out, natts);
}

/* trib_write_value: one value of a tuple. */
void
trib_write_value(StringInfo out, char kind, const char *data, uint32 len)
{
	pq_sendbyte(out, kind);
	if (kind == TRIB_VALUE_TEXT || kind == TRIB_VALUE_BINARY)
	{
		pq_sendint32(out, len);
		pq_sendbytes(out, data, len);
	}
}

/* trib_write_truncate: TRUNCATE of one or more relations. */
void
trib_write_truncate(StringInfo out, TransactionId stream_xid, uint8 flags,
					int nrelids, const Oid *relids)
{
	pq_sendbyte(out, TRIB_MSG_TRUNCATE);
	write_stream_xid(out, stream_xid);
	pq_sendbyte(out, flags);
	pq_sendint32(out, nrelids);
	for (int i = 0; i < nrelids; i++)
		pq_sendint32(out, relids[i]);
}

/* trib_write_message: a logical message (pg_logical_emit_message). */
void
trib_write_message(StringInfo out, TransactionId stream_xid, bool transactional,
				   XLogRecPtr lsn, const char *prefix, Size sz, const char *content)
{
	pq_sendbyte(out, TRIB_MSG_MESSAGE);
	write_stream_xid(out, stream_xid);
	pq_sendbyte(out, transactional ? TRIB_MESSAGE_TRANSACTIONAL : 0);
	pq_sendint64(out, lsn);
	pq_sendstring(out, prefix);
	pq_sendint32(out, sz);
	pq_sendbytes(out, content, sz);
}

/* trib_write_stream_start: a block of a large in-progress transaction. */
void
trib_write_stream_start(StringInfo out, TransactionId xid, bool first_segment)
{
	pq_sendbyte(out, TRIB_MSG_STREAM_START);
	pq_sendint32(out, xid);
	pq_sendbyte(out, first_segment ? 1 : 0);
}

/* trib_write_stream_stop: end of a streamed block. */
void
trib_write_stream_stop(StringInfo out)
{
	pq_sendbyte(out, TRIB_MSG_STREAM_STOP);
}

/* trib_write_stream_commit: a streamed transaction committed. */
void
trib_write_stream_commit(StringInfo out, TransactionId xid, XLogRecPtr commit_lsn,
						 XLogRecPtr end_lsn, TimestampTz commit_ts)
{
	pq_sendbyte(out, TRIB_MSG_STREAM_COMMIT);
	pq_sendint32(out, xid);
	pq_sendbyte(out, 0);
	pq_sendint64(out, commit_lsn);
	pq_sendint64(out, end_lsn);
	pq_sendint64(out, commit_ts);
}

/* trib_write_stream_abort: a streamed (sub)transaction aborted. */
void
trib_write_stream_abort(StringInfo out, TransactionId xid, TransactionId subxid)
{
	pq_sendbyte(out, TRIB_MSG_STREAM_ABORT);
	pq_sendint32(out, xid);
	pq_sendint32(out, subxid);
}

/*
 * trib_read_tuple_values: the values of a tuple (natts, then per value a
 * kind and, for 't' and 'b', a length and bytes), pointing into the
 * buffer.  Shared with the pgoutput reader, whose tuples have the same
 * layout.
 */
void
trib_read_tuple_values(StringInfo in, TribTuple *tuple)
{
	int			natts = pq_getmsgint(in, 2);

	if (natts > MaxTupleAttributeNumber)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid change stream message: %d columns", natts)));
	tuple->natts = natts;
	tuple->values = palloc(sizeof(TribValue) * Max(natts, 1));
	for (int i = 0; i < natts; i++)
	{
		TribValue  *v = &tuple->values[i];

		v->kind = pq_getmsgbyte(in);
		v->len = 0;
		v->data = NULL;
		switch (v->kind)
		{
			case TRIB_VALUE_NULL:
			case TRIB_VALUE_UNCHANGED:
				break;
			case TRIB_VALUE_TEXT:
			case TRIB_VALUE_BINARY:
				v->len = pq_getmsgint(in, 4);
				if (v->len > (uint32) (in->len - in->cursor))
					ereport(ERROR,
							(errcode(ERRCODE_PROTOCOL_VIOLATION),
							 errmsg("invalid change stream message: value of %u bytes overruns the message",
									v->len)));
				v->data = (char *) pq_getmsgbytes(in, v->len);
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("invalid change stream message: unknown value kind 0x%02x",
								(unsigned char) v->kind)));
		}
	}
}

/*
 * trib_read_relids: the relation OIDs of a TRUNCATE, msg->nrelids of them
 * (already read), checked against what the message holds.  Both change
 * stream protocols lay them out alike; protocol names the stream in
 * errors.
 */
void
trib_read_relids(StringInfo in, TribMessage *msg, const char *protocol)
{
	if (msg->nrelids <= 0 || msg->nrelids > (in->len - in->cursor) / 4)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid %s message: truncate of %d relations", protocol, msg->nrelids)));
	msg->relids = palloc(sizeof(Oid) * msg->nrelids);
	for (int i = 0; i < msg->nrelids; i++)
		msg->relids[i] = pq_getmsgint(in, 4);
}

/*
 * trib_read_message_body: flags, LSN, prefix and content of a logical
 * decoding message, laid out alike in both protocols; the content's
 * length is checked against what the message holds.
 */
void
trib_read_message_body(StringInfo in, TribMessage *msg, const char *protocol)
{
	msg->flags = pq_getmsgbyte(in);
	msg->lsn = pq_getmsgint64(in);
	msg->prefix = (char *) pq_getmsgstring(in);
	msg->content_len = pq_getmsgint(in, 4);
	if (msg->content_len > (uint32) (in->len - in->cursor))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid %s message: message content of %u bytes overruns the message",
						protocol, msg->content_len)));
	msg->content = (char *) pq_getmsgbytes(in, msg->content_len);
}

/*
 * trib_read_relation_body: the fields of a RELATION message after its type
 * (and stream xid): relid, namespace, name, replica identity, columns.
 * Shared with the pgoutput reader, whose RELATION has the same layout.
 */
void
trib_read_relation_body(StringInfo in, TribRelation *rel)
{
	rel->relid = pq_getmsgint(in, 4);
	rel->nspname = (char *) pq_getmsgstring(in);
	rel->relname = (char *) pq_getmsgstring(in);
	rel->replident = pq_getmsgbyte(in);
	rel->natts = pq_getmsgint(in, 2);
	if (rel->natts > MaxTupleAttributeNumber)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid change stream message: relation with %d columns", rel->natts)));
	rel->attrs = palloc(sizeof(TribAttribute) * Max(rel->natts, 1));
	for (int i = 0; i < rel->natts; i++)
	{
		rel->attrs[i].flags = pq_getmsgbyte(in);
		rel->attrs[i].name = (char *) pq_getmsgstring(in);
		rel->attrs[i].typoid = pq_getmsgint(in, 4);
		rel->attrs[i].typmod = pq_getmsgint(in, 4);
	}
}

/*
 * read_tuple: a tuple tagged 'O' or 'N'.
 */
static void
read_tuple(StringInfo in, char want_tag, TribTuple *tuple)
{
	char		tag = pq_getmsgbyte(in);

	if (tag != want_tag)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid tributary_decoder message: expected tuple tag '%c', got '%c'",
						want_tag, tag)));
	trib_read_tuple_values(in, tuple);
}

/*
 * read_stream_xid: the xid of a change inside a streamed block.
 */
static TransactionId
read_stream_xid(StringInfo in, bool in_stream)
{
	TransactionId xid;

	if (!in_stream)
		return InvalidTransactionId;
	xid = pq_getmsgint(in, 4);
	if (!TransactionIdIsValid(xid))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid tributary_decoder message: streamed change without transaction id")));
	return xid;
}

/*
 * trib_read_message: decode and validate a buffer that holds exactly one
 * message.  in_stream says whether the reader is between STREAM START and
 * STREAM STOP.  Strings and values point into the buffer, which must
 * outlive the message.
 */
void
trib_read_message(StringInfo in, bool in_stream, TribMessage *msg)
{
	trib_read_next_message(in, in_stream, msg);
	if (in->cursor != in->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid tributary_decoder message '%c': %d bytes left over",
						msg->type, in->len - in->cursor)));
}

/*
 * trib_read_next_message: decode and validate the message at the buffer's
 * cursor, leaving the cursor after it (protocol version 2 batches several
 * messages in one CopyData).
 */
void
trib_read_next_message(StringInfo in, bool in_stream, TribMessage *msg)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = pq_getmsgbyte(in);

	switch (msg->type)
	{
		case TRIB_MSG_BEGIN:
			msg->xid = pq_getmsgint(in, 4);
			msg->lsn = pq_getmsgint64(in);
			msg->commit_ts = pq_getmsgint64(in);
			break;
		case TRIB_MSG_COMMIT:
			msg->flags = pq_getmsgbyte(in);
			msg->lsn = pq_getmsgint64(in);
			msg->end_lsn = pq_getmsgint64(in);
			msg->commit_ts = pq_getmsgint64(in);
			break;
		case TRIB_MSG_RELATION:
			msg->xid = read_stream_xid(in, in_stream);
			trib_read_relation_body(in, &msg->relation);
			break;
		case TRIB_MSG_INSERT:
			msg->xid = read_stream_xid(in, in_stream);
			msg->relid = pq_getmsgint(in, 4);
			read_tuple(in, 'N', &msg->newtuple);
			break;
		case TRIB_MSG_UPDATE:
			msg->xid = read_stream_xid(in, in_stream);
			msg->relid = pq_getmsgint(in, 4);
			if (in->cursor < in->len && in->data[in->cursor] == 'O')
			{
				msg->has_old = true;
				read_tuple(in, 'O', &msg->oldtuple);
			}
			read_tuple(in, 'N', &msg->newtuple);
			break;
		case TRIB_MSG_DELETE:
			msg->xid = read_stream_xid(in, in_stream);
			msg->relid = pq_getmsgint(in, 4);
			msg->has_old = true;
			read_tuple(in, 'O', &msg->oldtuple);
			break;
		case TRIB_MSG_TRUNCATE:
			msg->xid = read_stream_xid(in, in_stream);
			msg->flags = pq_getmsgbyte(in);
			msg->nrelids = pq_getmsgint(in, 4);
			trib_read_relids(in, msg, "tributary_decoder");
			break;
		case TRIB_MSG_MESSAGE:
			msg->xid = read_stream_xid(in, in_stream);
			trib_read_message_body(in, msg, "tributary_decoder");
			break;
		case TRIB_MSG_STREAM_START:
			if (in_stream)
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("invalid tributary_decoder message: nested STREAM START")));
			msg->xid = pq_getmsgint(in, 4);
			msg->first_segment = (pq_getmsgbyte(in) != 0);
			break;
		case TRIB_MSG_STREAM_STOP:
			if (!in_stream)
				ereport(ERROR,
						(errcode(ERRCODE_PROTOCOL_VIOLATION),
						 errmsg("invalid tributary_decoder message: STREAM STOP outside a stream")));
			break;
		case TRIB_MSG_STREAM_COMMIT:
			msg->xid = pq_getmsgint(in, 4);
			msg->flags = pq_getmsgbyte(in);
			msg->lsn = pq_getmsgint64(in);
			msg->end_lsn = pq_getmsgint64(in);
			msg->commit_ts = pq_getmsgint64(in);
			break;
		case TRIB_MSG_STREAM_ABORT:
			msg->xid = pq_getmsgint(in, 4);
			msg->subxid = pq_getmsgint(in, 4);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("invalid tributary_decoder message type 0x%02x",
							(unsigned char) msg->type)));
	}
}
