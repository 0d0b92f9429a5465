/*-------------------------------------------------------------------------
 *
 * mysql_value.c
 *		Renderings of MySQL values that both MySQL paths share: binary
 *		strings as bytea, BIT(n) as a bit string, GEOMETRY as the bytes of
 *		its WKB, and the test for a zero date.  Pure functions of their
 *		input, built for the backend and for the fuzzers (FRONTEND).
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "source/mysql_value.h"

/*
 * myv_bytea: bytes as bytea's hex input ("\x0a1b"), zero-padded to pad
 * bytes (BINARY(n): the binlog strips trailing zeros).  copy_text doubles
 * the backslash, as COPY's text format wants it.
 */
void
myv_bytea(StringInfo out, const uint8 *p, size_t len, size_t pad, bool copy_text)
{
	static const char hex[] = "0123456789abcdef";
	size_t		n = Max(len, pad);

	appendStringInfoString(out, copy_text ? "\\\\x" : "\\x");
	enlargeStringInfo(out, (int) (n * 2));
	for (size_t i = 0; i < n; i++)
	{
		uint8		b = i < len ? p[i] : 0;

		out->data[out->len++] = hex[b >> 4];
		out->data[out->len++] = hex[b & 15];
	}
	out->data[out->len] = '\0';
}

/*
 * myv_bits: BIT(nbits) from its big-endian bytes (the last nbits bits are
 * the value; missing leading bytes are zero) as a string of nbits digits.
 */
void
myv_bits(StringInfo out, const uint8 *p, size_t len, int nbits)
{
	for (int b = nbits - 1; b >= 0; b--)
	{
		size_t		back = (size_t) (b / 8);
		int			bit = (back < len) ? (p[len - 1 - back] >> (b % 8)) & 1 : 0;

		appendStringInfoChar(out, bit ? '1' : '0');
	}
}

/*
 * myv_geometry_wkb: the WKB of a GEOMETRY value, which MySQL stores after
 * a 4-byte SRID; false when the value is too short to hold one.
 */
bool
myv_geometry_wkb(const uint8 *p, size_t len, const uint8 **wkb, size_t *wkb_len)
{
	if (len < 4)
		return false;
	*wkb = p + 4;
	*wkb_len = len - 4;
	return true;
}

/*
 * myv_is_zero_date: whether a DATE, DATETIME or TIMESTAMP as MySQL prints
 * it ("2024-00-10 ...") has a zero year, month or day.
 */
bool
myv_is_zero_date(const char *text, size_t len)
{
	if (len < 10)
		return false;
	return strncmp(text, "0000", 4) == 0 || strncmp(text + 5, "00", 2) == 0 ||
		strncmp(text + 8, "00", 2) == 0;
}
