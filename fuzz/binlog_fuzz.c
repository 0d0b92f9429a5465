/*-------------------------------------------------------------------------
 *
 * binlog_fuzz.c
 *		libFuzzer target for the MySQL connector's binlog decoders: event
 *		framing, FORMAT_DESCRIPTION, TABLE_MAP and its optional metadata,
 *		rows events, every value kind, binary JSON, XA identifiers (XA_PREPARE,
 *		GTID and statement text), MariaDB compression and
 *		TRANSACTION_PAYLOAD, through bl_render (binlog_render.c).
 *
 * Input: one byte (bit 0: events carry CRC32 checksums; bit 1: read the
 * rest as a binlog file, bl_render_file, whose format description says
 * whether events carry checksums), then events back to back.  The
 * decoders are built for the frontend (FRONTEND) against libpgcommon;
 * palloc and friends are replaced by fuzz_alloc.c's allocator, which
 * frees everything after each input, as a memory context would.
 *
 * Build and run: make -C fuzz run (see fuzz/Makefile).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "source/binlog.h"

#include "fuzz_alloc.h"

/*
 * LLVMFuzzerTestOneInput: decode one input; every allocation is freed.
 */
int
LLVMFuzzerTestOneInput(const uint8 *data, size_t size)
{
	StringInfoData out;
	char	   *err = NULL;

	if (size < 1)
		return 0;
	initStringInfo(&out);
	if (data[0] & 2)
	{
		/* as a binlog file: magic bytes, checksums as its format description says, row lines */
		uint8	   *file = palloc(size + 3);
		StringInfoData rows;

		memcpy(file, "\xfe" "bin", 4);
		memcpy(file + 4, data + 1, size - 1);
		initStringInfo(&rows);
		(void) bl_render_file(file, size + 3, &out, &rows, &err);
	}
	else
		(void) bl_render(data + 1, size - 1, (data[0] & 1) != 0, &out, &err);
	fuzz_free_all();
	return 0;
}
