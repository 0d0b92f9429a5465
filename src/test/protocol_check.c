/*-------------------------------------------------------------------------
 *
 * protocol_check.c
 *		test_read_message(bytea, in_stream, batch) of the test module
 *		tributary_test.so (never installed as part of the extension): read one
 *		tributary_decoder message (or, with batch, the consecutive messages
 *		of one protocol-version-2 write) with the connector's reader and
 *		describe it, so that pg_regress can check that the reader rejects
 *		malformed input (truncated messages, unknown types and value kinds,
 *		overlong values, trailing bytes) and reads batches.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "decoder/proto.h"

PG_FUNCTION_INFO_V1(tributary_read_message);

/*
 * describe_message: "type relid=... new=k:len,..." of a decoded message.
 */
static void
describe_message(StringInfo out, TribMessage *msg)
{
	appendStringInfo(out, "%c", msg->type);
	if (msg->relid)
		appendStringInfo(out, " relid=%u", msg->relid);
	if (msg->type == TRIB_MSG_RELATION)
		appendStringInfo(out, " %s.%s natts=%d", msg->relation.nspname, msg->relation.relname,
						 msg->relation.natts);
	for (int t = 0; t < 2; t++)
	{
		TribTuple  *tuple = t == 0 ? &msg->oldtuple : &msg->newtuple;

		if (tuple->natts == 0 || (t == 0 && !msg->has_old))
			continue;
		appendStringInfo(out, " %s=", t == 0 ? "old" : "new");
		for (int i = 0; i < tuple->natts; i++)
			appendStringInfo(out, "%s%c:%u", i ? "," : "", tuple->values[i].kind, tuple->values[i].len);
	}
}

/*
 * tributary_read_message: the description of a valid message, or an error
 * for an invalid one.  With batch, the buffer holds consecutive messages
 * (protocol version 2), described one per line.
 */
Datum
tributary_read_message(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	bool		in_stream = PG_GETARG_BOOL(1);
	bool		batch = PG_GETARG_BOOL(2);
	StringInfoData in;
	StringInfoData out;
	TribMessage msg;

	in.data = VARDATA_ANY(raw);
	in.len = VARSIZE_ANY_EXHDR(raw);
	in.maxlen = in.len;
	in.cursor = 0;
	initStringInfo(&out);
	if (!batch)
	{
		trib_read_message(&in, in_stream, &msg);
		describe_message(&out, &msg);
	}
	else
		do
		{
			trib_read_next_message(&in, in_stream, &msg);
			if (out.len > 0)
				appendStringInfoChar(&out, '\n');
			describe_message(&out, &msg);
		} while (in.cursor < in.len);
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}
