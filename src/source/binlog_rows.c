/*-------------------------------------------------------------------------
 *
 * binlog_rows.c
 *		Row images of binlog rows events, value by value, into the text
 *		that PostgreSQL's input functions read (DESIGN §5).
 *
 * A row image is a null bitmap over the columns present in the event,
 * then each present non-NULL value in its storage format:
 *
 *	TINY/SHORT/INT24/LONG/LONGLONG	1/2/3/4/8 bytes little endian, signed
 *						or not (SIGNEDNESS metadata or information_schema)
 *	FLOAT, DOUBLE		IEEE 754, 4/8 bytes; printed shortest-exact
 *	NEWDECIMAL			MySQL's packed decimal: groups of 9 digits in 4
 *						bytes big endian, leftover digits in 1-4 bytes, sign
 *						in the top bit, negative values bit-inverted
 *	YEAR				1 byte, 1900 + n (0 stays 0)
 *	DATE				3 bytes: day 5 bits, month 4 bits, year above
 *	DATETIME2			5 bytes big endian (sign, year*13+month 17 bits,
 *						day 5, hour 5, minute 6, second 6), then the
 *						fraction in (fsp+1)/2 bytes big endian
 *	TIMESTAMP2			seconds since the epoch, 4 bytes big endian, then the
 *						fraction; printed as UTC with +00
 *	TIME2				3 bytes big endian offset by 0x800000 (sign, hour 10
 *						bits, minute 6, second 6), then the fraction
 *	VARCHAR, CHAR		length in 1 byte (max length < 256) or 2, bytes
 *	BLOB kinds, JSON, GEOMETRY	length in (metadata) bytes, bytes
 *	BIT(n)				(n+7)/8 bytes big endian
 *	ENUM				index in 1 or 2 bytes; SET: bitmask in 1-8 bytes
 *
 * Columns marked want_binary whose type maps to a PostgreSQL type with a
 * simple send format (bl_binary_type: int2/int4/int8, float4/float8,
 * date, timestamp, timestamptz, bytea) are decoded to that send format
 * instead (big endian; dates and timestamps from 2000-01-01); a value the
 * target type could not hold (an invalid or zero date) stays text, so
 * that the target's input function judges it.
 *
 * Strings of a binary collation become bytea text (\x...), BINARY padded
 * back to its length with zero bytes (the binlog strips them); other
 * strings are returned raw with needs_charset set, for the caller to
 * convert from the column's character set.  Zero and partial dates are
 * returned as MySQL prints them with is_zero_date set, for the caller's
 * zero_date policy.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include "catalog/pg_type_d.h"

#include "common/shortest_dec.h"
#include "source/binlog.h"
#include "source/mysql_value.h"

static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

/*
 * bl_type_name: a column type's name, for messages.
 */
const char *
bl_type_name(uint8 type)
{
	switch (type)
	{
		case MT_TINY: return "TINYINT";
		case MT_SHORT: return "SMALLINT";
		case MT_INT24: return "MEDIUMINT";
		case MT_LONG: return "INT";
		case MT_LONGLONG: return "BIGINT";
		case MT_FLOAT: return "FLOAT";
		case MT_DOUBLE: return "DOUBLE";
		case MT_NEWDECIMAL: return "DECIMAL";
		case MT_YEAR: return "YEAR";
		case MT_DATE: case MT_NEWDATE: return "DATE";
		case MT_TIME: case MT_TIME2: return "TIME";
		case MT_DATETIME: case MT_DATETIME2: return "DATETIME";
		case MT_TIMESTAMP: case MT_TIMESTAMP2: return "TIMESTAMP";
		case MT_VARCHAR: case MT_VAR_STRING: return "VARCHAR";
		case MT_STRING: return "CHAR";
		case MT_BLOB: case MT_TINY_BLOB: case MT_MEDIUM_BLOB: case MT_LONG_BLOB: return "BLOB";
		case MT_JSON: return "JSON";
		case MT_GEOMETRY: return "GEOMETRY";
		case MT_BIT: return "BIT";
		case MT_ENUM: return "ENUM";
		case MT_SET: return "SET";
		case MT_NULL: return "NULL";
		default: return "unknown";
	}
}

/*
 * bytea_text: bytes as bytea's hex input, zero-padded to pad bytes.
 */
