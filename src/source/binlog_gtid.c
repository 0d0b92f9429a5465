/*-------------------------------------------------------------------------
 *
 * binlog_gtid.c
 *		MySQL GTID sets: their text, their binary encoding (the body of a
 *		PREVIOUS_GTIDS event, and what COM_BINLOG_DUMP_GTID sends), and the
 *		COM_BINLOG_DUMP_GTID packet itself.
 *
 * A GTID set is, for each source server's UUID, a list of intervals of
 * transaction numbers.  Its text is MySQL's: "uuid:1-5:7,uuid2:3" (lower-
 * case UUIDs here).  Its encoding (MySQL's Gtid_set::encode; little
 * endian):
 *
 *	n_sids u64
 *	per sid:	uuid 16 bytes, n_intervals u64,
 *				per interval: start u64, end u64 (exclusive)
 *
 * The COM_BINLOG_DUMP_GTID packet, after its command byte (0x1e):
 *
 *	flags u16, server_id u32, binlog name length u32, binlog name,
 *	position u64, data size u32, the encoded GTID set (data size bytes)
 *
 * Reading and writing are symmetric: a set is kept canonical (UUIDs
 * ascending, each once, with at least one interval; intervals ascending,
 * neither overlapping nor adjacent; 1 <= start < end <= 2^63), the writer
 * writes canonical sets only, and the reader accepts exactly what the
 * writer can write: bytes it accepts are written back to the same bytes.
 * MySQL 8.3's tagged format (a non-zero format byte at the top of n_sids)
 * is refused.  Like the other binlog decoders, these functions compile
 * in the backend and, with FRONTEND, in the fuzz target.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <ctype.h>

#include "source/binlog.h"
#include "source/binlog_bytes.h"

/* the largest GTID number is 2^63 - 1, so an exclusive end is at most 2^63 */
#define GNO_END_MAX		(UINT64CONST(1) << 63)

/*
 * wr_le: append v as n little-endian bytes.
 */
static void
wr_le(StringInfo out, uint64 v, int n)
{
	char		b[8];

	for (int i = 0; i < n; i++)
		b[i] = (char) ((v >> (8 * i)) & 0xff);
	appendBinaryStringInfo(out, b, n);
}

/*
 * bl_gtid_set_init: an empty set.
 */
void
bl_gtid_set_init(BinlogGtidSet *set)
{
	memset(set, 0, sizeof(BinlogGtidSet));
}

/*
 * find_sid: the index of uuid in set, or where it belongs (as -1 - index).
 */
static int
find_sid(const BinlogGtidSet *set, const uint8 *uuid)
{
	int			lo = 0;
	int			hi = set->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = memcmp(set->sids[mid].uuid, uuid, 16);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1 - lo;
}

/*
 * bl_gtid_set_add: add the transactions [start, end) of uuid (1 <= start <
 * end <= 2^63, else false), keeping the set canonical.
 */
bool
bl_gtid_set_add(BinlogGtidSet *set, const uint8 *uuid, uint64 start, uint64 end)
{
	int			i = find_sid(set, uuid);
	BinlogGtidSid *sid;
	int			first;
	int			last;

	if (start < 1 || start >= end || end > GNO_END_MAX)
		return false;
	if (i < 0)
	{
		i = -1 - i;
		if (set->n == set->max)
		{
			set->max = set->max ? set->max * 2 : 4;
			set->sids = set->sids ? repalloc(set->sids, sizeof(BinlogGtidSid) * set->max)
				: palloc(sizeof(BinlogGtidSid) * set->max);
		}
		memmove(&set->sids[i + 1], &set->sids[i], sizeof(BinlogGtidSid) * (set->n - i));
		set->n++;
		sid = &set->sids[i];
		memcpy(sid->uuid, uuid, 16);
		sid->n = 0;
		sid->max = 4;
		sid->iv = palloc(sizeof(BinlogGtidInterval) * sid->max);
	}
	sid = &set->sids[i];

	/* the intervals that touch or overlap [start, end) merge with it */
	for (first = 0; first < sid->n && sid->iv[first].end < start; first++)
		;
	for (last = first; last < sid->n && sid->iv[last].start <= end; last++)
	{
		start = Min(start, sid->iv[last].start);
		end = Max(end, sid->iv[last].end);
	}
	if (last == first)
	{
		if (sid->n == sid->max)
		{
			sid->max *= 2;
			sid->iv = repalloc(sid->iv, sizeof(BinlogGtidInterval) * sid->max);
		}
		memmove(&sid->iv[first + 1], &sid->iv[first], sizeof(BinlogGtidInterval) * (sid->n - first));
		sid->n++;
	}
	else if (last > first + 1)
	{
		memmove(&sid->iv[first + 1], &sid->iv[last], sizeof(BinlogGtidInterval) * (sid->n - last));
		sid->n -= last - first - 1;
	}
	sid->iv[first].start = start;
	sid->iv[first].end = end;
	return true;
}

