/*-------------------------------------------------------------------------
 *
 * binlog_check.c
 *		tributary._binlog_render(events bytea, checksum boolean): decode
 *		binlog events (back to back, as a binlog file holds them) with the
 *		MySQL connector's decoders and print them one per line, so that
 *		pg_regress can check the event, row and JSON decoders against byte
 *		fixtures (MariaDB events recorded from a server, MySQL 8 events
 *		built from the documented formats) and their refusal of malformed
 *		input.
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
