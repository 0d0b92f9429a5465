/*-------------------------------------------------------------------------
 *
 * binlog_event.c
 *		Framing of MySQL / MariaDB binary log events: the common header and
 *		checksum, FORMAT_DESCRIPTION, ROTATE, QUERY, XID, GTID (MariaDB
 *		domain-server-seq and MySQL uuid:n), TABLE_MAP with its optional
 *		metadata, rows events v1 and v2, MariaDB compressed events and
 *		MySQL 8 TRANSACTION_PAYLOAD.
 *
 * Formats read (all integers little endian unless said otherwise):
 *
 *	FORMAT_DESCRIPTION	binlog_version u16, server_version char[50],
 *						create_timestamp u32, header_length u8,
 *						post_header_length u8 per event type, checksum
 *						algorithm u8 (0 off, 1 CRC32)
 *	ROTATE				position u64, next file name (to the end)
 *	QUERY				thread_id u32, exec_time u32, db_len u8, error u16,
 *						status_vars_len u16, status vars, db, NUL, query
 *						(MariaDB QUERY_COMPRESSED: the query is compressed)
 *	XID					xid u64
 *	MariaDB GTID		seq_no u64, domain_id u32, flags u8 [1 standalone]
 *	MySQL GTID			flags u8, source uuid [16], gno i64, ...
 *	TABLE_MAP			table_id u48, flags u16, db (u8 length, bytes,
 *						NUL), table (same), column count (length-encoded),
 *						types [n], metadata (length-encoded size, bytes),
 *						null bitmap, optional metadata (type u8,
 *						length-encoded size, value)*
 *	rows				table_id u48, flags u16, [v2: extra length u16
 *						counting itself, extra], column count, present
 *						bitmap, [update: present-after bitmap], row images
 *						(MariaDB *_COMPRESSED: the row images are
 *						compressed)
 *	TRANSACTION_PAYLOAD	fields (type, length, value; length-encoded) up to
 *						an end mark 0: 1 payload size, 2 compression (0
 *						zstd, 255 none), 3 uncompressed size; then the
 *						payload: whole events without checksums
 *
 * MariaDB compression: a header byte 0x80 | n, the uncompressed length in n
 * bytes big endian, then a zlib stream.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <zlib.h>
#include <zstd.h>

#include "common/string.h"
#include "source/binlog.h"
#include "source/binlog_bytes.h"

/*
 * more than any event the server sends (max_allowed_packet is 1 GB); the
 * fuzz target builds with a smaller bound so that inputs claiming huge
 * sizes stay fast
 */
#ifndef BL_MAX_UNCOMPRESSED
#define BL_MAX_UNCOMPRESSED		(1024U * 1024U * 1024U)
#endif

/*
 * bl_read_lenenc: a length-encoded integer (1, 3, 4 or 9 bytes), advancing
 * *p; false when it runs past end or uses the NULL marker 0xfb.
 */
bool
bl_read_lenenc(const uint8 **p, const uint8 *end, uint64 *val)
{
	const uint8 *s = *p;

	if (s >= end)
		return false;
	if (*s < 0xfb)
	{
		*val = *s;
		*p = s + 1;
		return true;
	}
	if (*s == 0xfc && end - s >= 3)
	{
		*val = rd16(s + 1);
		*p = s + 3;
		return true;
	}
	if (*s == 0xfd && end - s >= 4)
	{
		*val = (uint64) s[1] | ((uint64) s[2] << 8) | ((uint64) s[3] << 16);
		*p = s + 4;
		return true;
	}
	if (*s == 0xfe && end - s >= 9)
	{
		*val = rd64(s + 1);
		*p = s + 9;
		return true;
	}
	return false;
}

/*
 * bl_next_event: the size of the event at off in a buffer of events back to
 * back (a binlog file's contents, a TRANSACTION_PAYLOAD), checked to lie
 * within the buffer.
 */
bool
bl_next_event(const uint8 *buf, size_t len, size_t off, uint32 *size, char **err)
{
	if (len - off < BL_HEADER_LEN)
	{
		*err = pstrdup("input ends inside an event header");
		return false;
	}
	*size = rd32(buf + off + 9);
	if (*size < BL_HEADER_LEN || *size > len - off)
	{
		*err = psprintf("event at offset %zu has a bad size %u", off, *size);
		return false;
	}
	return true;
}