/*
 * bl_gtid_set_contains: whether every transaction of sub is in set.
 */
bool
bl_gtid_set_contains(const BinlogGtidSet *set, const BinlogGtidSet *sub)
{
	for (int s = 0; s < sub->n; s++)
	{
		int			i = find_sid(set, sub->sids[s].uuid);
		int			j = 0;

		if (i < 0)
			return false;
		for (int k = 0; k < sub->sids[s].n; k++)
		{
			const BinlogGtidInterval *iv = &sub->sids[s].iv[k];

			while (j < set->sids[i].n && set->sids[i].iv[j].end < iv->end)
				j++;
			if (j == set->sids[i].n || set->sids[i].iv[j].start > iv->start)
				return false;
		}
	}
	return true;
}

/*
 * bl_gtid_set_last: the highest transaction number of uuid in set, 0 if
 * none.
 */
uint64
bl_gtid_set_last(const BinlogGtidSet *set, const uint8 *uuid)
{
	int			i = find_sid(set, uuid);

	if (i < 0)
		return 0;
	return set->sids[i].iv[set->sids[i].n - 1].end - 1;
}

/*
 * read_number: a decimal number at *p, at most 2^63 - 1.
 */
static bool
read_number(const char **p, uint64 *v)
{
	uint64		n = 0;

	if (!isdigit((unsigned char) **p))
		return false;
	while (isdigit((unsigned char) **p))
	{
		if (n > (GNO_END_MAX - 1 - (**p - '0')) / 10)
			return false;
		n = n * 10 + (**p - '0');
		(*p)++;
	}
	*v = n;
	return true;
}

/*
 * bl_gtid_uuid_from_text: a UUID's 36 characters (8-4-4-4-12 hexadecimal
 * digits) as 16 bytes.
 */
bool
bl_gtid_uuid_from_text(const char *text, uint8 *uuid)
{
	static const int dashes[4] = {8, 13, 18, 23};
	int			d = 0;
	int			b = 0;

	for (int i = 0; i < 36; i++)
	{
		char		c = text[i];

		if (d < 4 && i == dashes[d])
		{
			if (c != '-')
				return false;
			d++;
			continue;
		}
		if (!isxdigit((unsigned char) c))
			return false;
		c = (char) tolower((unsigned char) c);
		if ((b & 1) == 0)
			uuid[b / 2] = 0;
		uuid[b / 2] |= (uint8) ((c <= '9' ? c - '0' : c - 'a' + 10) << ((b & 1) ? 0 : 4));
		b++;
	}
	return true;
}

/*
 * bl_gtid_set_from_text: MySQL's text of a GTID set ("uuid:1-5:7,uuid2:3";
 * spaces and newlines after commas, as @@gtid_executed has them, are
 * allowed), added to set.  Tags (MySQL 8.3) are refused.
 */
