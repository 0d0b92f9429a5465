/*-------------------------------------------------------------------------
 *
 * binlog_json.c
 *		MySQL's binary JSON (the storage and binlog format of JSON columns)
 *		into JSON text for jsonb.
 *
 * A value is a type byte and its data:
 *
 *	0x00/0x01	object, small/large: element count, byte size (u16/u32),
 *				key entries (offset u16/u32, length u16), value entries
 *				(type u8, offset or inline value u16/u32); offsets count
 *				from the start of the object's data
 *	0x02/0x03	array, small/large: count, size, value entries
 *	0x04		literal: 0 null, 1 true, 2 false
 *	0x05-0x0a	int16, uint16, int32, uint32, int64, uint64
 *	0x0b		double
 *	0x0c		string: length (7 bits a byte, high bit = more), UTF-8
 *	0x0f		opaque: MySQL column type u8, length, bytes (DECIMAL and
 *				temporal values; others are printed as MySQL prints them,
 *				"base64:typeN:...")
 *
 * int16/uint16 (and int32/uint32 in large containers) and literals are
 * stored inline in their value entry.  Nesting is bounded, and so is the
 * text: entries of a valid document point at distinct values, so a
 * document whose text grows beyond 64 bytes per byte of input (entries
 * sharing sub-documents) is refused rather than expanded exponentially.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "common/base64.h"
#include <math.h>

#include "common/shortest_dec.h"
#include "source/binlog.h"

#define JSON_MAX_DEPTH	100
#define JSON_MAX_GROWTH	64

/* the longest the text of the document being printed may grow */
static int	json_limit;

static bool json_value(uint8 type, const uint8 *data, size_t len, StringInfo out, int depth,
					   char **err);

/*
 * rd: an offset or count of a small (2 bytes) or large (4 bytes)
 * container, little endian.
 */
static uint32
rd(const uint8 *p, bool large)
{
	return large ? (uint32) p[0] | ((uint32) p[1] << 8) | ((uint32) p[2] << 16) | ((uint32) p[3] << 24)
		: (uint32) (p[0] | (p[1] << 8));
}

/*
 * json_fail: set the error message.
 */
static bool
json_fail(char **err, const char *msg)
{
	*err = psprintf("binary JSON: %s", msg);
	return false;
}

/*
 * read_varlen: a variable-length length, 7 bits a byte.
 */
static bool
read_varlen(const uint8 **p, const uint8 *end, uint32 *len)
{
	uint64		v = 0;

	for (int i = 0; i < 5; i++)
	{
		if (*p >= end)
			return false;
		v |= (uint64) (**p & 0x7f) << (7 * i);
		if ((*(*p)++ & 0x80) == 0)
		{
			if (v > PG_UINT32_MAX)
				return false;
			*len = (uint32) v;
			return true;
		}
	}
	return false;
}

/*
 * append_json_string: a JSON string literal.
 */
static void
append_json_string(StringInfo out, const char *s, size_t len)
{
	appendStringInfoChar(out, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '"':
				appendStringInfoString(out, "\\\"");
				break;
			case '\\':
				appendStringInfoString(out, "\\\\");
				break;
			case '\n':
				appendStringInfoString(out, "\\n");
				break;
			case '\r':
				appendStringInfoString(out, "\\r");
				break;
			case '\t':
				appendStringInfoString(out, "\\t");
				break;
			default:
				if (c < 0x20)
					appendStringInfo(out, "\\u%04x", c);
				else
					appendStringInfoChar(out, (char) c);
		}
	}
	appendStringInfoChar(out, '"');
}

/*
 * is_inline: whether a value of this type sits in its entry.
 */
static bool
is_inline(uint8 type, bool large)
{
	return type == 0x04 || type == 0x05 || type == 0x06 || (large && (type == 0x07 || type == 0x08));
}

/*
 * entry_value: the value a value entry names, inline or at its offset.
 */
static bool
entry_value(const uint8 *base, size_t size, const uint8 *entry, bool large, StringInfo out,
			int depth, char **err)
{
	uint8		type = entry[0];
	uint32		v = rd(entry + 1, large);

	if (is_inline(type, large))
	{
		switch (type)
		{
			case 0x04:
				if (v > 2)
					return json_fail(err, "bad literal");
				appendStringInfoString(out, v == 0 ? "null" : v == 1 ? "true" : "false");
				return true;
			case 0x05:
				appendStringInfo(out, "%d", (int) (int16) v);
				return true;
			case 0x06:
				appendStringInfo(out, "%u", (unsigned) (uint16) v);
				return true;
			case 0x07:
				appendStringInfo(out, "%d", (int32) v);
				return true;
			default:
				appendStringInfo(out, "%u", v);
				return true;
		}
	}
	if (v >= size)
		return json_fail(err, "value offset out of range");
	return json_value(type, base + v, size - v, out, depth + 1, err);
}