/*
 * bl_read_header: the common header of one event of exactly len bytes;
 * checks its size field and, when the format says so, its CRC32, which is
 * then left out of ev->data.
 */
bool
bl_read_header(const uint8 *buf, size_t len, const BinlogFormat *fmt, BinlogEvent *ev, char **err)
{
	if (len < BL_HEADER_LEN)
		return fail(err, "binlog event shorter than its header");
	ev->timestamp = rd32(buf);
	ev->type = buf[4];
	ev->server_id = rd32(buf + 5);
	ev->size = rd32(buf + 9);
	ev->log_pos = rd32(buf + 13);
	ev->flags = rd16(buf + 17);
	if (ev->size != len)
	{
		*err = psprintf("binlog event of type %u says it has %u bytes but has %zu",
						ev->type, ev->size, len);
		return false;
	}
	/*
	 * events after a format description that declares a longer common
	 * header carry extra header bytes (MariaDB reads such files): skipped
	 */
	if (ev->type != BL_FORMAT_DESCRIPTION && fmt->header_len > BL_HEADER_LEN)
	{
		if (len < (size_t) fmt->header_len + (fmt->checksum ? BL_CHECKSUM_LEN : 0))
			return fail(err, "binlog event shorter than its header");
		ev->data = buf + fmt->header_len;
		ev->len = len - fmt->header_len;
	}
	else
	{
		ev->data = buf + BL_HEADER_LEN;
		ev->len = len - BL_HEADER_LEN;
	}
	if (fmt->checksum)
	{
		uint32		want;
		uint32		got;

		if (ev->len < BL_CHECKSUM_LEN)
			return fail(err, "binlog event too short for its checksum");
		ev->len -= BL_CHECKSUM_LEN;
		want = rd32(buf + len - BL_CHECKSUM_LEN);
		if (ev->type == BL_FORMAT_DESCRIPTION && (ev->flags & BL_FLAG_IN_USE))
		{
			/*
			 * the server sets the in-use flag of an open file's format
			 * description after computing its checksum without it
			 */
			uint8		flags[2] = {buf[17] & ~BL_FLAG_IN_USE, buf[18]};

			got = (uint32) crc32(0L, buf, 17);
			got = (uint32) crc32(got, flags, 2);
			got = (uint32) crc32(got, buf + BL_HEADER_LEN, len - BL_HEADER_LEN - BL_CHECKSUM_LEN);
		}
		else
			got = (uint32) crc32(0L, buf, len - BL_CHECKSUM_LEN);
		if (want != got)
		{
			*err = psprintf("binlog event of type %u at end position %u has checksum %08X, expected %08X",
							ev->type, ev->log_pos, got, want);
			return false;
		}
	}
	return true;
}

/*
 * bl_checksum_aware: whether a server of this version writes the checksum
 * algorithm into its FORMAT_DESCRIPTION (MySQL 5.6.1, MariaDB 5.3).
 */
bool
bl_checksum_aware(const char *server_version)
{
	int			major = 0;
	int			minor = 0;
	int			patch = 0;

	if (sscanf(server_version, "%d.%d.%d", &major, &minor, &patch) < 2)
		return true;			/* unknown: today's servers are */
	if (strstr(server_version, "MariaDB") != NULL)
		return major > 5 || (major == 5 && minor >= 3);
	return major > 5 || (major == 5 && (minor > 6 || (minor == 6 && patch >= 1)));
}

/*
 * bl_file_checksum: whether the events of a binlog file (after its magic
 * bytes) carry checksums, by its first event: a FORMAT_DESCRIPTION says
 * so with its checksum algorithm byte; a file of binlog version 1 or 3
 * (START_EVENT_V3 first) is refused.
 */
bool
bl_file_checksum(const uint8 *buf, size_t len, bool *checksum, char **err)
{
	uint32		size;
	char		version[51];

	*checksum = false;
	if (len == 0)
		return true;
	if (len < BL_HEADER_LEN)
		return fail(err, "binlog file shorter than an event header");
	if (buf[4] == BL_START_V3)
		return fail(err, "binlog versions before 4 (MySQL 4.x and older) are not supported: pg_tributary reads binlog version 4 (MySQL 5.0 and later, every MariaDB)");
	if (buf[4] != BL_FORMAT_DESCRIPTION)
		return fail(err, "binlog file does not start with a FORMAT_DESCRIPTION event");
	size = rd32(buf + 9);
	if (size > len || size < BL_HEADER_LEN + 2 + 50 + 4 + 1 + 1 + BL_CHECKSUM_LEN)
		return true;			/* too short for a checksum: bl_read_format says more */
	memcpy(version, buf + BL_HEADER_LEN + 2, 50);
	version[50] = '\0';
	if (bl_checksum_aware(version))
		*checksum = (buf[size - 1 - BL_CHECKSUM_LEN] == 1);
	return true;
}

