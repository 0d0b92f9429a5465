/*-------------------------------------------------------------------------
 *
 * binlog_xa.c
 *		XA transaction identifiers in MySQL / MariaDB binary logs: the
 *		XA_PREPARE event, the identifier a MariaDB GTID event carries for
 *		an XA transaction, and the identifier of an XA statement's text.
 *
 * An XA transaction is logged in two groups (MariaDB 10.5+, MySQL 5.7+):
 * its changes, ending in XA_PREPARE, and later, in a group of its own,
 * "XA COMMIT xid" or "XA ROLLBACK xid" (a QUERY event).  MariaDB marks
 * the first group's GTID event FL_PREPARED_XA and the second's
 * FL_COMPLETED_XA, both with the identifier; MySQL opens the first group
 * with a QUERY "XA START xid".  A one-phase XA COMMIT is one ordinary
 * group (MariaDB: ending in XID; MySQL: ending in XA_PREPARE with
 * one_phase set).
 *
 * Formats read:
 *
 *	XA_PREPARE			one_phase u8, format_id u32, gtrid_length u32,
 *						bqual_length u32, gtrid and bqual bytes
 *	MariaDB GTID		seq_no u64, domain_id u32, flags u8,
 *						[flags & 2: commit_id u64],
 *						[flags & (64 | 128): format_id u32, gtrid_length u8,
 *						bqual_length u8, gtrid and bqual bytes]
 *	statement text		XA COMMIT|ROLLBACK|START gtrid [, bqual [, format_id]]
 *						with gtrid and bqual as X'hex', 0xhex or a quoted
 *						string (the servers log X'hex',X'hex',n)
 *
 * An identifier's text (bl_xid_text) is the servers' own form,
 * X'<gtrid hex>',X'<bqual hex>',<format_id>, in lower-case hex.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "source/binlog.h"
#include "source/binlog_bytes.h"

/*
 * bl_read_xa_prepare: an XA_PREPARE event: the transaction's identifier
 * and whether it is a one-phase commit.
 */
bool
bl_read_xa_prepare(const BinlogEvent *ev, const BinlogFormat *fmt, BinlogXid *xid,
				   bool *one_phase, char **err)
{
	int			ph = bl_post_header(fmt, ev->type);
	const uint8 *p = ev->data;
	uint32		glen;
	uint32		blen;

	if (ph < 0 || ev->len < (uint32) ph + 13)
		return fail(err, "XA_PREPARE event too short");
	p += ph;
	*one_phase = (p[0] != 0);
	xid->format_id = (int32) rd32(p + 1);
	glen = rd32(p + 5);
	blen = rd32(p + 9);
	if (glen > BL_XID_PART_MAX || blen > BL_XID_PART_MAX)
		return fail(err, "XA_PREPARE event has an identifier longer than 64 bytes");
	if (ev->len - ph - 13 != glen + blen)
		return fail(err, "XA_PREPARE event size does not match its identifier");
	xid->gtrid_len = (int) glen;
	xid->bqual_len = (int) blen;
	memcpy(xid->data, p + 13, glen + blen);
	return true;
}

/*
 * bl_read_gtid_xa: the XA identifier of a MariaDB GTID event flagged
 * FL_PREPARED_XA or FL_COMPLETED_XA (*has_xid false for other GTIDs).
 */
bool
bl_read_gtid_xa(const BinlogEvent *ev, BinlogXid *xid, bool *has_xid, char **err)
{
	const uint8 *p = ev->data;
	const uint8 *end = ev->data + ev->len;
	uint8		flags;

	*has_xid = false;
	if (ev->type != BL_MARIA_GTID)
		return true;
	if (ev->len < 13)
		return fail(err, "GTID event too short");
	flags = p[12];
	p += 13;
	if ((flags & BL_MARIA_GTID_XA) == 0)
		return true;
	if (flags & BL_MARIA_GTID_COMMIT_ID)
	{
		if (end - p < 8)
			return fail(err, "GTID event too short for its commit id");
		p += 8;
	}
	if (end - p < 6)
		return fail(err, "GTID event too short for its XA identifier");
	xid->format_id = (int32) rd32(p);
	xid->gtrid_len = p[4];
	xid->bqual_len = p[5];
	p += 6;
	if (xid->gtrid_len > BL_XID_PART_MAX || xid->bqual_len > BL_XID_PART_MAX)
		return fail(err, "GTID event has an XA identifier longer than 64 bytes");
	if (end - p < xid->gtrid_len + xid->bqual_len)
		return fail(err, "GTID event too short for its XA identifier");
	memcpy(xid->data, p, xid->gtrid_len + xid->bqual_len);
	*has_xid = true;
	return true;
}

/*
 * hexval: the value of a hex digit, or -1.
 */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * skip_space: past blanks.
 */
