/*-------------------------------------------------------------------------
 *
 * binlog_fuzz.c
 *		libFuzzer target for the MySQL connector's binlog decoders: event
 *		framing, FORMAT_DESCRIPTION, TABLE_MAP and its optional metadata,
 *		rows events, every value kind, binary JSON, XA identifiers (XA_PREPARE,
 *		GTID and statement text), MariaDB compression and
 *		TRANSACTION_PAYLOAD, through bl_render (binlog_render.c); and the
 *		MySQL GTID set codec and COM_BINLOG_DUMP_GTID (binlog_gtid.c).
 *
 * Input: one byte (bit 0: events carry CRC32 checksums; bit 1: read the
 * rest as a binlog file, bl_render_file, whose format description says
 * whether events carry checksums), then events back to back.  With bit 2
 * set instead, the rest is an encoded GTID set (bit 3: a whole
 * COM_BINLOG_DUMP_GTID packet): whatever the reader accepts must be
 * written back to the same bytes, and its text must read back to the
 * same set (the codec is symmetric), else the target aborts.  The
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
 * check_gtid_set: read data as a GTID set (or a COM_BINLOG_DUMP_GTID
 * packet); abort when what is accepted does not round-trip exactly.
 */
static void
check_gtid_set(const uint8 *data, size_t size, bool packet)
{
	BinlogGtidSet set;
	BinlogGtidSet again;
	StringInfoData bytes;
	StringInfoData text;
	char	   *err = NULL;
	uint16		flags = 0;
	uint32		server_id = 0;
	char	   *file = NULL;
	uint64		pos = 0;

	if (packet ? !bl_read_dump_gtid(data, size, &flags, &server_id, &file, &pos, &set, &err)
		: !bl_gtid_set_read(data, size, &set, &err))
		return;
	initStringInfo(&bytes);
	if (packet)
		bl_write_dump_gtid(&bytes, flags, server_id, file, pos, &set);
	else
		bl_gtid_set_write(&set, &bytes);
	if ((size_t) bytes.len != size || memcmp(bytes.data, data, size) != 0)
		abort();
	initStringInfo(&text);
	bl_gtid_set_to_text(&set, &text);
	bl_gtid_set_init(&again);
	if (!bl_gtid_set_from_text(text.data, &again, &err) ||
		!bl_gtid_set_contains(&set, &again) || !bl_gtid_set_contains(&again, &set))
		abort();
	resetStringInfo(&bytes);
	bl_gtid_set_write(&again, &bytes);
	if (bytes.len != (int) bl_gtid_set_size(&set))
		abort();
}

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
	if (data[0] & 4)
		check_gtid_set(data + 1, size - 1, (data[0] & 8) != 0);
	else if (data[0] & 2)
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