/*
 * bl_read_format: a FORMAT_DESCRIPTION event.  Its checksum algorithm byte
 * is read but not acted on: the caller fixes fmt->checksum from the
 * server's binlog_checksum before the stream starts.
 */
bool
bl_read_format(const BinlogEvent *ev, BinlogFormat *fmt, char **err)
{
	const uint8 *p = ev->data;
	int			n;

	int			tail;

	if (ev->len < 2 + 50 + 4 + 1)
		return fail(err, "FORMAT_DESCRIPTION event too short");
	fmt->binlog_version = rd16(p);
	if (fmt->binlog_version != 4)
	{
		*err = psprintf("binlog version %d is not supported: pg_tributary reads binlog version 4 (MySQL 5.0 and later, every MariaDB)",
						fmt->binlog_version);
		return false;
	}
	memcpy(fmt->server_version, p + 2, 50);
	fmt->server_version[50] = '\0';
	fmt->mariadb = (strstr(fmt->server_version, "MariaDB") != NULL);
	if (p[56] < BL_HEADER_LEN)
	{
		*err = psprintf("binlog common header length %d is shorter than 19", p[56]);
		return false;
	}
	fmt->header_len = p[56];

	/*
	 * The post-header lengths, then, from a server that knows checksums,
	 * the checksum algorithm byte and always 4 bytes of checksum (which
	 * bl_read_header took off when the events carry checksums).
	 */
	tail = 0;
	fmt->checksum_alg = -1;
	if (bl_checksum_aware(fmt->server_version))
	{
		tail = fmt->checksum ? 1 : 1 + BL_CHECKSUM_LEN;
		if (ev->len < 57 + (uint32) tail)
			return fail(err, "FORMAT_DESCRIPTION event too short for its checksum algorithm");
		fmt->checksum_alg = p[ev->len - tail];
	}
	n = ev->len - 57 - tail;
	memset(fmt->post_header, 0, sizeof(fmt->post_header));
	/* entry i is for event type i + 1 */
	for (int i = 0; i < n && i < 255; i++)
		fmt->post_header[i + 1] = p[57 + i];
	fmt->npost_header = n;
	fmt->known = true;
	return true;
}

/*
 * bl_post_header: the post-header length of an event type, with the usual
 * value when no FORMAT_DESCRIPTION told it (the artificial ROTATE that
 * starts a stream comes first).
 */
int
bl_post_header(const BinlogFormat *fmt, uint8 type)
{
	if (fmt->known && type <= fmt->npost_header)
		return fmt->post_header[type];
	switch (type)
	{
		case BL_ROTATE:
		case BL_TABLE_MAP:
			return 8;
		case BL_QUERY:
			return 13;
		case BL_INCIDENT:
			return 2;
		case BL_WRITE_ROWS:
		case BL_UPDATE_ROWS:
		case BL_DELETE_ROWS:
			return 10;
		case BL_MARIA_GTID:
			return 19;
		case BL_GTID:
		case BL_ANONYMOUS_GTID:
			return 42;
		default:
			if (bl_is_rows_event(type))
				return 8;
			return 0;
	}
}

/*
 * read_file_name: the binlog file name that ends an event after its
 * post-header of at least min_ph bytes (ROTATE, HEARTBEAT).
 */
static bool
read_file_name(const BinlogEvent *ev, const BinlogFormat *fmt, int min_ph, char **file,
			   const char *what, char **err)
{
	int			ph = bl_post_header(fmt, ev->type);

	if (ph < min_ph || ev->len < (uint32) ph + 1)
		return fail(err, psprintf("%s event too short", what));
	*file = pnstrdup((const char *) ev->data + ph, ev->len - ph);
	if (strlen(*file) != ev->len - ph || strchr(*file, '/') != NULL)
		return fail(err, psprintf("%s event names an invalid file", what));
	return true;
}

/*
 * bl_read_rotate: ROTATE: the next file and the position in it.
 */