static void
bytea_text(BinlogValue *v, const uint8 *p, uint32 len, uint32 pad)
{
	StringInfoData buf;

	/* sized exactly: a value is written once */
	buf.maxlen = 2 + (int) Max(len, pad) * 2 + 1;
	buf.data = palloc(buf.maxlen);
	buf.len = 0;
	buf.cursor = 0;
	myv_bytea(&buf, p, len, pad, false);
	v->data = buf.data;
	v->len = buf.len;
}

/*
 * set_text: a value from a palloc'd string.
 */
static void
set_text(BinlogValue *v, char *s)
{
	v->data = s;
	v->len = strlen(s);
}

/*
 * value_width: how many bytes a non-NULL value of a column takes, reading
 * a length prefix where there is one; -1 when the data is too short.
 */
static int64
value_width(const BinlogColumn *col, const uint8 *p, const uint8 *end, int *prefix)
{
	int64		avail = end - p;

	*prefix = 0;
	switch (col->type)
	{
		case MT_TINY: return 1;
		case MT_SHORT: return 2;
		case MT_INT24: return 3;
		case MT_LONG: return 4;
		case MT_LONGLONG: return 8;
		case MT_FLOAT: return 4;
		case MT_DOUBLE: return 8;
		case MT_YEAR: return 1;
		case MT_DATE: case MT_NEWDATE: return 3;
		case MT_TIME: return 3;
		case MT_TIMESTAMP: return 4;
		case MT_DATETIME: return 8;
		case MT_TIMESTAMP2: return 4 + (col->meta + 1) / 2;
		case MT_DATETIME2: return 5 + (col->meta + 1) / 2;
		case MT_TIME2: return 3 + (col->meta + 1) / 2;
		case MT_NEWDECIMAL:
			{
				int			prec = col->meta & 0xff;
				int			scale = col->meta >> 8;
				int			intg = prec - scale;

				if (prec < 1 || prec > 65 || scale > 30 || scale > prec)
					return -1;
				return (intg / 9) * 4 + dig2bytes[intg % 9] + (scale / 9) * 4 + dig2bytes[scale % 9];
			}
		case MT_BIT:
			return (col->meta >> 8) + ((col->meta & 0xff) ? 1 : 0);
		case MT_ENUM:
			return col->meta;
		case MT_SET:
			return col->meta;
		case MT_VARCHAR:
		case MT_VAR_STRING:
		case MT_STRING:
			*prefix = col->meta < 256 ? 1 : 2;
			if (avail < *prefix)
				return -1;
			return *prefix + (int64) bl_le_uint(p, *prefix);
		case MT_BLOB:
		case MT_TINY_BLOB:
		case MT_MEDIUM_BLOB:
		case MT_LONG_BLOB:
		case MT_JSON:
		case MT_GEOMETRY:
			*prefix = col->meta;
			if (*prefix < 1 || *prefix > 4 || avail < *prefix)
				return -1;
			return *prefix + (int64) bl_le_uint(p, *prefix);
		default:
			return -1;
	}
}

/*
 * bl_binary_type: the PostgreSQL type (DESIGN §5) whose send format a
 * column's values can be decoded to, or InvalidOid for text.
 */
Oid
bl_binary_type(const BinlogColumn *col)
{
	switch (col->type)
	{
		case MT_TINY:
		case MT_YEAR:
			return INT2OID;
		case MT_SHORT:
			return col->is_unsigned ? INT4OID : INT2OID;
		case MT_INT24:
			return INT4OID;
		case MT_LONG:
			return col->is_unsigned ? INT8OID : INT4OID;
		case MT_LONGLONG:
			return col->is_unsigned ? InvalidOid : INT8OID;
		case MT_FLOAT:
			return FLOAT4OID;
		case MT_DOUBLE:
			return FLOAT8OID;
		case MT_DATE:
		case MT_NEWDATE:
			return DATEOID;
		case MT_DATETIME2:
			return TIMESTAMPOID;
		case MT_TIMESTAMP2:
			return TIMESTAMPTZOID;
		case MT_VARCHAR:
		case MT_VAR_STRING:
		case MT_STRING:
		case MT_BLOB:
		case MT_TINY_BLOB:
		case MT_MEDIUM_BLOB:
		case MT_LONG_BLOB:
			return col->collation == BL_COLLATION_BINARY ? BYTEAOID : InvalidOid;
		default:
			return InvalidOid;
	}
}