/*
 * container: an object or array of len bytes.
 */
static bool
container(const uint8 *data, size_t len, bool large, bool object, StringInfo out, int depth,
		  char **err)
{
	int			w = large ? 4 : 2;
	uint32		count;
	uint32		size;
	size_t		header;
	int			key_entry = w + 2;
	int			value_entry = 1 + w;

	if (depth > JSON_MAX_DEPTH)
		return json_fail(err, "nested too deeply");
	if (out->len > json_limit)
		return json_fail(err, "document expands beyond its size (shared entries)");
	if (len < (size_t) 2 * w)
		return json_fail(err, "container too short");
	count = rd(data, large);
	size = rd(data + w, large);
	if (size > len)
		return json_fail(err, "container larger than its value");
	header = 2 * w + (size_t) count * ((object ? key_entry : 0) + value_entry);
	if (header > size)
		return json_fail(err, "container entries out of range");
	appendStringInfoChar(out, object ? '{' : '[');
	for (uint32 i = 0; i < count; i++)
	{
		const uint8 *ventry;

		if (i > 0)
			appendStringInfoString(out, ", ");
		if (object)
		{
			const uint8 *kentry = data + 2 * w + (size_t) i * key_entry;
			uint32		koff = rd(kentry, large);
			uint32		klen = kentry[w] | (kentry[w + 1] << 8);

			if ((uint64) koff + klen > size)
				return json_fail(err, "key out of range");
			append_json_string(out, (const char *) data + koff, klen);
			appendStringInfoString(out, ": ");
			ventry = data + 2 * w + (size_t) count * key_entry + (size_t) i * value_entry;
		}
		else
			ventry = data + 2 * w + (size_t) i * value_entry;
		if (!entry_value(data, size, ventry, large, out, depth, err))
			return false;
	}
	appendStringInfoChar(out, object ? '}' : ']');
	return true;
}

/*
 * opaque_value: a MySQL value inside JSON (DECIMAL, temporal, other).
 */
static bool
opaque_value(uint8 mtype, const uint8 *p, uint32 len, StringInfo out, char **err)
{
	if (mtype == MT_NEWDECIMAL)
	{
		BinlogTableMap map;
		BinlogColumn col;
		BinlogValue v;
		const uint8 *q;

		if (len < 3)
			return json_fail(err, "short DECIMAL");
		memset(&map, 0, sizeof(map));
		memset(&col, 0, sizeof(col));
		col.type = MT_NEWDECIMAL;
		col.meta = p[0] | (p[1] << 8);
		map.ncolumns = 1;
		map.columns = &col;
		{
			/* one present, non-NULL column: a null bitmap byte of 0 */
			uint8	   *row = palloc(len - 2 + 1);
			uint8		present = 1;

			row[0] = 0;
			memcpy(row + 1, p + 2, len - 2);
			q = row;
			if (!bl_read_row(&map, &present, &q, row + len - 1, &v, err))
				return false;
		}
		appendBinaryStringInfo(out, v.data, v.len);
		return true;
	}
	if (mtype == MT_DATE || mtype == MT_DATETIME || mtype == MT_TIMESTAMP || mtype == MT_TIME)
	{
		int64		packed;
		int64		ip;
		uint32		usec;
		char		buf[64];

		if (len < 8)
			return json_fail(err, "short temporal value");
		packed = (int64) ((uint64) p[0] | ((uint64) p[1] << 8) | ((uint64) p[2] << 16) |
						  ((uint64) p[3] << 24) | ((uint64) p[4] << 32) | ((uint64) p[5] << 40) |
						  ((uint64) p[6] << 48) | ((uint64) p[7] << 56));
		if (mtype == MT_TIME)
		{
			bool		neg = packed < 0;
			int64		hms;

			if (neg)
				packed = -packed;
			hms = packed >> 24;
			usec = (uint32) (packed % (1 << 24));
			snprintf(buf, sizeof(buf), "%s%02d:%02d:%02d", neg ? "-" : "",
					 (int) ((hms >> 12) % 1024), (int) ((hms >> 6) % 64), (int) (hms % 64));
		}
		else
		{
			BinlogDateTime dt;

			if (packed < 0)
				return json_fail(err, "negative date");
			ip = packed >> 24;
			usec = (uint32) (packed % (1 << 24));
			bl_unpack_datetime(ip, &dt);
			if (mtype == MT_DATE)
				snprintf(buf, sizeof(buf), "%04d-%02d-%02d", dt.year, dt.month, dt.day);
			else
				snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", dt.year, dt.month, dt.day,
						 dt.hour, dt.minute, dt.second);
		}
		if (usec != 0)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%06u", usec);
		append_json_string(out, buf, strlen(buf));
		return true;
	}
	{
		int			enclen = pg_b64_enc_len(len);
		char	   *enc = palloc(enclen + 1);
		int			n = pg_b64_encode((const char *) p, len, enc, enclen);
		char	   *s;

		if (n < 0)
			return json_fail(err, "cannot encode opaque value");
		enc[n] = '\0';
		s = psprintf("base64:type%u:%s", mtype, enc);
		append_json_string(out, s, strlen(s));
		return true;
	}
}

