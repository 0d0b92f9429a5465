/*-------------------------------------------------------------------------
 *
 * binlog_formats.c
 *		The storage formats of binlog row values that take arithmetic:
 *		integers of n bytes, MySQL's packed DECIMAL, the fractions of
 *		temporal values, DATE and DATETIME2 fields, and day counts to
 *		dates and back.  Used by the row decoder (binlog_rows.c) and the
 *		binary JSON decoder (binlog_json.c); built for the backend and the
 *		fuzzers (FRONTEND).
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "source/binlog.h"

static const int dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
static const uint64 pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
100000000, 1000000000};


/*
 * bl_be_uint: n bytes big endian.
 */
uint64
bl_be_uint(const uint8 *p, int n)
{
	uint64		v = 0;

	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * bl_le_uint: n bytes little endian.
 */
uint64
bl_le_uint(const uint8 *p, int n)
{
	uint64		v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * bl_decimal_text: MySQL's packed DECIMAL(prec, scale) of size bytes.
 */
bool
bl_decimal_text(const uint8 *p, int prec, int scale, int size, char **text, char **err)
{
	int			intg = prec - scale;
	int			intg0 = intg / 9;
	int			intg0x = intg % 9;
	int			frac0 = scale / 9;
	int			frac0x = scale % 9;
	uint8		buf[40];
	bool		neg = (p[0] & 0x80) == 0;
	/* sign, digit groups, point, NUL: room even for groups out of range */
	char	   *out = palloc(2 + (intg0 + 1 + frac0 + 1) * 10 + 2);
	char	   *o = out;
	const uint8 *q = buf;
	bool		started = false;

	if (size > (int) sizeof(buf))
	{
		*err = pstrdup("DECIMAL value too long");
		return false;
	}
	memcpy(buf, p, size);
	buf[0] ^= 0x80;
	if (neg)
		for (int i = 0; i < size; i++)
			buf[i] ^= 0xff;
	if (neg)
		*o++ = '-';
	/* integer part: leftover digits first, then groups of 9 */
	if (intg0x > 0)
	{
		uint64		d = bl_be_uint(q, dig2bytes[intg0x]);

		q += dig2bytes[intg0x];
		if (d >= pow10[intg0x])
		{
			*err = pstrdup("DECIMAL value has an invalid digit group");
			return false;
		}
		if (d != 0)
		{
			o += sprintf(o, "%u", (unsigned) d);
			started = true;
		}
	}
	for (int i = 0; i < intg0; i++)
	{
		uint64		d = bl_be_uint(q, 4);

		q += 4;
		if (d > 999999999)
		{
			*err = pstrdup("DECIMAL value has an invalid digit group");
			return false;
		}
		if (started)
			o += sprintf(o, "%09u", (unsigned) d);
		else if (d != 0)
		{
			o += sprintf(o, "%u", (unsigned) d);
			started = true;
		}
	}
	if (!started)
		*o++ = '0';
	if (scale > 0)
	{
		*o++ = '.';
		for (int i = 0; i < frac0; i++)
		{
			uint64		d = bl_be_uint(q, 4);

			q += 4;
			if (d > 999999999)
			{
				*err = pstrdup("DECIMAL value has an invalid digit group");
				return false;
			}
			o += sprintf(o, "%09u", (unsigned) d);
		}
		if (frac0x > 0)
		{
			uint64		d = bl_be_uint(q, dig2bytes[frac0x]);

			if (d >= pow10[frac0x])
			{
				*err = pstrdup("DECIMAL value has an invalid digit group");
				return false;
			}
			o += sprintf(o, "%0*u", frac0x, (unsigned) d);
		}
	}
	*o = '\0';
	*text = out;
	return true;
}

/*
 * bl_frac_usec: the fraction of a temporal value with fsp digits, stored in
 * (fsp+1)/2 bytes big endian, as microseconds.
 */
uint32
bl_frac_usec(const uint8 *p, int fsp)
{
	switch ((fsp + 1) / 2)
	{
		case 1:
			return (uint32) p[0] * 10000;
		case 2:
			return (uint32) bl_be_uint(p, 2) * 100;
		case 3:
			return (uint32) bl_be_uint(p, 3);
		default:
			return 0;
	}
}

/*
 * bl_frac_text: ".ffffff" cut to fsp digits, or "" when the column has no
 * fraction.
 */
char *
bl_frac_text(uint32 usec, int fsp)
{
	char		buf[16];

	if (fsp <= 0)
		return pstrdup("");
	fsp = Min(fsp, 6);			/* TABLE_MAP refuses more; be safe anyway */
	snprintf(buf, sizeof(buf), ".%06u", usec % 1000000);
	buf[1 + fsp] = '\0';
	return pstrdup(buf);
}

/*
 * bl_civil_from_days: the proleptic Gregorian date of a day count since
 * 1970-01-01.
 */
void
bl_civil_from_days(int64 z, int *y, int *m, int *d)
{
	int64		era;
	int64		doe;
	int64		yoe;
	int64		doy;
	int64		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = (int) (yoe + era * 400 + (*m <= 2));
}

/*
 * bl_unpack_datetime: the fields of DATETIME2's integer part (also the
 * integer part of the packed temporal values inside binary JSON):
 * year*13+month 17 bits, day 5, hour 5, minute 6, second 6.
 */
void
bl_unpack_datetime(int64 intpart, BinlogDateTime *dt)
{
	int64		ymd = intpart >> 17;
	int64		ym = ymd >> 5;
	int64		hms = intpart % (1 << 17);

	dt->year = (int) (ym / 13);
	dt->month = (int) (ym % 13);
	dt->day = (int) (ymd % 32);
	dt->hour = (int) (hms >> 12);
	dt->minute = (int) ((hms >> 6) % 64);
	dt->second = (int) (hms % 64);
}

/*
 * bl_unpack_date: the fields of a 3-byte DATE (day 5 bits, month 4, year).
 */
void
bl_unpack_date(const uint8 *p, BinlogDateTime *dt)
{
	uint32		u = (uint32) bl_le_uint(p, 3);

	memset(dt, 0, sizeof(*dt));
	dt->day = u & 31;
	dt->month = (u >> 5) & 15;
	dt->year = u >> 9;
}

/*
 * bl_days_from_civil: days from 1970-01-01 to a proleptic Gregorian date.
 */
int64
bl_days_from_civil(int y, int m, int d)
{
	int64		era;
	int64		yoe;
	int64		doy;
	int64		doe;

	y -= (m <= 2);
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * bl_valid_date: whether a year, month and day make a real date.
 */
bool
bl_valid_date(int y, int m, int d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			last;

	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	last = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	return d <= last;
}
