/*-------------------------------------------------------------------------
 *
 * binlog_check.c
 *		tributary._binlog_render(events bytea, checksum boolean): decode
 *		binlog events (back to back, as a binlog file holds them) with the
 *		MySQL connector's decoders and print them one per line, so that
 *		pg_regress can check the event, row and JSON decoders against byte
 *		fixtures (MariaDB events recorded from a server, MySQL 8 events
 *		built from the documented formats) and their refusal of malformed
 *		input.  tributary_gtid_set_encode/_decode and
 *		tributary_dump_gtid_encode check the MySQL GTID set codec and
 *		the COM_BINLOG_DUMP_GTID packet (binlog_gtid.c) both ways.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "source/binlog.h"

PG_FUNCTION_INFO_V1(tributary_binlog_render);

/*
 * tributary_binlog_render: the SQL function.
 */
Datum
tributary_binlog_render(PG_FUNCTION_ARGS)
{
	bytea	   *events = PG_GETARG_BYTEA_PP(0);
	bool		checksum = PG_GETARG_BOOL(1);
	StringInfoData out;
	char	   *err = NULL;

	initStringInfo(&out);
	if (!bl_render((const uint8 *) VARDATA_ANY(events), VARSIZE_ANY_EXHDR(events), checksum, &out, &err))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid binlog event: %s", err),
				 errdetail("Decoded before the error:\n%s", out.data)));
	if (out.len > 0 && out.data[out.len - 1] == '\n')
		out.data[--out.len] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}

PG_FUNCTION_INFO_V1(tributary_binlog_render_file);

/*
 * tributary_binlog_render_file(file bytea, row_lines boolean): a whole
 * binlog file (magic bytes, then events, with or without checksums as its
 * format description says), rendered the same way, or with row_lines only
 * its row images, one line of tab-separated fields each; real servers'
 * files are checked with it (t/029).
 */
Datum
tributary_binlog_render_file(PG_FUNCTION_ARGS)
{
	bytea	   *file = PG_GETARG_BYTEA_PP(0);
	bool		row_lines = PG_GETARG_BOOL(1);
	StringInfoData out;
	StringInfoData rows;
	char	   *err = NULL;

	initStringInfo(&out);
	initStringInfo(&rows);
	if (!bl_render_file((const uint8 *) VARDATA_ANY(file), VARSIZE_ANY_EXHDR(file), &out,
						row_lines ? &rows : NULL, &err))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid binlog file: %s", err),
				 errdetail("Decoded before the error:\n%s", out.data)));
	if (row_lines)
		PG_RETURN_TEXT_P(cstring_to_text(rows.data));
	if (out.len > 0 && out.data[out.len - 1] == '\n')
		out.data[--out.len] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}

/*
 * set_from_text: a GTID set's text as a set, or an error.
 */
static void
set_from_text(const char *settext, BinlogGtidSet *set)
{
	char	   *err = NULL;

	bl_gtid_set_init(set);
	if (!bl_gtid_set_from_text(settext, set, &err))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid GTID set text: %s", err)));
}

PG_FUNCTION_INFO_V1(tributary_gtid_set_encode);

/*
 * tributary_gtid_set_encode(set text): a GTID set's text, encoded as
 * COM_BINLOG_DUMP_GTID and PREVIOUS_GTIDS carry it.
 */
Datum
tributary_gtid_set_encode(PG_FUNCTION_ARGS)
{
	char	   *settext = text_to_cstring(PG_GETARG_TEXT_PP(0));
	BinlogGtidSet set;
	StringInfoData out;

	set_from_text(settext, &set);
	initStringInfo(&out);
	bl_gtid_set_write(&set, &out);
	PG_RETURN_BYTEA_P(cstring_to_text_with_len(out.data, out.len));
}

PG_FUNCTION_INFO_V1(tributary_gtid_set_decode);

/*
 * tributary_gtid_set_decode(data bytea, packet boolean): an encoded GTID
 * set as text, or with packet a COM_BINLOG_DUMP_GTID packet (after its
 * command byte): flags, server id, file, position and set.
 */
Datum
tributary_gtid_set_decode(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	bool		packet = PG_GETARG_BOOL(1);
	const uint8 *bytes = (const uint8 *) VARDATA_ANY(data);
	size_t		len = VARSIZE_ANY_EXHDR(data);
	BinlogGtidSet set;
	StringInfoData out;
	uint16		flags;
	uint32		server_id;
	char	   *file;
	uint64		pos;
	char	   *err = NULL;

	if (packet ? !bl_read_dump_gtid(bytes, len, &flags, &server_id, &file, &pos, &set, &err)
		: !bl_gtid_set_read(bytes, len, &set, &err))
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("invalid %s: %s", packet ? "COM_BINLOG_DUMP_GTID" : "GTID set", err)));
	initStringInfo(&out);
	if (packet)
		appendStringInfo(&out, "flags=%u server_id=%u file='%s' pos=" UINT64_FORMAT " set=", flags,
						 server_id, file, pos);
	bl_gtid_set_to_text(&set, &out);
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}

PG_FUNCTION_INFO_V1(tributary_dump_gtid_encode);

/*
 * tributary_dump_gtid_encode(flags, server_id, file, pos, set): the
 * COM_BINLOG_DUMP_GTID packet after its command byte.
 */
Datum
tributary_dump_gtid_encode(PG_FUNCTION_ARGS)
{
	int32		flags = PG_GETARG_INT32(0);
	int64		server_id = PG_GETARG_INT64(1);
	char	   *file = text_to_cstring(PG_GETARG_TEXT_PP(2));
	int64		pos = PG_GETARG_INT64(3);
	char	   *settext = text_to_cstring(PG_GETARG_TEXT_PP(4));
	BinlogGtidSet set;
	StringInfoData out;

	set_from_text(settext, &set);
	initStringInfo(&out);
	bl_write_dump_gtid(&out, (uint16) flags, (uint32) server_id, file, (uint64) pos, &set);
	PG_RETURN_BYTEA_P(cstring_to_text_with_len(out.data, out.len));
}