bool
bl_read_rotate(const BinlogEvent *ev, const BinlogFormat *fmt, uint64 *pos, char **file, char **err)
{
	if (!read_file_name(ev, fmt, 8, file, "ROTATE", err))
		return false;
	*pos = rd64(ev->data);
	return true;
}

/*
 * bl_read_heartbeat: HEARTBEAT (v1): the binlog file the server's dump is
 * in; the event's log_pos is the position in it.
 */
bool
bl_read_heartbeat(const BinlogEvent *ev, const BinlogFormat *fmt, char **file, char **err)
{
	return read_file_name(ev, fmt, 0, file, "HEARTBEAT", err);
}

/*
 * bl_uncompress: a MariaDB compressed block (header byte 0x80 | n, length
 * in n bytes big endian, zlib data) into a palloc'd buffer.
 */
bool
bl_uncompress(const uint8 *src, size_t srclen, char **dst, size_t *dstlen, char **err)
{
	int			lenlen;
	uint64		want = 0;
	uLongf		got;
	char	   *buf;
	int			rc;

	if (srclen < 1 || (src[0] & 0x80) == 0)
		return fail(err, "compressed binlog data lacks its header");
	lenlen = src[0] & 0x07;
	if (lenlen < 1 || lenlen > 4 || srclen < (size_t) lenlen + 1)
		return fail(err, "compressed binlog data has a bad length header");
	for (int i = 1; i <= lenlen; i++)
		want = (want << 8) | src[i];
	if (want > BL_MAX_UNCOMPRESSED)
		return fail(err, "compressed binlog data claims more than 1 GB");
	buf = palloc(want + 1);
	got = (uLongf) want;
	rc = uncompress((Bytef *) buf, &got, src + 1 + lenlen, srclen - 1 - lenlen);
	if (rc != Z_OK || got != want)
	{
		pfree(buf);
		*err = psprintf("compressed binlog data does not uncompress (zlib %d)", rc);
		return false;
	}
	buf[want] = '\0';
	*dst = buf;
	*dstlen = want;
	return true;
}

/*
 * bl_read_query: QUERY (and MariaDB QUERY_COMPRESSED): default database and
 * statement text.
 */
bool
bl_read_query(const BinlogEvent *ev, const BinlogFormat *fmt, char **db, char **query, char **err)
{
	int			ph = bl_post_header(fmt, ev->type == BL_MARIA_QUERY_COMPRESSED ? BL_QUERY : ev->type);
	const uint8 *p = ev->data;
	const uint8 *end = ev->data + ev->len;
	uint8		db_len;
	uint16		vars_len = 0;

	if (fmt->known && ev->type == BL_MARIA_QUERY_COMPRESSED)
		ph = bl_post_header(fmt, ev->type);
	if (ph < 11 || ev->len < (uint32) ph)
		return fail(err, "QUERY event too short");
	db_len = p[8];
	if (ph >= 13)
		vars_len = rd16(p + 11);
	p += ph;
	if (end - p < (ptrdiff_t) vars_len + db_len + 1)
		return fail(err, "QUERY event too short for its database name");
	p += vars_len;
	*db = pnstrdup((const char *) p, db_len);
	p += db_len + 1;
	if (ev->type == BL_MARIA_QUERY_COMPRESSED)
	{
		char	   *text;
		size_t		len;

		if (!bl_uncompress(p, end - p, &text, &len, err))
			return false;
		*query = text;
	}
	else
		*query = pnstrdup((const char *) p, end - p);
	return true;
}

/*
 * bl_read_xid: XID, the commit of a transaction.
 */
bool
bl_read_xid(const BinlogEvent *ev, const BinlogFormat *fmt, uint64 *xid, char **err)
{
	int			ph = bl_post_header(fmt, ev->type);

	if (ev->len < (uint32) ph + 8)
		return fail(err, "XID event too short");
	*xid = rd64(ev->data + ph);
	return true;
}

/*
 * bl_read_gtid: the GTID of the transaction that follows: MariaDB's
 * domain-server-seq (flags: 1 = a standalone statement, no BEGIN/COMMIT)
 * or MySQL's uuid:gno; *gtid is NULL for MySQL's anonymous GTIDs.
 */