static const char *
skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

/*
 * parse_part: one string of an identifier (X'hex', 0xhex or a quoted
 * string) into buf (at most BL_XID_PART_MAX bytes); the text after it, or
 * NULL.
 */
static const char *
parse_part(const char *s, uint8 *buf, int *len)
{
	*len = 0;
	if ((s[0] == 'X' || s[0] == 'x') && s[1] == '\'')
	{
		s += 2;
		while (*s != '\'')
		{
			int			hi = hexval(s[0]);
			int			lo = hi < 0 ? -1 : hexval(s[1]);

			if (lo < 0 || *len >= BL_XID_PART_MAX)
				return NULL;
			buf[(*len)++] = (uint8) (hi * 16 + lo);
			s += 2;
		}
		return s + 1;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
	{
		s += 2;
		while (hexval(s[0]) >= 0)
		{
			int			lo = hexval(s[1]);

			if (lo < 0 || *len >= BL_XID_PART_MAX)
				return NULL;
			buf[(*len)++] = (uint8) (hexval(s[0]) * 16 + lo);
			s += 2;
		}
		return s;
	}
	if (s[0] == '\'' || s[0] == '"')
	{
		char		q = *s++;

		for (;;)
		{
			char		c = *s;

			if (c == '\0')
				return NULL;
			if (c == q && s[1] == q)
				s++;
			else if (c == q)
				return s + 1;
			else if (c == '\\' && s[1] != '\0')
				c = *++s;
			if (*len >= BL_XID_PART_MAX)
				return NULL;
			buf[(*len)++] = (uint8) c;
			s++;
		}
	}
	return NULL;
}

/*
 * bl_parse_xa_statement: whether text is "XA <verb> xid ..." (verb COMMIT,
 * ROLLBACK or START, case-insensitive); the identifier, and whether the
 * statement says ONE PHASE.  Text that is not such a statement, or whose
 * identifier does not parse, gives false.
 */
bool
bl_parse_xa_statement(const char *text, const char *verb, BinlogXid *xid, bool *one_phase)
{
	const char *s = skip_space(text);
	size_t		vlen = strlen(verb);
	int			len;

	*one_phase = false;
	if (pg_strncasecmp(s, "XA", 2) != 0 || (s[2] != ' ' && s[2] != '\t' && s[2] != '\n'))
		return false;
	s = skip_space(s + 2);
	if (pg_strncasecmp(s, verb, vlen) != 0 || (s[vlen] != ' ' && s[vlen] != '\t' && s[vlen] != '\n'))
		return false;
	s = skip_space(s + vlen);
	memset(xid, 0, sizeof(*xid));
	xid->format_id = 1;
	s = parse_part(s, xid->data, &len);
	if (s == NULL)
		return false;
	xid->gtrid_len = len;
	s = skip_space(s);
	if (*s == ',')
	{
		uint8		bqual[BL_XID_PART_MAX];

		s = parse_part(skip_space(s + 1), bqual, &len);
		if (s == NULL)
			return false;
		memcpy(xid->data + xid->gtrid_len, bqual, len);
		xid->bqual_len = len;
		s = skip_space(s);
		if (*s == ',')
		{
			int64		n = 0;
			bool		neg = false;

			s = skip_space(s + 1);
			if (*s == '-')
			{
				neg = true;
				s++;
			}
			if (*s < '0' || *s > '9')
				return false;
			while (*s >= '0' && *s <= '9' && n <= PG_INT32_MAX)
				n = n * 10 + (*s++ - '0');
			if (n > PG_INT32_MAX)
				return false;
			xid->format_id = (int32) (neg ? -n : n);
			s = skip_space(s);
		}
	}
	if (pg_strncasecmp(s, "ONE", 3) == 0)
	{
		s = skip_space(s + 3);
		*one_phase = (pg_strncasecmp(s, "PHASE", 5) == 0);
	}
	return true;
}

/*
 * bl_xid_text: an identifier as the servers write it, X'hex',X'hex',n.
 */
char *
bl_xid_text(const BinlogXid *xid)
{
	static const char digits[] = "0123456789abcdef";
	char	   *out = palloc(2 * (xid->gtrid_len + xid->bqual_len) + 32);
	char	   *o = out;

	*o++ = 'X';
	*o++ = '\'';
	for (int i = 0; i < xid->gtrid_len + xid->bqual_len; i++)
	{
		if (i == xid->gtrid_len)
		{
			memcpy(o, "',X'", 4);
			o += 4;
		}
		*o++ = digits[xid->data[i] >> 4];
		*o++ = digits[xid->data[i] & 15];
	}
	if (xid->bqual_len == 0)
	{
		memcpy(o, "',X'", 4);
		o += 4;
	}
	sprintf(o, "',%d", xid->format_id);
	return out;
}