/*
 * set_be: an n-byte big-endian value as the value's data.
 */
static void
set_be(BinlogValue *v, uint64 x, int n)
{
	char	   *s = palloc(n);

	for (int i = n - 1; i >= 0; i--, x >>= 8)
		s[i] = (char) (x & 0xff);
	v->data = s;
	v->len = n;
	v->binary = true;
}

/* days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 */
#define PG_EPOCH_DAYS	10957

/*
 * decode_binary: a value in the send format of bl_binary_type, when the
 * column asks for it and the value fits; false leaves it to the text path.
 */
/*
 * set_int: a little-endian integer of nbytes (1 to 4), sign-extended
 * unless unsigned, in the send format of the PostgreSQL integer of width
 * bytes its column maps to (an unsigned type takes the next wider one).
 */
static inline void
set_int(BinlogValue *v, const uint8 *p, int nbytes, bool is_unsigned, int width)
{
	uint64		u = bl_le_uint(p, nbytes);
	int			shift = 64 - 8 * nbytes;

	set_be(v, is_unsigned ? u : (uint64) (((int64) (u << shift)) >> shift), width);
}

static bool
decode_binary(const BinlogColumn *col, const uint8 *p, int64 w, int prefix, BinlogValue *v)
{
	Oid			type;

	if (!col->want_binary || (type = bl_binary_type(col)) == InvalidOid)
		return false;
	switch (col->type)
	{
		case MT_TINY:
			set_int(v, p, 1, col->is_unsigned, 2);
			return true;
		case MT_YEAR:
			set_be(v, (uint64) (p[0] == 0 ? 0 : 1900 + p[0]), 2);
			return true;
		case MT_SHORT:
			set_int(v, p, 2, col->is_unsigned, col->is_unsigned ? 4 : 2);
			return true;
		case MT_INT24:
			set_int(v, p, 3, col->is_unsigned, 4);
			return true;
		case MT_LONG:
			set_int(v, p, 4, col->is_unsigned, col->is_unsigned ? 8 : 4);
			return true;
		case MT_LONGLONG:
			set_be(v, bl_le_uint(p, 8), 8);
			return true;
		case MT_FLOAT:
			set_be(v, bl_le_uint(p, 4), 4);
			return true;
		case MT_DOUBLE:
			set_be(v, bl_le_uint(p, 8), 8);
			return true;
		case MT_DATE:
		case MT_NEWDATE:
			{
				BinlogDateTime dt;

				bl_unpack_date(p, &dt);
				if (!bl_valid_date(dt.year, dt.month, dt.day))
					return false;
				set_be(v, (uint64) (int64) (bl_days_from_civil(dt.year, dt.month, dt.day) - PG_EPOCH_DAYS), 4);
				return true;
			}
		case MT_DATETIME2:
			{
				int64		intpart = (int64) bl_be_uint(p, 5) - INT64CONST(0x8000000000);
				BinlogDateTime dt;

				if (intpart < 0)
					return false;
				bl_unpack_datetime(intpart, &dt);
				if (!bl_valid_date(dt.year, dt.month, dt.day) ||
					dt.hour > 23 || dt.minute > 59 || dt.second > 59)
					return false;
				set_be(v, (uint64) ((bl_days_from_civil(dt.year, dt.month, dt.day) - PG_EPOCH_DAYS) * INT64CONST(86400000000) +
									(int64) (dt.hour * 3600 + dt.minute * 60 + dt.second) * 1000000 +
									bl_frac_usec(p + 5, col->meta)), 8);
				return true;
			}
		case MT_TIMESTAMP2:
			{
				int64		secs = (int64) bl_be_uint(p, 4);
				uint32		usec = bl_frac_usec(p + 4, col->meta);

				if (secs == 0 && usec == 0)
					return false;	/* the zero timestamp: zero_date decides */
				set_be(v, (uint64) ((secs - (int64) PG_EPOCH_DAYS * 86400) * 1000000 + usec), 8);
				return true;
			}
		default:
			{
				/* bytea: the bytes themselves, BINARY padded back with zeros */
				uint32		n = (uint32) (w - prefix);
				uint32		pad = col->type == MT_STRING ? col->meta : 0;
				char	   *s = palloc0(Max(n, pad) + 1);

				memcpy(s, p + prefix, n);
				v->data = s;
				v->len = Max(n, pad);
				v->binary = true;
				return true;
			}
	}
}