bool
bl_read_gtid(const BinlogEvent *ev, const BinlogFormat *fmt, char **gtid, uint8 *flags, char **err)
{
	const uint8 *p = ev->data;

	*gtid = NULL;
	*flags = 0;
	if (ev->type == BL_MARIA_GTID)
	{
		if (ev->len < 13)
			return fail(err, "GTID event too short");
		*gtid = psprintf("%u-%u-" UINT64_FORMAT, rd32(p + 8), ev->server_id, rd64(p));
		*flags = p[12];
		return true;
	}
	if (ev->type == BL_GTID || ev->type == BL_ANONYMOUS_GTID)
	{
		if (ev->len < 25)
			return fail(err, "GTID event too short");
		if (ev->type == BL_GTID)
			*gtid = psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x:" INT64_FORMAT,
							 p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10],
							 p[11], p[12], p[13], p[14], p[15], p[16], (int64) rd64(p + 17));
		return true;
	}
	/* GTID_TAGGED (MySQL 8.4): a transaction starts; its GTID is not decoded */
	return true;
}

/*
 * bl_read_incident: INCIDENT (incident number u16 in the post-header,
 * then a message: u8 length, bytes): the server says events are missing
 * from the binlog (1: LOST_EVENTS), and replicas must stop.
 */
bool
bl_read_incident(const BinlogEvent *ev, const BinlogFormat *fmt, int *incident, char **message,
				 char **err)
{
	int			ph = bl_post_header(fmt, ev->type);
	const uint8 *p = ev->data;
	const uint8 *end = ev->data + ev->len;

	if (ph < 2 || ev->len < (uint32) ph)
		return fail(err, "INCIDENT event too short");
	*incident = rd16(p);
	p += ph;
	*message = pstrdup("");
	if (p < end)
	{
		uint8		n = *p++;

		if (end - p < n)
			return fail(err, "INCIDENT event too short for its message");
		*message = pnstrdup((const char *) p, n);
	}
	return true;
}

/*
 * bl_event_table_id: the table id a TABLE_MAP or rows event starts with
 * (6 bytes, or 4 with the old 6-byte post-header).
 */
bool
bl_event_table_id(const BinlogEvent *ev, const BinlogFormat *fmt, uint64 *table_id, char **err)
{
	int			ph = bl_post_header(fmt, ev->type);

	if ((ph != 6 && ph < 8) || ev->len < (uint32) ph)
		return fail(err, "event too short for its table id");
	*table_id = (ph == 6) ? rd32(ev->data) : rd48(ev->data);
	return true;
}

/*
 * bl_is_rows_event: whether an event type carries row images.
 */
bool
bl_is_rows_event(uint8 type)
{
	return (type >= BL_WRITE_ROWS_V1 && type <= BL_DELETE_ROWS_V1) ||
		(type >= BL_WRITE_ROWS && type <= BL_DELETE_ROWS) ||
		type == BL_PARTIAL_UPDATE_ROWS ||
		(type >= BL_MARIA_WRITE_ROWS_COMPRESSED && type <= BL_MARIA_DELETE_ROWS_COMPRESSED_V1);
}

/*
 * bl_read_rows: the framing of a rows event (v1, v2 or MariaDB
 * compressed): table id, column bitmaps and the row images.
 */