/*
 * json_value: one value of a type, its data len bytes long at most.
 */
static bool
json_value(uint8 type, const uint8 *data, size_t len, StringInfo out, int depth, char **err)
{
	char		buf[64];

	switch (type)
	{
		case 0x00:
		case 0x01:
			return container(data, len, type == 0x01, true, out, depth, err);
		case 0x02:
		case 0x03:
			return container(data, len, type == 0x03, false, out, depth, err);
		case 0x04:
			if (len < 1 || data[0] > 2)
				return json_fail(err, "bad literal");
			appendStringInfoString(out, data[0] == 0 ? "null" : data[0] == 1 ? "true" : "false");
			return true;
		case 0x05:
		case 0x06:
			if (len < 2)
				return json_fail(err, "short integer");
			appendStringInfo(out, type == 0x05 ? "%d" : "%u",
							 type == 0x05 ? (int) (int16) rd(data, false) : (int) rd(data, false));
			return true;
		case 0x07:
		case 0x08:
			if (len < 4)
				return json_fail(err, "short integer");
			if (type == 0x07)
				appendStringInfo(out, "%d", (int32) rd(data, true));
			else
				appendStringInfo(out, "%u", rd(data, true));
			return true;
		case 0x09:
		case 0x0a:
		case 0x0b:
			{
				uint64		u;

				if (len < 8)
					return json_fail(err, "short number");
				u = (uint64) rd(data, true) | ((uint64) rd(data + 4, true) << 32);
				if (type == 0x09)
					appendStringInfo(out, INT64_FORMAT, (int64) u);
				else if (type == 0x0a)
					appendStringInfo(out, UINT64_FORMAT, u);
				else
				{
					double		d;

					memcpy(&d, &u, 8);
					if (isnan(d) || isinf(d))
						return json_fail(err, "double is not finite");
					double_to_shortest_decimal_buf(d, buf);
					appendStringInfoString(out, buf);
				}
				return true;
			}
		case 0x0c:
			{
				const uint8 *p = data;
				uint32		slen;

				if (!read_varlen(&p, data + len, &slen) || slen > (size_t) (data + len - p))
					return json_fail(err, "string out of range");
				append_json_string(out, (const char *) p, slen);
				return true;
			}
		case 0x0f:
			{
				const uint8 *p = data;
				uint8		mtype;
				uint32		olen;

				if (len < 1)
					return json_fail(err, "short opaque value");
				mtype = *p++;
				if (!read_varlen(&p, data + len, &olen) || olen > (size_t) (data + len - p))
					return json_fail(err, "opaque value out of range");
				return opaque_value(mtype, p, olen, out, err);
			}
		default:
			*err = psprintf("binary JSON: unknown value type %u", type);
			return false;
	}
}

/*
 * bl_json_to_text: a binary JSON document as JSON text.
 */
bool
bl_json_to_text(const uint8 *data, size_t len, StringInfo out, char **err)
{
	if (len < 1)
		return json_fail(err, "empty document");
	if (len > (size_t) (0x3fffffff / JSON_MAX_GROWTH))
		return json_fail(err, "document too large");
	json_limit = out->len + (int) len * JSON_MAX_GROWTH + 1024;
	return json_value(data[0], data + 1, len - 1, out, 0, err);
}