bool
bl_gtid_set_from_text(const char *text, BinlogGtidSet *set, char **err)
{
	const char *p = text;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		return true;
	for (;;)
	{
		uint8		uuid[16];

		if (strnlen(p, 36) < 36 || !bl_gtid_uuid_from_text(p, uuid))
			return fail(err, "GTID set: a UUID was expected");
		p += 36;
		if (*p != ':')
			return fail(err, "GTID set: a UUID has no transactions");
		while (*p == ':')
		{
			uint64		start;
			uint64		last;

			p++;
			if (!read_number(&p, &start))
				return fail(err, "GTID set: a transaction number was expected (tags are not supported)");
			last = start;
			if (*p == '-')
			{
				p++;
				if (!read_number(&p, &last))
					return fail(err, "GTID set: an interval has no end");
			}
			if (start < 1 || last < start || !bl_gtid_set_add(set, uuid, start, last + 1))
				return fail(err, "GTID set: an interval is empty or starts at 0");
		}
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return fail(err, "GTID set: a comma was expected");
		while (isspace((unsigned char) *p))
			p++;
	}
}

/*
 * bl_gtid_set_to_text: MySQL's text of set, appended to out.
 */
void
bl_gtid_set_to_text(const BinlogGtidSet *set, StringInfo out)
{
	for (int s = 0; s < set->n; s++)
	{
		const uint8 *u = set->sids[s].uuid;

		if (s > 0)
			appendStringInfoChar(out, ',');
		appendStringInfo(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
						 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
						 u[11], u[12], u[13], u[14], u[15]);
		for (int k = 0; k < set->sids[s].n; k++)
		{
			const BinlogGtidInterval *iv = &set->sids[s].iv[k];

			if (iv->end - iv->start == 1)
				appendStringInfo(out, ":" UINT64_FORMAT, iv->start);
			else
				appendStringInfo(out, ":" UINT64_FORMAT "-" UINT64_FORMAT, iv->start, iv->end - 1);
		}
	}
}

/*
 * bl_gtid_set_write: the encoding of set, appended to out.
 */
void
bl_gtid_set_write(const BinlogGtidSet *set, StringInfo out)
{
	wr_le(out, (uint64) set->n, 8);
	for (int s = 0; s < set->n; s++)
	{
		appendBinaryStringInfo(out, (const char *) set->sids[s].uuid, 16);
		wr_le(out, (uint64) set->sids[s].n, 8);
		for (int k = 0; k < set->sids[s].n; k++)
		{
			wr_le(out, set->sids[s].iv[k].start, 8);
			wr_le(out, set->sids[s].iv[k].end, 8);
		}
	}
}

/*
 * bl_gtid_set_size: the length of set's encoding.
 */
size_t
bl_gtid_set_size(const BinlogGtidSet *set)
{
	size_t		n = 8;

	for (int s = 0; s < set->n; s++)
		n += 16 + 8 + 16 * (size_t) set->sids[s].n;
	return n;
}

/*
 * bl_gtid_set_read: a set's encoding, exactly len bytes, into an empty set;
 * everything that is not canonical is refused (see the file's header).
 */
bool
bl_gtid_set_read(const uint8 *data, size_t len, BinlogGtidSet *set, char **err)
{
	const uint8 *p = data;
	const uint8 *end = data + len;
	uint64		nsids;

	bl_gtid_set_init(set);
	if (len < 8)
		return fail(err, "GTID set too short");
	nsids = rd64(p);
	p += 8;
	if ((nsids >> 56) != 0)
		return fail(err, "GTID set in the tagged format (MySQL 8.3), which is not supported");
	if (nsids > (uint64) (end - p) / 24)
		return fail(err, "GTID set: more UUIDs than its bytes can hold");
	for (uint64 s = 0; s < nsids; s++)
	{
		const uint8 *uuid = p;
		uint64		niv;
		uint64		prev_end = 0;

		if (end - p < 24)
			return fail(err, "GTID set too short for its UUIDs");
		if (s > 0 && memcmp(set->sids[set->n - 1].uuid, uuid, 16) >= 0)
			return fail(err, "GTID set: UUIDs are not in ascending order");
		niv = rd64(p + 16);
		p += 24;
		if (niv == 0)
			return fail(err, "GTID set: a UUID has no intervals");
		if (niv > (uint64) (end - p) / 16)
			return fail(err, "GTID set: more intervals than its bytes can hold");
		for (uint64 k = 0; k < niv; k++)
		{
			uint64		start = rd64(p);
			uint64		stop = rd64(p + 8);

			p += 16;
			if (start < 1 || start >= stop || stop > GNO_END_MAX)
				return fail(err, "GTID set: an interval is empty, starts at 0 or ends past 2^63");
			if (k > 0 && start <= prev_end)
				return fail(err, "GTID set: intervals overlap, touch or are not in ascending order");
			(void) bl_gtid_set_add(set, uuid, start, stop);
			prev_end = stop;
		}
	}
	if (p != end)
		return fail(err, "GTID set: bytes after its last interval");
	return true;
}