bool
bl_read_rows(const BinlogEvent *ev, const BinlogFormat *fmt, BinlogRows *rows, char **err)
{
	int			ph = bl_post_header(fmt, ev->type);
	const uint8 *p = ev->data;
	const uint8 *end = ev->data + ev->len;
	uint64		n;
	int			bitmap_len;
	bool		compressed = (ev->type >= BL_MARIA_WRITE_ROWS_COMPRESSED);

	memset(rows, 0, sizeof(*rows));
	switch (ev->type)
	{
		case BL_WRITE_ROWS_V1:
		case BL_WRITE_ROWS:
		case BL_MARIA_WRITE_ROWS_COMPRESSED:
		case BL_MARIA_WRITE_ROWS_COMPRESSED_V1:
			rows->kind = 'I';
			break;
		case BL_UPDATE_ROWS_V1:
		case BL_UPDATE_ROWS:
		case BL_MARIA_UPDATE_ROWS_COMPRESSED:
		case BL_MARIA_UPDATE_ROWS_COMPRESSED_V1:
			rows->kind = 'U';
			break;
		case BL_DELETE_ROWS_V1:
		case BL_DELETE_ROWS:
		case BL_MARIA_DELETE_ROWS_COMPRESSED:
		case BL_MARIA_DELETE_ROWS_COMPRESSED_V1:
			rows->kind = 'D';
			break;
		case BL_PARTIAL_UPDATE_ROWS:
			return fail(err, "PARTIAL_UPDATE_ROWS event: the source logs JSON updates as diffs (binlog_row_value_options = PARTIAL_JSON)");
		default:
			return fail(err, "not a rows event");
	}
	if ((ph != 6 && ph != 8 && ph != 10) || ev->len < (uint32) ph)
		return fail(err, "rows event too short");
	rows->table_id = (ph == 6) ? rd32(p) : rd48(p);
	rows->flags = rd16(p + ph - (ph == 10 ? 4 : 2));
	p += ph;
	if (ph == 10)
	{
		uint16		extra = rd16(p - 2);

		if (extra < 2 || end - p < extra - 2)
			return fail(err, "rows event has a bad extra data length");
		p += extra - 2;
	}
	if (!bl_read_lenenc(&p, end, &n) || n == 0 || n > 4096)
		return fail(err, "rows event has a bad column count");
	rows->ncolumns = (int) n;
	bitmap_len = (int) ((n + 7) / 8);
	if (end - p < bitmap_len * (rows->kind == 'U' ? 2 : 1))
		return fail(err, "rows event lacks its column bitmaps");
	rows->present = p;
	p += bitmap_len;
	if (rows->kind == 'U')
	{
		rows->present_after = p;
		p += bitmap_len;
	}
	if (compressed)
	{
		size_t		len;

		if (!bl_uncompress(p, end - p, &rows->uncompressed, &len, err))
			return false;
		rows->rows = (const uint8 *) rows->uncompressed;
		rows->rows_len = (uint32) len;
	}
	else
	{
		rows->rows = p;
		rows->rows_len = end - p;
	}
	return true;
}

/*
 * bl_read_payload: MySQL 8 TRANSACTION_PAYLOAD: the events it holds,
 * uncompressed (whole events without checksums, back to back).  fmt is
 * unused: the event has no post-header.
 */
bool
bl_read_payload(const BinlogEvent *ev, const BinlogFormat *fmt, char **events, size_t *len, char **err)
{
	/*
	 * No post-header, whatever the format description says: MySQL 8.0.40
	 * declares 40 bytes for this event type and writes none (its own
	 * reader ignores the declared length; the body is all fields).
	 */
	const uint8 *p = ev->data;
	const uint8 *end = ev->data + ev->len;
	uint64		payload_size = 0;
	uint64		compression = 0;
	uint64		uncompressed = 0;
	bool		have_size = false;

	if (p > end)
		return fail(err, "TRANSACTION_PAYLOAD event too short");
	for (;;)
	{
		uint64		field;
		uint64		flen;
		const uint8 *v;
		uint64		val;

		if (!bl_read_lenenc(&p, end, &field))
			return fail(err, "TRANSACTION_PAYLOAD header is truncated");
		if (field == 0)
			break;
		if (!bl_read_lenenc(&p, end, &flen) || flen > (uint64) (end - p))
			return fail(err, "TRANSACTION_PAYLOAD header is truncated");
		v = p;
		p += flen;
		if (field > 3)
			continue;			/* a field of a newer server */
		if (!bl_read_lenenc(&v, p, &val))
			return fail(err, "TRANSACTION_PAYLOAD header field is invalid");
		if (field == 1)
		{
			payload_size = val;
			have_size = true;
		}
		else if (field == 2)
			compression = val;
		else
			uncompressed = val;
	}
	if (!have_size || payload_size != (uint64) (end - p))
		return fail(err, "TRANSACTION_PAYLOAD size does not match the event");
	if (compression == 255)
	{
		*events = palloc(payload_size + 1);
		memcpy(*events, p, payload_size);
		*len = payload_size;
		return true;
	}
	if (compression != 0)
	{
		*err = psprintf("TRANSACTION_PAYLOAD compression type " UINT64_FORMAT " is not supported", compression);
		return false;
	}
	if (uncompressed > BL_MAX_UNCOMPRESSED)
		return fail(err, "TRANSACTION_PAYLOAD claims more than 1 GB");
	{
		char	   *buf = palloc(uncompressed + 1);
		size_t		got = ZSTD_decompress(buf, uncompressed, p, payload_size);

		if (ZSTD_isError(got) || got != uncompressed)
		{
			pfree(buf);
			*err = psprintf("TRANSACTION_PAYLOAD does not uncompress: %s",
							ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");
			return false;
		}
		*events = buf;
		*len = got;
	}
	return true;
}
