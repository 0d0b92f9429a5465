/*-------------------------------------------------------------------------
 *
 * proto.h
 *		The tributary_decoder wire protocol, shared by the output plugin
 *		(writer, on the source) and the PostgreSQL connector (reader, on the
 *		target).
 *
 * Version 1.  Every message is one CopyData payload: a type byte, then its
 * fields in network byte order.  Strings are NUL-terminated; byte strings
 * and values carry a uint32 length.  Messages sent between STREAM START and
 * STREAM STOP (a large transaction streamed before it commits) carry the
 * top-level xid right after the type byte.
 *
 *	'B' BEGIN			xid u32, final_lsn u64, commit_ts i64
 *	'C' COMMIT			flags u8, commit_lsn u64, end_lsn u64, commit_ts i64
 *	'R' RELATION		relid u32, namespace str, name str, replident u8,
 *						natts u16, natts x (flags u8 [1 = key], name str,
 *						type oid u32, typmod i32)
 *	'I' INSERT			relid u32, 'N' tuple
 *	'U' UPDATE			relid u32, ['O' tuple], 'N' tuple
 *	'D' DELETE			relid u32, 'O' tuple
 *	'T' TRUNCATE		flags u8 [1 = cascade, 2 = restart identity],
 *						nrels u32, nrels x relid u32
 *	'M' MESSAGE			flags u8 [1 = transactional], lsn u64, prefix str,
 *						length u32, content bytes
 *	'S' STREAM START	xid u32, first_segment u8
 *	'E' STREAM STOP		(no fields)
 *	'c' STREAM COMMIT	xid u32, flags u8, commit_lsn u64, end_lsn u64,
 *						commit_ts i64
 *	'A' STREAM ABORT	xid u32, subxid u32
 *
 *	tuple				natts u16, natts x (kind u8, and for 't' and 'b':
 *						length u32, bytes).  Kinds: 'n' NULL, 't' text
 *						output, 'b' binary send output, 'u' unchanged TOASTed
 *						value (only when the table lacks REPLICA IDENTITY
 *						FULL: the decoder fills unchanged values from the old
 *						tuple whenever it has one).
 *
 * The reader validates everything: unknown message types and value kinds,
 * counts out of range and truncated or overlong messages are errors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIBUTARY_PROTO_H
#define TRIBUTARY_PROTO_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "change.h"

#define TRIB_PROTO_VERSION			2
/* version 2: one CopyData carries consecutive messages up to this size */
#define TRIB_BATCH_BYTES			65536
#define TRIB_PROTO_MIN_VERSION		1

/* a message a reader consumed that carries nothing for the apply engine */
#define TRIB_MSG_NONE				'\0'
#define TRIB_MSG_BEGIN				'B'
#define TRIB_MSG_COMMIT				'C'
#define TRIB_MSG_RELATION			'R'
#define TRIB_MSG_INSERT				'I'
#define TRIB_MSG_UPDATE				'U'
#define TRIB_MSG_DELETE				'D'
#define TRIB_MSG_TRUNCATE			'T'
#define TRIB_MSG_MESSAGE			'M'
#define TRIB_MSG_STREAM_START		'S'
#define TRIB_MSG_STREAM_STOP		'E'
#define TRIB_MSG_STREAM_COMMIT		'c'
#define TRIB_MSG_STREAM_ABORT		'A'

#define TRIB_TRUNCATE_CASCADE		0x01
#define TRIB_TRUNCATE_RESTART		0x02
#define TRIB_TRUNCATE_PARTITION		0x04	/* only some partitions of these tables were emptied */
#define TRIB_MESSAGE_TRANSACTIONAL	0x01

/* one decoded message */
typedef struct TribMessage
{
	char		type;
	TransactionId xid;			/* BEGIN, stream messages, changes in a stream */
	XLogRecPtr	lsn;			/* BEGIN final_lsn, COMMIT commit_lsn, MESSAGE lsn */
	XLogRecPtr	end_lsn;		/* COMMIT */
	TimestampTz commit_ts;		/* BEGIN, COMMIT */
	uint8		flags;
	bool		first_segment;	/* STREAM START */
	TransactionId subxid;		/* STREAM ABORT */
	Oid			relid;			/* INSERT, UPDATE, DELETE */
	TribRelation relation;		/* RELATION */
	bool		has_old;
	TribTuple	oldtuple;
	TribTuple	newtuple;
	int			nrelids;		/* TRUNCATE */
	Oid		   *relids;
	char	   *prefix;			/* MESSAGE */
	uint32		content_len;
	char	   *content;
} TribMessage;

/* writers (the output plugin) */
extern void trib_write_begin(StringInfo out, TransactionId xid, XLogRecPtr final_lsn,
							 TimestampTz commit_ts);
extern void trib_write_commit(StringInfo out, XLogRecPtr commit_lsn, XLogRecPtr end_lsn,
							  TimestampTz commit_ts);
extern void trib_write_relation(StringInfo out, TransactionId stream_xid, const TribRelation *rel);
extern void trib_write_change(StringInfo out, char type, TransactionId stream_xid, Oid relid);
extern void trib_write_tuple_header(StringInfo out, char tag, int natts);
extern void trib_write_value(StringInfo out, char kind, const char *data, uint32 len);
extern void trib_write_truncate(StringInfo out, TransactionId stream_xid, uint8 flags,
								int nrelids, const Oid *relids);
extern void trib_write_message(StringInfo out, TransactionId stream_xid, bool transactional,
							   XLogRecPtr lsn, const char *prefix, Size sz, const char *content);
extern void trib_write_stream_start(StringInfo out, TransactionId xid, bool first_segment);
extern void trib_write_stream_stop(StringInfo out);
extern void trib_write_stream_commit(StringInfo out, TransactionId xid, XLogRecPtr commit_lsn,
									 XLogRecPtr end_lsn, TimestampTz commit_ts);
extern void trib_write_stream_abort(StringInfo out, TransactionId xid, TransactionId subxid);

/* reader (the connector; and the plugin's text rendering) */
extern void trib_read_message(StringInfo in, bool in_stream, TribMessage *msg);
extern void trib_read_next_message(StringInfo in, bool in_stream, TribMessage *msg);
extern void trib_read_tuple_values(StringInfo in, TribTuple *tuple);
extern void trib_read_relation_body(StringInfo in, TribRelation *rel);
extern void trib_read_relids(StringInfo in, TribMessage *msg, const char *protocol);
extern void trib_read_message_body(StringInfo in, TribMessage *msg, const char *protocol);

#endif							/* TRIBUTARY_PROTO_H */