/*
 * bl_read_previous_gtids: a PREVIOUS_GTIDS event: the GTID set of every
 * transaction in the binlog files before this one.
 */
bool
bl_read_previous_gtids(const BinlogEvent *ev, const BinlogFormat *fmt, BinlogGtidSet *set,
					   char **err)
{
	int			ph = bl_post_header(fmt, ev->type);

	if (ph < 0 || ev->len < (uint32) ph)
		return fail(err, "PREVIOUS_GTIDS event too short");
	return bl_gtid_set_read(ev->data + ph, ev->len - ph, set, err);
}

/*
 * bl_previous_gtids_tagged: whether a PREVIOUS_GTIDS event's set is in
 * MySQL 8.3's tagged format (a format byte at the top of n_sids), which
 * bl_read_previous_gtids refuses.
 */
bool
bl_previous_gtids_tagged(const BinlogEvent *ev, const BinlogFormat *fmt)
{
	int			ph = bl_post_header(fmt, ev->type);

	return ph >= 0 && ev->len >= (uint32) ph + 8 && ev->data[ph + 7] != 0;
}

/*
 * bl_write_dump_gtid: the COM_BINLOG_DUMP_GTID packet after its command
 * byte, appended to out.
 */
void
bl_write_dump_gtid(StringInfo out, uint16 flags, uint32 server_id, const char *file, uint64 pos,
				   const BinlogGtidSet *set)
{
	size_t		flen = strlen(file);

	wr_le(out, flags, 2);
	wr_le(out, server_id, 4);
	wr_le(out, flen, 4);
	appendBinaryStringInfo(out, file, flen);
	wr_le(out, pos, 8);
	wr_le(out, bl_gtid_set_size(set), 4);
	bl_gtid_set_write(set, out);
}

/*
 * bl_read_dump_gtid: a COM_BINLOG_DUMP_GTID packet after its command byte
 * (what bl_write_dump_gtid writes), validated; *file is a palloc'd string
 * without NUL bytes.
 */
bool
bl_read_dump_gtid(const uint8 *data, size_t len, uint16 *flags, uint32 *server_id, char **file,
				  uint64 *pos, BinlogGtidSet *set, char **err)
{
	const uint8 *p = data;
	const uint8 *end = data + len;
	uint32		flen;
	uint32		size;

	if (len < 10)
		return fail(err, "COM_BINLOG_DUMP_GTID too short");
	*flags = rd16(p);
	*server_id = rd32(p + 2);
	flen = rd32(p + 6);
	p += 10;
	if (flen > (uint32) (end - p) || memchr(p, '\0', flen) != NULL)
		return fail(err, "COM_BINLOG_DUMP_GTID: invalid binlog name");
	*file = pnstrdup((const char *) p, flen);
	p += flen;
	if (end - p < 12)
		return fail(err, "COM_BINLOG_DUMP_GTID too short for its position");
	*pos = rd64(p);
	size = rd32(p + 8);
	p += 12;
	if (size != (uint32) (end - p))
		return fail(err, "COM_BINLOG_DUMP_GTID: the data size is not the GTID set's");
	return bl_gtid_set_read(p, size, set, err);
}
