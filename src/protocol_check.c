/*-------------------------------------------------------------------------
 *
 * protocol_check.c
 *		tributary._read_message(bytea): read one tributary_decoder message
 *		with the connector's reader and describe it, so that pg_regress can
 *		check that the reader rejects malformed input (truncated messages,
 *		unknown types and value kinds, overlong values, trailing bytes).
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
 * tributary_read_message: "type relid=... new=k:len,..." for a valid
 * message; an error for an invalid one.
 */
Datum
tributary_read_message(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	bool		in_stream = PG_GETARG_BOOL(1);
	StringInfoData in;
	StringInfoData out;
	TribMessage msg;

	in.data = VARDATA_ANY(raw);
	in.len = VARSIZE_ANY_EXHDR(raw);
	in.maxlen = in.len;
	in.cursor = 0;
	trib_read_message(&in, in_stream, &msg);

	initStringInfo(&out);
	appendStringInfo(&out, "%c", msg.type);
	if (msg.relid)
		appendStringInfo(&out, " relid=%u", msg.relid);
	if (msg.type == TRIB_MSG_RELATION)
		appendStringInfo(&out, " %s.%s natts=%d", msg.relation.nspname, msg.relation.relname,
						 msg.relation.natts);
	for (int t = 0; t < 2; t++)
	{
		TribTuple  *tuple = t == 0 ? &msg.oldtuple : &msg.newtuple;

		if (tuple->natts == 0 || (t == 0 && !msg.has_old))
			continue;
		appendStringInfo(&out, " %s=", t == 0 ? "old" : "new");
		for (int i = 0; i < tuple->natts; i++)
			appendStringInfo(&out, "%s%c:%u", i ? "," : "", tuple->values[i].kind, tuple->values[i].len);
	}
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}