/*
 * float_text: a FLOAT (single) or DOUBLE as PostgreSQL's float4/float8
 * print it: shortest exact digits, NaN and the infinities spelled out.
 * buf holds at least 64 bytes.
 */
static void
float_text(char *buf, double d, bool single)
{
	if (isnan(d) || isinf(d))
		snprintf(buf, 64, "%s", isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"));
	else if (single)
		float_to_shortest_decimal_buf((float) d, buf);
	else
		double_to_shortest_decimal_buf(d, buf);
}

/*
 * decode_value: one non-NULL value of width w (prefix bytes of length).
 */
static bool
decode_value(const BinlogColumn *col, const uint8 *p, int64 w, int prefix, BinlogValue *v, char **err)
{
	char		buf[64];

	if (decode_binary(col, p, w, prefix, v))
		return true;
	switch (col->type)
	{
		case MT_TINY:
			snprintf(buf, sizeof(buf), "%d", col->is_unsigned ? (int) p[0] : (int) (int8) p[0]);
			break;
		case MT_SHORT:
			snprintf(buf, sizeof(buf), "%d", col->is_unsigned ? (int) bl_le_uint(p, 2) : (int) (int16) bl_le_uint(p, 2));
			break;
		case MT_INT24:
			{
				uint32		u = (uint32) bl_le_uint(p, 3);
				int32		s = (u & 0x800000) ? (int32) (u | 0xff000000) : (int32) u;

				snprintf(buf, sizeof(buf), "%d", col->is_unsigned ? (int32) u : s);
				break;
			}
		case MT_LONG:
			if (col->is_unsigned)
				snprintf(buf, sizeof(buf), "%u", (uint32) bl_le_uint(p, 4));
			else
				snprintf(buf, sizeof(buf), "%d", (int32) bl_le_uint(p, 4));
			break;
		case MT_LONGLONG:
			if (col->is_unsigned)
				snprintf(buf, sizeof(buf), UINT64_FORMAT, bl_le_uint(p, 8));
			else
				snprintf(buf, sizeof(buf), INT64_FORMAT, (int64) bl_le_uint(p, 8));
			break;
		case MT_FLOAT:
			{
				uint32		u = (uint32) bl_le_uint(p, 4);
				float		f;

				memcpy(&f, &u, 4);
				float_text(buf, f, true);
				break;
			}
		case MT_DOUBLE:
			{
				uint64		u = bl_le_uint(p, 8);
				double		d;

				memcpy(&d, &u, 8);
				float_text(buf, d, false);
				break;
			}
		case MT_NEWDECIMAL:
			{
				char	   *text;

				if (!bl_decimal_text(p, col->meta & 0xff, col->meta >> 8, (int) w, &text, err))
					return false;
				set_text(v, text);
				return true;
			}
		case MT_YEAR:
			snprintf(buf, sizeof(buf), "%d", p[0] == 0 ? 0 : 1900 + p[0]);
			break;
		case MT_DATE:
		case MT_NEWDATE:
			{
				BinlogDateTime dt;

				bl_unpack_date(p, &dt);
				snprintf(buf, sizeof(buf), "%04d-%02d-%02d", dt.year, dt.month, dt.day);
				v->is_zero_date = (dt.year == 0 || dt.month == 0 || dt.day == 0);
				break;
			}
		case MT_DATETIME2:
			{
				int64		intpart = (int64) bl_be_uint(p, 5) - INT64CONST(0x8000000000);
				BinlogDateTime dt;

				if (intpart < 0)
				{
					*err = pstrdup("negative DATETIME value");
					return false;
				}
				bl_unpack_datetime(intpart, &dt);
				snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d%s", dt.year, dt.month, dt.day,
						 dt.hour, dt.minute, dt.second, bl_frac_text(bl_frac_usec(p + 5, col->meta), col->meta));
				v->is_zero_date = (dt.year == 0 || dt.month == 0 || dt.day == 0);
				break;
			}
		case MT_DATETIME:
			{
				uint64		u = bl_le_uint(p, 8);
				uint64		d = u / 1000000;
				uint64		t = u % 1000000;

				snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d",
						 (int) (d / 10000), (int) (d / 100 % 100), (int) (d % 100),
						 (int) (t / 10000), (int) (t / 100 % 100), (int) (t % 100));
				v->is_zero_date = (d / 10000 == 0 || d / 100 % 100 == 0 || d % 100 == 0);
				break;
			}
		case MT_TIMESTAMP2:
		case MT_TIMESTAMP:
			{
				int64		secs = col->type == MT_TIMESTAMP2 ? (int64) bl_be_uint(p, 4) : (int64) bl_le_uint(p, 4);
				uint32		usec = col->type == MT_TIMESTAMP2 ? bl_frac_usec(p + 4, col->meta) : 0;
				int			fsp = col->type == MT_TIMESTAMP2 ? col->meta : 0;
				int			y;
				int			m;
				int			d;

				if (secs == 0 && usec == 0)
				{
					snprintf(buf, sizeof(buf), "0000-00-00 00:00:00");
					v->is_zero_date = true;
					break;
				}
				bl_civil_from_days(secs / 86400, &y, &m, &d);
				snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d%s+00", y, m, d,
						 (int) (secs % 86400 / 3600), (int) (secs % 3600 / 60), (int) (secs % 60),
						 bl_frac_text(usec, fsp));
				break;
			}
		case MT_TIME2:
			{
				int			fsp = col->meta;
				int64		intpart = (int64) bl_be_uint(p, 3) - 0x800000;
				int64		packed;
				int64		hms;
				bool		neg;

				switch ((fsp + 1) / 2)
				{
					case 1:
					case 2:
						{
							/*
							 * 1 byte of hundredths or 2 of ten-thousandths;
							 * negative values keep the fraction in reverse
							 * order
							 */
							int			nbytes = (fsp + 1) / 2;
							int			frac = (int) bl_be_uint(p + 3, nbytes);

							if (intpart < 0 && frac)
							{
								intpart++;
								frac -= 1 << (8 * nbytes);
							}
							packed = intpart * INT64CONST(16777216) + frac * (nbytes == 1 ? 10000 : 100);
							break;
						}
					case 3:
						packed = (int64) bl_be_uint(p, 6) - INT64CONST(0x800000000000);
						break;
					default:
						packed = intpart * INT64CONST(16777216);
						break;
				}
				neg = packed < 0;
				if (neg)
					packed = -packed;
				hms = packed >> 24;
				snprintf(buf, sizeof(buf), "%s%02d:%02d:%02d%s", neg ? "-" : "",
						 (int) ((hms >> 12) % 1024), (int) ((hms >> 6) % 64), (int) (hms % 64),
						 bl_frac_text((uint32) (packed % (1 << 24)), fsp));
				break;
			}
		case MT_TIME:
			{
				uint32		u = (uint32) bl_le_uint(p, 3);
				int32		s = (u & 0x800000) ? (int32) (u | 0xff000000) : (int32) u;
				bool		neg = s < 0;

				if (neg)
					s = -s;
				snprintf(buf, sizeof(buf), "%s%02d:%02d:%02d", neg ? "-" : "",
						 s / 10000, s / 100 % 100, s % 100);
				break;
			}
		case MT_BIT:
			{
				int			nbits = (col->meta >> 8) * 8 + (col->meta & 0xff);
				StringInfoData buf;

				buf.maxlen = nbits + 1;
				buf.data = palloc(buf.maxlen);
				buf.len = 0;
				buf.cursor = 0;
				buf.data[0] = '\0';
				myv_bits(&buf, p, (size_t) w, nbits);
				v->data = buf.data;
				v->len = buf.len;
				return true;
			}
		case MT_ENUM:
			{
				uint32		idx = (uint32) bl_le_uint(p, (int) w);

				if (idx == 0)
				{
					set_text(v, pstrdup(""));
					return true;
				}
				if (col->labels == NULL || idx > (uint32) col->nlabels)
				{
					*err = psprintf("ENUM index %u has no label", idx);
					return false;
				}
				v->needs_charset = true;
				set_text(v, pstrdup(col->labels[idx - 1]));
				return true;
			}
		case MT_SET:
			{
				uint64		mask = bl_le_uint(p, (int) w);
				StringInfoData s;

				initStringInfo(&s);
				for (int i = 0; i < 64 && mask != 0; i++, mask >>= 1)
				{
					if ((mask & 1) == 0)
						continue;
					if (col->labels == NULL || i >= col->nlabels)
					{
						*err = psprintf("SET member %d has no label", i + 1);
						return false;
					}
					if (s.len > 0)
						appendStringInfoChar(&s, ',');
					appendStringInfoString(&s, col->labels[i]);
				}
				v->needs_charset = true;
				v->data = s.data;
				v->len = s.len;
				return true;
			}
		case MT_JSON:
			{
				StringInfoData s;

				initStringInfo(&s);
				if (w - prefix == 0)
					appendStringInfoString(&s, "null");
				else if (!bl_json_to_text(p + prefix, w - prefix, &s, err))
					return false;
				v->data = s.data;
				v->len = s.len;
				return true;
			}
		case MT_GEOMETRY:
			{
				const uint8 *wkb;
				size_t		wkb_len;

				if (!myv_geometry_wkb(p + prefix, (size_t) (w - prefix), &wkb, &wkb_len))
				{
					*err = pstrdup("GEOMETRY value shorter than its SRID");
					return false;
				}
				bytea_text(v, wkb, (uint32) wkb_len, 0);
				return true;
			}
		case MT_VARCHAR:
		case MT_VAR_STRING:
		case MT_STRING:
		case MT_BLOB:
		case MT_TINY_BLOB:
		case MT_MEDIUM_BLOB:
		case MT_LONG_BLOB:
			if (col->collation == BL_COLLATION_BINARY)
			{
				bytea_text(v, p + prefix, (uint32) (w - prefix), col->type == MT_STRING ? col->meta : 0);
				return true;
			}
			/* the bytes as they are (pnstrdup would stop at a NUL byte) */
			v->needs_charset = true;
			v->len = (uint32) (w - prefix);
			v->data = palloc(v->len + 1);
			memcpy(v->data, p + prefix, v->len);
			v->data[v->len] = '\0';
			return true;
		default:
			*err = psprintf("column type %u is not supported", col->type);
			return false;
	}
	set_text(v, pstrdup(buf));
	return true;
}

/*
 * bl_read_row: one row image of a rows event, advancing *p past it.
 * values has one entry per column of the table map; columns not present
 * in the image come back as NULL.
 */
bool
bl_read_row(const BinlogTableMap *map, const uint8 *present, const uint8 **p, const uint8 *end,
			BinlogValue *values, char **err)
{
	const uint8 *s = *p;
	const uint8 *nulls;
	int			npresent = 0;
	int			k = 0;

	for (int i = 0; i < map->ncolumns; i++)
		if (present[i / 8] & (1 << (i % 8)))
			npresent++;
	/* an image of no column takes no bytes: a reader would never get past it */
	if (npresent == 0)
	{
		*err = pstrdup("row image has no columns");
		return false;
	}
	if (end - s < (npresent + 7) / 8)
	{
		*err = pstrdup("row image lacks its null bitmap");
		return false;
	}
	nulls = s;
	s += (npresent + 7) / 8;
	for (int i = 0; i < map->ncolumns; i++)
	{
		const BinlogColumn *col = &map->columns[i];
		BinlogValue *v = &values[i];
		int64		w;
		int			prefix;

		memset(v, 0, sizeof(*v));
		v->isnull = true;
		if ((present[i / 8] & (1 << (i % 8))) == 0)
			continue;
		if (nulls[k / 8] & (1 << (k % 8)))
		{
			k++;
			continue;
		}
		k++;
		w = value_width(col, s, end, &prefix);
		if (w < 0 || w > end - s)
		{
			*err = psprintf("row image is truncated in column %d (%s)", i + 1, bl_type_name(col->type));
			return false;
		}
		v->isnull = false;
		if (!decode_value(col, s, w, prefix, v, err))
		{
			char	   *inner = *err;

			*err = psprintf("column %d (%s): %s", i + 1, bl_type_name(col->type), inner);
			return false;
		}
		s += w;
	}
	*p = s;
	return true;
}
